"""The `denialflow` command line. Settings come from DENIALFLOW_* variables;
the options here override the two that change most often."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from consumers.denial_events import run as run_worker
from engine import store
from engine.audit import verify
from engine.config import Settings
from engine.db import make_engine, upgrade
from engine.embedded import run_embedded
from engine.errors import NotFound, Rejected
from engine.events import partition_key
from engine.kafka import ensure_topics, make_producer
from engine.logs import configure
from engine.outbox import run as run_relay
from engine.render import denial_json, denial_text
from engine.replay import replay
from workflows.diagram import mermaid

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Denial management workflow engine.")
audit_app = typer.Typer(no_args_is_help=True, help="Verify and replay the audit log.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics.")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")

DbOpt = Annotated[str | None, typer.Option("--database-url", help="overrides DENIALFLOW_DATABASE_URL")]
KafkaOpt = Annotated[str | None, typer.Option("--bootstrap-servers", help="overrides DENIALFLOW_BOOTSTRAP_SERVERS")]


def settings(database_url: str | None = None, bootstrap_servers: str | None = None, **more: Any) -> Settings:
    given = {"database_url": database_url, "bootstrap_servers": bootstrap_servers, **more}
    s = Settings(**{k: v for k, v in given.items() if v is not None})
    configure(s.log_level, s.log_format)
    return s


@app.command()
def run(
    denials: Annotated[int, typer.Option(help="demo denials to feed")] = 60,
    database_url: DbOpt = None,
    fresh: Annotated[bool, typer.Option(help="delete the SQLite file first")] = False,
) -> None:
    """Main job on embedded defaults: bundled broker, SQLite file, demo feed, worker, summary."""
    s = settings(database_url, log_level="WARNING")
    raise typer.Exit(run_embedded(s, denials=denials, fresh=fresh))


@app.command()
def worker(database_url: DbOpt = None, bootstrap_servers: KafkaOpt = None) -> None:
    """Consume denials.events until SIGTERM (the batch in hand is finished first)."""
    run_worker(settings(database_url, bootstrap_servers))


@app.command()
def relay(database_url: DbOpt = None, bootstrap_servers: KafkaOpt = None) -> None:
    """Publish committed outbox rows (change feed, dead letters) until SIGTERM."""
    run_relay(settings(database_url, bootstrap_servers))


@app.command()
def publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="one JSON event per line")],
    bootstrap_servers: KafkaOpt = None,
    raw: Annotated[bool, typer.Option(help="send lines as they are, unvalidated (to exercise the DLQ)")] = False,
) -> None:
    """Publish a JSONL file of events to denials.events, keyed by denial id."""
    s = settings(bootstrap_servers=bootstrap_servers)
    messages: list[tuple[bytes | None, bytes]] = []
    errors = []
    for number, line in enumerate(file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            messages.append((partition_key(json.loads(line)), line.encode()))
        except (ValueError, Rejected) as exc:
            if not raw:
                errors.append(f"{file}:{number}: {exc}")
            messages.append((None, line.encode()))
    if errors:
        errors.append(f"nothing published: {len(errors)} invalid line(s); --raw sends them anyway")
        typer.echo("\n".join(errors))
        raise typer.Exit(2)
    producer = make_producer(s)
    for key, value in messages:
        producer.send(s.events_topic, key=key, value=value)
    producer.flush()
    producer.close()
    typer.echo(f"published {len(messages)} events to {s.events_topic}")


def _denial_and_history(database_url: str | None, denial_id: str) -> tuple[Any, list[dict[str, Any]]]:
    engine = make_engine(settings(database_url).database_url)
    with engine.connect() as conn:
        try:
            return store.get_denial(conn, denial_id), store.history(conn, denial_id)
        except NotFound:
            typer.echo(f"no denial {denial_id}", err=True)
            raise typer.Exit(1) from None


@app.command()
def show(
    denial_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
) -> None:
    """A denial's state, owner, touches and full history (patient data masked)."""
    denial, entries = _denial_and_history(database_url, denial_id)
    typer.echo(json.dumps(denial_json(denial, entries), indent=2) if as_json else denial_text(denial, entries))


@audit_app.command("verify")
def audit_verify(database_url: DbOpt = None) -> None:
    """Check every denial's hash chain; exit 1 naming the first broken entry."""
    engine = make_engine(settings(database_url).database_url)
    with engine.connect() as conn:
        checked, broken = verify(conn)
    if broken:
        typer.echo(f"audit log BROKEN after {checked} entries: {broken}")
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {checked} entries verified")


@audit_app.command("replay")
def audit_replay(denial_id: str, database_url: DbOpt = None) -> None:
    """Re-run a denial's recorded events from nothing; exit 1 if it does not reach the stored state."""
    stored, entries = _denial_and_history(database_url, denial_id)
    report = replay(stored, entries)
    typer.echo("\n".join(report.lines))
    if not report.ok:
        typer.echo("REPLAY MISMATCH:\n  " + "\n  ".join(report.mismatches))
        raise typer.Exit(1)
    typer.echo(f"replay reaches the stored state: {stored.state} (seq {stored.audit_seq})")


@app.command()
def diagram() -> None:
    """Print the denial lifecycle as a Mermaid state diagram (generated from the machine)."""
    typer.echo(mermaid(), nl=False)


@db_app.command("upgrade")
def db_upgrade(database_url: DbOpt = None) -> None:
    """Apply the schema migrations (safe to repeat)."""
    upgrade(settings(database_url).database_url)
    typer.echo("schema at head")


@topics_app.command("create")
def topics_create(bootstrap_servers: KafkaOpt = None) -> None:
    """Create denials.events, denials.transitions and denials.dlq if missing."""
    created = ensure_topics(settings(bootstrap_servers=bootstrap_servers))
    typer.echo(f"created: {', '.join(created)}" if created else "topics already exist")


def main() -> None:
    app(prog_name="denialflow")


if __name__ == "__main__":
    main()
