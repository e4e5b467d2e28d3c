"""Commands that bring data in: 835 files, authorization records, the X12 code lists."""

import json
from pathlib import Path
from typing import Annotated

import typer
from kafka import KafkaProducer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.authorizations import InvalidFile, read_authorizations
from engine.cli_common import KafkaOpt, console, settings
from engine.config import Settings
from engine.ingest import FileResult, Summary, files_in, ingest_file
from engine.kafka import ensure_topics, make_producer
from workflows.classification import carc_rules
from workflows.codes import KINDS, current_codes, read_download, write_list

auth_app = typer.Typer(no_args_is_help=True, help="Authorization records (the checklist's input).")
codes_app = typer.Typer(no_args_is_help=True, help="The X12 CARC/RARC code lists.")


class _Publisher:
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
            ("denials", total.denials), ("reversals", total.reversals),
            ("skipped adjustments (cost share, contractual, informational)", total.skipped_adjustments),
            ("denied claims without reasons", total.denied_without_reasons),
            ("refused files", len(summary.refused))]  # fmt: skip
    for name, value in rows:
        table.add_row(name, f"{value:,}")
    return table


def ingest(
    paths: Annotated[list[Path], typer.Argument(exists=True, help="835 files or directories of them")],
    bootstrap_servers: KafkaOpt = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON (for automation)")] = False,
) -> None:
    """Publish one denial.received event per denial found in X12 835 files (all or nothing per file)."""
    summary = ingest_paths(paths, settings(bootstrap_servers=bootstrap_servers, broker=True), quiet or as_json)
    print_summary(summary, as_json)
    if summary.refused:
        raise typer.Exit(1)


def ingest_paths(paths: list[Path], s: Settings, quiet: bool = False) -> Summary:
    """Ingest every file named or under a directory named, each confirmed by the broker before the next
    (shared by `denialflow ingest` and `denialflow run --ingest`)."""
    files = list(files_in(paths))
    ensure_topics(s)
    publisher = _Publisher(make_producer(s), s.events_topic)
    summary = Summary()
    stderr = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, disable=quiet, transient=True) as progress:
        task = progress.add_task("ingesting", total=sum(f.stat().st_size for f in files))
        for path in files:
            progress.update(task, description=path.name[:40])
            result: FileResult = ingest_file(path, publisher)
            publisher.confirm()
            summary.files.append(result)
            progress.advance(task, path.stat().st_size)
    publisher.producer.close()
    return summary


def print_summary(summary: Summary, as_json: bool = False) -> None:
    """The summary table (or JSON) on stdout, each refused file on stderr."""
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
    else:
        console().print(_summary_table(summary))
    for refused in summary.refused:
        typer.echo(f"REFUSED {refused.path}: {refused.error}", err=True)


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
    publisher = _Publisher(make_producer(s), s.events_topic)
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
