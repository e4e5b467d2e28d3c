"""Commands that bring data in: 835 files, authorization records, the X12 code lists."""

import json
from pathlib import Path
from typing import Annotated

import typer
from kafka import KafkaProducer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.cli.common import DbOpt, KafkaOpt, console, settings
from engine.clock import clock_from
from engine.config import Settings
from engine.errors import NotFound
from engine.intake import ingest_records, quarantine
from engine.intake.authorizations import InvalidFile, read_authorizations
from engine.intake.ingest import FileResult, Summary, files_in, ingest_file, ingest_stream
from engine.intake.x12.denials import Tally
from engine.runtime.kafka import ensure_topics, make_producer
from engine.storage.db import make_engine
from workflows.classification import carc_rules
from workflows.codes import KINDS, current_codes, read_download, write_list
from workflows.payers import PayerPolicies

auth_app = typer.Typer(no_args_is_help=True, help="Authorization records (the checklist's input).")
codes_app = typer.Typer(no_args_is_help=True, help="The X12 CARC/RARC code lists.")


class Publisher:
    """Sends to one topic and checks, file by file, that every send was acknowledged."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer, self.topic, self.futures = producer, topic, []  # type: ignore[var-annotated]

    def __call__(self, key: bytes, value: bytes) -> None:
        self.futures.append(self.producer.send(self.topic, key=key, value=value))

    def confirm(self) -> None:
        self.producer.flush()
        failed = next((f for f in self.futures if f.failed()), None)
        self.futures = []
        if failed is not None:
            raise typer.Exit(_fail(f"publishing to {self.topic} failed: {failed.exception}; re-run: ids repeat"))


def _fail(message: str) -> int:
    typer.echo(message, err=True)
    return 3


def _summary_table(summary: Summary) -> Table:
    total = summary.total
    table = Table(title="835 ingest", show_header=False)
    rows = [("files", len(summary.files)), ("claims", total.claims), ("paid lines", total.paid_lines),
            ("denials", total.denials), ("payer answers (paid lines and claims)", total.answers),
            ("reversals", total.reversals), ("predeterminations (never denials)", total.predeterminations),
            ("skipped adjustments (cost share, contractual, informational)", total.skipped_adjustments),
            ("denied claims without reasons", total.denied_without_reasons),
            ("claim lines two claims resolved to (kept apart, for review)", total.collisions),
            ("the same adjudication sent again (deduplicated)", total.repeats),
            ("envelope and balancing warnings", sum(sum(f.warning_counts.values()) for f in summary.files)),
            ("refused files", len(summary.refused))]  # fmt: skip
    for name, value in rows:
        table.add_row(name, f"{value:,}")
    return table


def _codes(result: FileResult) -> str:
    return ", ".join(code if n == 1 else f"{code} x{n}" for code, n in result.warning_counts.items())


def _warnings_table(summary: Summary) -> Table:
    table = Table(title="accepted with warnings (denialflow ingest --json lists each)")
    for column in ("file", "sha256", "warnings"):
        table.add_column(column)
    for f in summary.warned:
        if f.error is None:
            table.add_row(Path(f.path).name, (f.digest or "")[:12], _codes(f))
    return table


def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(exists=True, help="835 files or directories of them; with --release: the fixed file"),
    ] = None,
    bootstrap_servers: KafkaOpt = None,
    database_url: DbOpt = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON (for automation)")] = False,
    list_quarantine: Annotated[bool, typer.Option("--quarantine", help="list the refused files in quarantine")] = False,
    release: Annotated[
        str | None, typer.Option(metavar="DIGEST", help="re-ingest a quarantined file's fix and release it")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="why the file may be released (with --release)")] = None,
    actor: Annotated[str | None, typer.Option(help="the lead releasing it (with --release)")] = None,
) -> None:
    """Publish one denial.received event per denial found in X12 835 files (all or nothing per file);
    list (--quarantine) or release (--release) the refused files kept in quarantine."""
    if list_quarantine:
        _list_quarantine(settings(database_url), as_json)
        return
    s = settings(database_url, bootstrap_servers, broker=True)
    if release is not None:
        fixed = paths or []
        if len(fixed) > 1 or not reason or not actor:
            typer.echo("--release DIGEST needs --reason TEXT --actor NAME and at most one fixed FILE", err=True)
            raise typer.Exit(2)
        _release(s, release, fixed[0] if fixed else None, actor, reason, as_json)
        return
    if not paths:
        typer.echo("name 835 files or directories (or --quarantine, or --release DIGEST)", err=True)
        raise typer.Exit(2)
    summary = ingest_paths(paths, s, quiet or as_json)
    print_summary(summary, as_json)
    if summary.refused:
        raise typer.Exit(1)


def _capitated(s: Settings) -> frozenset[str]:
    return PayerPolicies.load(s.payers_file).capitated_payers


def _remember(db: Engine, s: Settings, result: FileResult, original: Path) -> None:
    try:
        quarantine.remember(db, quarantine.directory(s), result, original, clock_from(s.now)())
    except (SQLAlchemyError, OSError) as exc:
        why = f"{result.path} was read but its ingest record could not be written ({exc})"
        raise typer.Exit(_fail(f"{why}; check the database (denialflow db upgrade) and re-run: ids repeat")) from None


def _list_quarantine(s: Settings, as_json: bool) -> None:
    db = make_engine(s.database_url)
    with db.connect() as conn:
        rows = ingest_records.recent(conn, limit=1000, status=ingest_records.REFUSED)
    db.dispose()
    if as_json:
        listed = [{"digest": r.digest, "file": r.file_name, "first_seen_at": r.first_seen_at.isoformat(),
                   "last_seen_at": r.last_seen_at.isoformat(), "error": r.error} for r in rows]  # fmt: skip
        typer.echo(json.dumps(listed))
        return
    table = Table(title=f"quarantined 835 files ({quarantine.directory(s)})")
    for column in ("sha256", "file", "last seen"):
        table.add_column(column, no_wrap=True)
    table.add_column("why refused")
    for r in rows:
        table.add_row(r.digest, Path(r.file_name).name, f"{r.last_seen_at:%Y-%m-%d %H:%M}", r.error)
    console().print(table)


def _release(s: Settings, digest: str, fixed: Path | None, actor: str, reason: str, as_json: bool) -> None:
    """Re-ingest the fix (or the quarantined copy, fixed in place); only if it parses and its
    events are acknowledged does the quarantined record become released."""
    db = make_engine(s.database_url)
    with db.connect() as conn:
        try:
            held = ingest_records.find(conn, digest)
        except NotFound as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    if held.status != ingest_records.REFUSED:
        typer.echo(f"{held.digest} is {held.status}, not in quarantine", err=True)
        raise typer.Exit(1)
    source = fixed or quarantine.kept(quarantine.directory(s), held.digest)
    ensure_topics(s)
    publisher = Publisher(make_producer(s), s.events_topic)
    try:
        with source.open("rb") as stream:
            name = str(fixed) if fixed else held.file_name
            result = ingest_stream(stream, name, publisher, capitated=_capitated(s))
        if result.error is None:
            publisher.confirm()
    except OSError as exc:
        result = FileResult(str(source), Tally(), error=f"cannot read {source}: {exc.strerror}")
    finally:
        publisher.producer.close()
    if result.error is not None:
        typer.echo(f"still refused, nothing changed: {result.error}", err=True)
        raise typer.Exit(1)
    now = clock_from(s.now)()
    with db.begin() as conn:  # released first: a fix with the same bytes must not read as a new file
        released = ingest_records.mark_released(conn, held.digest, result.digest or "", actor, reason, now)
        ingest_records.record(conn, result, now)
    db.dispose()
    summary = Summary([result])
    print_summary(summary, as_json)
    if not released:
        typer.echo(f"{held.digest} was released by someone else meanwhile; its fix was published again", err=True)
        raise typer.Exit(1)
    typer.echo(f"released {held.digest[:12]} ({held.file_name}) as {(result.digest or '')[:12]} by {actor}: {reason}",
               err=True)  # fmt: skip


def ingest_paths(paths: list[Path], s: Settings, quiet: bool = False) -> Summary:
    """Ingest every file named or under a directory named, each confirmed by the broker before the next
    (shared by `denialflow ingest` and `denialflow run --ingest`)."""
    files = list(files_in(paths))
    ensure_topics(s)
    publisher = Publisher(make_producer(s), s.events_topic)
    db = make_engine(s.database_url)
    capitated = _capitated(s)
    summary = Summary()
    stderr = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, disable=quiet, transient=True) as progress:
        task = progress.add_task("ingesting", total=sum(f.stat().st_size for f in files))
        for path in files:
            progress.update(task, description=path.name[:40])
            result: FileResult = ingest_file(path, publisher, capitated=capitated)
            publisher.confirm()
            _remember(db, s, result, path)
            summary.files.append(result)
            progress.advance(task, path.stat().st_size)
    publisher.producer.close()
    db.dispose()
    return summary


def print_summary(summary: Summary, as_json: bool = False) -> None:
    """The summary table (or JSON) on stdout, each refused file on stderr with its digest and the
    warnings found before the refusal."""
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
    else:
        console().print(_summary_table(summary))
        if any(f.error is None for f in summary.warned):
            console().print(_warnings_table(summary))
    for refused in summary.refused:
        found = f"; warnings: {_codes(refused)}" if refused.warnings else ""
        kept = f" (sha256 {refused.digest[:12]}, quarantined{found})" if refused.digest else ""
        typer.echo(f"REFUSED {refused.path}: {refused.error}{kept}", err=True)


@auth_app.command("import")
def auth_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, one authorization a row")],
    actor: Annotated[str, typer.Option(help="who recorded them (audit)")] = "auth-import",
    bootstrap_servers: KafkaOpt = None,
) -> None:
    """Publish authorization.recorded events from a CSV (nothing if any row is invalid)."""
    s = settings(bootstrap_servers=bootstrap_servers, broker=True)
    try:
        events = read_authorizations(file, actor)
    except InvalidFile as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    ensure_topics(s)
    publisher = Publisher(make_producer(s), s.events_topic)
    for event in events:
        publisher(event.key.encode(), event.model_dump_json(exclude_none=True).encode())
    publisher.confirm()
    publisher.producer.close()
    typer.echo(f"published {len(events)} authorization records to {s.events_topic}")


@codes_app.command("refresh")
def codes_refresh(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="downloaded CARC/RARC lists")],
) -> None:
    """Replace the packaged CARC/RARC lists with downloaded ones; list current CARCs with no mapping."""
    for path in files:
        try:
            lists = read_download(path)
        except (ValueError, KeyError) as exc:
            typer.echo(f"{path}: {exc}", err=True)
            raise typer.Exit(2) from None
        for kind in KINDS:
            if kind in lists:
                written = write_list(kind, lists[kind])
                typer.echo(f"{kind}: {written} codes, {len(current_codes(kind))} current")
    unmapped = sorted(current_codes("carc") - set(carc_rules()))
    if unmapped:
        typer.echo(f"current CARCs with no mapping in carc_categories.csv: {', '.join(unmapped)}", err=True)
        raise typer.Exit(1)
    typer.echo("every current CARC is mapped")
