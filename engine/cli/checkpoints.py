"""`denialflow audit checkpoint` and the checkpoint half of `denialflow audit verify`.

A missing key, file or topic is one line naming the setting or path, exit 2; a finding is exit 1.
"""

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from engine.audit.checkpoints import (
    Checkpointer,
    CheckpointError,
    export,
    read_file,
    read_topic,
    require_key,
    verify_with_checkpoints,
)
from engine.cli.common import DbOpt, settings
from engine.config import Settings
from engine.storage.db import make_engine

TOPIC = "topic"
CheckpointsOpt = Annotated[
    str | None,
    typer.Option(
        "--checkpoints",
        metavar="FILE|topic",
        help="also prove the log against signed checkpoints: a JSON-lines FILE (from `audit checkpoint --export`),"
        " or `topic` for DENIALFLOW_CHECKPOINTS_TOPIC read to its end",
    ),
]


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def audit_checkpoint(
    database_url: DbOpt = None,
    export_to: Annotated[
        Path | None, typer.Option("--export", metavar="FILE", help="then write every checkpoint as JSON lines")
    ] = None,
) -> None:
    """Sign the audit chains' heads now (published by the relay); --export writes all checkpoints to FILE."""
    s = settings(database_url)
    try:
        key = require_key(s)
    except CheckpointError as exc:
        _fail(str(exc))
    engine = make_engine(s.database_url)
    made = Checkpointer(engine, key, s.checkpoints_topic).checkpoint("on demand", even_if_empty=True)
    for record in made:
        typer.echo(f"checkpoint {record['seq']}: {record['denials']} denials, {record['entries']} entries signed")
    if export_to is not None:
        with engine.connect() as conn:
            typer.echo(f"{export(conn, export_to)} checkpoints written to {export_to}")
    engine.dispose()
    if not made:
        typer.echo("no checkpoint made: another was being made, or a long transaction held the denials table")
        raise typer.Exit(1)


def verify_checkpoints(s: Settings, source: str) -> int:
    """`audit verify --checkpoints SOURCE`: print the verdict; return the exit code."""
    try:
        key = require_key(s)
        lines = read_topic(s) if source == TOPIC else read_file(Path(source))
    except CheckpointError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"--checkpoints {source}: {exc.strerror}")
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        verdict = verify_with_checkpoints(conn, lines, key)
    engine.dispose()
    typer.echo(
        f"{verdict.checkpoints} checkpoints signing {verdict.signed_denials} denials; "
        f"{verdict.entries_checked} audit entries checked"
    )
    for finding in verdict.findings:
        typer.echo(f"FINDING {finding}")
    if verdict.chain_break is not None:
        typer.echo(f"audit log BROKEN: {verdict.chain_break}")
    if not verdict.ok:
        return 1
    typer.echo("audit log intact and matches every signed checkpoint")
    return 0
