"""The `denialflow` command line. Settings come from DENIALFLOW_* variables;
the options here override the two that change most often.

Each long-running process (worker, relay, timers, remits, web app, embedded engine) is
imported by its own command, so starting one loads none of the others."""

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.audit.chain import AUTHORIZATION_CHAINS, verify
from engine.audit.replay import replay
from engine.cli.checkpoints import TOPIC, CheckpointsOpt, audit_checkpoint, verify_checkpoints
from engine.cli.common import DbOpt, HostOpt, KafkaOpt, NowOpt, PortOpt, console, parse_day, settings
from engine.cli.intake import auth_app, codes_app, ingest
from engine.cli.parked import parked_app
from engine.cli.prevention import claims_app
from engine.cli.queries import escalations, payers, queue, report_app, reviews, stuck, triage
from engine.clock import clock_from
from engine.errors import NotFound, Rejected
from engine.intake.events import Role, partition_key
from engine.read.render import denial_json, denial_text
from engine.runtime.health import Health, LagReader, consumer_groups, report
from engine.runtime.kafka import ensure_topics, make_producer
from engine.runtime.netcheck import listen_error
from engine.storage import store
from engine.storage.db import make_engine, upgrade
from engine.web.tokens import create_token, list_tokens, revoke_token
from workflows.diagram import mermaid

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Denial management workflow engine.")
audit_app = typer.Typer(no_args_is_help=True, help="Verify and replay the audit log.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics.")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
app.add_typer(auth_app, name="auth")
app.add_typer(codes_app, name="codes")
app.add_typer(report_app, name="report")
app.add_typer(parked_app, name="parked")
app.add_typer(claims_app, name="claims")
app.command()(ingest)
app.command()(reviews)
app.command()(triage)
app.command()(escalations)
app.command()(stuck)
app.command()(queue)
app.command()(payers)


@app.command()
def run(
    denials: Annotated[int, typer.Option(help="demo denials to feed")] = 60,
    database_url: DbOpt = None,
    fresh: Annotated[bool, typer.Option(help="delete the SQLite file first")] = False,
    now: NowOpt = None,
    serve: Annotated[bool, typer.Option(help="after the summary, keep the engine and the web app running")] = True,
    host: HostOpt = None,
    port: PortOpt = None,
    own: Annotated[
        list[Path] | None,
        typer.Option("--ingest", exists=True, help="your 835 files or folders, ingested after the demo (repeatable)"),
    ] = None,
) -> None:
    """Main job on embedded defaults: bundled broker, SQLite file, demo feed, 835, timers, worker, summary;
    then the dashboard and the engine keep running until Ctrl-C (--no-serve stops after the summary)."""
    from engine.demo.embedded import run_embedded

    s = settings(database_url, find_engine=False, log_level="WARNING", now=now, web_host=host, web_port=port)
    if serve and (why := listen_error(s.web_host, s.web_port)):
        typer.echo(f"cannot serve the dashboard on {s.web_host}:{s.web_port}: {why} (pick another: --port P)", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_embedded(s, denials=denials, fresh=fresh, serve=serve, ingest=own or []))


@app.command()
def worker(database_url: DbOpt = None, bootstrap_servers: KafkaOpt = None) -> None:
    """Consume denials.events until SIGTERM (the batch in hand is finished first)."""
    from consumers.denial_events import run as run_worker

    run_worker(settings(database_url, bootstrap_servers, broker=True))


@app.command()
def remits(database_url: DbOpt = None, bootstrap_servers: KafkaOpt = None) -> None:
    """Turn raw 835 files on clearinghouse.remits into denial events until SIGTERM (ingest records, quarantine)."""
    from consumers.clearinghouse_remits import run as run_remits

    run_remits(settings(database_url, bootstrap_servers, broker=True))


@app.command()
def timers(
    bootstrap_servers: KafkaOpt = None,
    database_url: DbOpt = None,
    now: NowOpt = None,
) -> None:
    """Fire due escalation timers as events on denials.events until SIGTERM."""
    from engine.runtime.timers import run as run_timers

    run_timers(settings(database_url, bootstrap_servers, now=now, broker=True))


@app.command()
def simulate(
    days: Annotated[int, typer.Option(min=1, max=3650, help="days to move the clock forward, one at a time")] = 30,
    start: Annotated[
        date | None, typer.Option(parser=parse_day, help="first day (YYYY-MM-DD); default: the latest event's day")
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Move the clock day by day over the demo store: timers fire, the worker escalates (run `denialflow run` first)."""
    from engine.demo.simulate import simulate as run_simulation

    s = settings(database_url, log_level="WARNING")
    raise typer.Exit(run_simulation(s, days, start))


tokens_app = typer.Typer(no_args_is_help=True, help="API tokens for the web API.")
app.add_typer(tokens_app, name="tokens")
RoleArg = Annotated[Role, typer.Option(help="staff, lead, auditor or admin")]


@tokens_app.command("create")
def tokens_create(
    name: str,
    role: RoleArg = Role.STAFF,
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="the token ends after N days")] = None,
    database_url: DbOpt = None,
) -> None:
    """Make a token for NAME with a role; it is printed once and stored only as a hash."""
    if role == Role.SYSTEM:
        typer.echo("the system role is for the engine's own processes, not API callers", err=True)
        raise typer.Exit(2)
    s = settings(database_url)
    engine = make_engine(s.database_url)
    try:
        now = clock_from(s.now)()
        token = create_token(engine, name, role, now, now + timedelta(days=expires_days) if expires_days else None)
    except IntegrityError:
        typer.echo(f"a token named {name!r} exists; revoke it first", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(token)


@tokens_app.command("list")
def tokens_list(database_url: DbOpt = None) -> None:
    """Token names, roles, and when they were made or revoked (never the tokens)."""
    engine = make_engine(settings(database_url).database_url)
    for name, role, created, revoked, expires in list_tokens(engine):
        ended = f"  revoked {revoked:%Y-%m-%d}" if revoked else f"  expires {expires:%Y-%m-%d}" if expires else ""
        typer.echo(f"{name:<24} {role:<8} created {created:%Y-%m-%d}{ended}")
    engine.dispose()


@tokens_app.command("revoke")
def tokens_revoke(name: str, database_url: DbOpt = None) -> None:
    """Revoke NAME's token: its next request gets a 401."""
    s = settings(database_url)
    engine = make_engine(s.database_url)
    done = revoke_token(engine, name, clock_from(s.now)())
    engine.dispose()
    if not done:
        typer.echo(f"no live token named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name}")


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None, database_url: DbOpt = None, bootstrap_servers: KafkaOpt = None
          ) -> None:  # fmt: skip
    """The web app: dashboard, denial pages, audit, JSON API (OpenAPI at /docs); every request needs a
    token (`denialflow tokens create`)."""
    from engine.web.app import create_app
    from engine.web.server import serve as run_server

    s = settings(database_url, bootstrap_servers, web_host=host, web_port=port, broker=True)
    run_server(create_app(s), s.web_host, s.web_port)


@app.command()
def relay(database_url: DbOpt = None, bootstrap_servers: KafkaOpt = None) -> None:
    """Publish committed outbox rows (change feed, dead letters) until SIGTERM."""
    from engine.runtime.outbox import run as run_relay

    run_relay(settings(database_url, bootstrap_servers, broker=True))


@app.command()
def publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="one JSON event per line")],
    bootstrap_servers: KafkaOpt = None,
    raw: Annotated[bool, typer.Option(help="send lines as they are, unvalidated (to exercise the DLQ)")] = False,
) -> None:
    """Publish a JSONL file of events to denials.events, keyed by denial id."""
    s = settings(bootstrap_servers=bootstrap_servers, broker=True)
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
            denial = store.get_denial(conn, denial_id)
            return denial, store.history(conn, denial.id)
        except NotFound as exc:
            typer.echo(f"no denial {exc}", err=True)
            raise typer.Exit(1) from None


@app.command()
def show(
    denial_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
) -> None:
    """A denial's state, owner, touches and full history (patient data masked)."""
    denial, entries = _denial_and_history(database_url, denial_id)
    today = clock_from(settings(database_url).now)().date()
    shown = (
        json.dumps(denial_json(denial, entries, today), indent=2) if as_json else denial_text(denial, entries, today)
    )
    typer.echo(shown)


@audit_app.command("verify")
def audit_verify(database_url: DbOpt = None, checkpoints: CheckpointsOpt = None) -> None:
    """Check every denial's and every authorization's hash chain; exit 1 naming the first broken entry.
    --checkpoints: also check the signed checkpoints and that the database still holds every signed
    head (denials); exit 1 on any finding."""
    if checkpoints is not None:
        raise typer.Exit(verify_checkpoints(settings(database_url, broker=checkpoints == TOPIC), checkpoints))
    engine = make_engine(settings(database_url).database_url)
    with engine.connect() as conn:
        checked, broken = verify(conn)
        if broken is None:
            more, broken = verify(conn, chains=AUTHORIZATION_CHAINS)
            checked += more
    if broken:
        typer.echo(f"audit log BROKEN after {checked} entries: {broken}")
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {checked} entries verified")


audit_app.command("checkpoint")(audit_checkpoint)


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
def status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output (what /healthz answers)")] = False,
    database_url: DbOpt = None,
    bootstrap_servers: KafkaOpt = None,
) -> None:
    """Each engine process alive or not, its consumer lag, the outbox's backlog and parked messages;
    exit 1 when an expected process is dead or missing, or a message is parked."""
    s = settings(database_url, bootstrap_servers)
    reader = LagReader(s.bootstrap_servers)
    lag = reader.read(consumer_groups(s))
    reader.close()
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        health = report(conn, s, clock_from(s.now)(), lag)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps(health.as_dict()))
    else:
        console().print(_status_table(health))
    if health.problems():
        raise typer.Exit(1)


def _status_table(health: Health) -> Table:
    table = Table(title=f"engine status at {health.checked_at:%Y-%m-%d %H:%M:%S} UTC")
    for name in ("process", "kind", "state", "alive", "last beat", "lag"):
        table.add_column(name)
    for p in health.processes:
        alive = "yes" if p["alive"] else ("DEAD" if p["expected"] else "no (not expected)")
        table.add_row(p["name"], p["kind"], p["state"], alive, f"{p['beat_age_s']:.0f} s ago",
                      "-" if p["lag"] is None else str(p["lag"]))  # fmt: skip
    lag = ", ".join(f"{g} {v['behind']} behind on {v['topic']}" for g, v in (health.lag or {}).items())
    oldest = f", the oldest {health.outbox_oldest_s:.0f} s old" if health.outbox_oldest_s is not None else ""
    table.caption = "\n".join([f"consumer lag: {lag or 'unknown (no broker answered)'}",
                               f"outbox: {health.outbox_pending} row(s) pending{oldest}; parked: {health.parked}",
                               "; ".join(health.problems()) or "healthy"])  # fmt: skip
    return table


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
    created = ensure_topics(settings(bootstrap_servers=bootstrap_servers, broker=True))
    typer.echo(f"created: {', '.join(created)}" if created else "topics already exist")


def main() -> None:
    """The CLI; a database that cannot be reached is one line saying where and why, exit 2."""
    try:
        app(prog_name="denialflow")
    except OperationalError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        if "no such table" in first:  # SQLite: a file, but never migrated
            typer.echo(f"the database has no denialflow schema ({first}): run `denialflow db upgrade`", err=True)
        else:
            typer.echo(f"cannot reach the database: {first} (check --database-url / DENIALFLOW_DATABASE_URL)", err=True)
        raise SystemExit(2) from None
