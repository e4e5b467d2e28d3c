"""`denialflow parked`: the messages the relay could never send (`engine.runtime.parked`), and putting
one back in the outbox once its cause is fixed (a larger broker limit, a created topic)."""

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from engine.cli.common import DbOpt, settings
from engine.errors import NotFound
from engine.runtime import parked
from engine.storage.db import make_engine

parked_app = typer.Typer(no_args_is_help=True, help="Messages the relay parked because the broker refused them.")


@parked_app.command("list")
def parked_list(database_url: DbOpt = None) -> None:
    """Every parked message, oldest first: id, when, topic, size and the broker's reason."""
    engine = make_engine(settings(database_url).database_url)
    with engine.connect() as conn:
        rows = parked.listing(conn)
    engine.dispose()
    if not rows:
        typer.echo("no parked messages")
    for r in rows:
        typer.echo(f"{r.id}  {r.parked_at:%Y-%m-%d %H:%M:%S}  {r.topic}  {r.size} bytes  {r.reason}")


@parked_app.command("show")
def parked_show(parked_id: int, database_url: DbOpt = None) -> None:
    """One parked message as JSON (key and value in base64)."""
    engine = make_engine(settings(database_url).database_url)
    try:
        with engine.connect() as conn:
            typer.echo(json.dumps(parked.show(conn, parked_id), indent=2))
    except NotFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@parked_app.command("requeue")
def parked_requeue(
    parked_id: int,
    database_url: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="the cause is fixed: send it again")] = False,
) -> None:
    """Put a parked message back in the outbox, for the relay to try again."""
    if not yes:
        typer.echo("requeue sends the message again: fix its cause first, then pass --yes", err=True)
        raise typer.Exit(2)
    engine = make_engine(settings(database_url).database_url)
    try:
        with engine.begin() as conn:
            outbox_id = parked.requeue(conn, parked_id, datetime.now(UTC))
    except NotFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"parked message {parked_id} is outbox row {outbox_id}: the relay sends it next")
