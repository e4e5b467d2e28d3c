"""What every command shares: the common options, and settings with logging set up and the
broker and database resolved (option, environment, the running embedded engine, default)."""

import sys
from collections.abc import Collection
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from engine.config import Settings
from engine.logs import configure
from engine.runtime.netcheck import broker_admin
from engine.runtime.runtime_file import with_running_engine

DbOpt = Annotated[str | None, typer.Option("--database-url", help="overrides DENIALFLOW_DATABASE_URL")]
KafkaOpt = Annotated[str | None, typer.Option("--bootstrap-servers", help="overrides DENIALFLOW_BOOTSTRAP_SERVERS")]
HostOpt = Annotated[str | None, typer.Option("--host", help="web app address; overrides DENIALFLOW_WEB_HOST")]
PortOpt = Annotated[int | None, typer.Option("--port", help="web app port; overrides DENIALFLOW_WEB_PORT")]


def settings(
    database_url: str | None = None,
    bootstrap_servers: str | None = None,
    *,
    broker: bool = False,
    find_engine: bool = True,
    **more: Any,
) -> Settings:
    """Options given win over the environment, which wins over the running `denialflow run`
    (its runtime file; ``find_engine=False`` for `run` itself), which wins over the defaults.
    ``broker=True``: the command needs Kafka, so exit 2 with one line now if none answers."""
    given = {"database_url": database_url, "bootstrap_servers": bootstrap_servers, **more}
    try:
        s = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        _bad_settings(exc, {k for k, v in given.items() if v is not None})
    configure(s.log_level, s.log_format)
    if find_engine:
        s = with_running_engine(s)
    if broker:
        require_broker(s.bootstrap_servers)
    return s


def require_broker(bootstrap_servers: str) -> None:
    """Exit 2 naming the address unless a Kafka broker answers there (within ~3 s)."""
    admin = broker_admin(bootstrap_servers)
    if admin is None:
        typer.echo(
            f"no Kafka broker at {bootstrap_servers}: start the embedded engine with scripts/run, "
            "or pass --bootstrap-servers HOST:PORT",
            err=True,
        )
        raise typer.Exit(2)
    admin.close()


def console() -> Console:
    """Wide enough for ids when piped (rich assumes 80 columns off a terminal)."""
    return Console() if sys.stdout.isatty() else Console(width=180)


def _bad_settings(exc: ValidationError, given: Collection[str]) -> NoReturn:
    """One line per bad value, naming the option or DENIALFLOW_ variable it came from; exit 2."""
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        source = f"--{name.replace('_', '-')}" if name in given else f"DENIALFLOW_{name.upper()}"
        typer.echo(f"{source}: {error['msg']} (got {error.get('input')!r})", err=True)
    raise typer.Exit(2)


#: The window every date a person types must fall in (the event schema's own bounds).
YEARS = (1900, 2100)


def _in_window(value: str, year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise typer.BadParameter(f"{value!r} is outside {YEARS[0]}-{YEARS[1]}")


def parse_day(value: str) -> date:
    """A YYYY-MM-DD option value, or a usage error naming the expected form (exit 2)."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; expected YYYY-MM-DD") from None
    _in_window(value, day.year)
    return day


def parse_moment(value: str) -> str:
    """An ISO 8601 moment with its UTC offset (the engine's clock), checked and passed on as given."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a moment; expected e.g. 2026-11-01T09:00:00+00:00") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no UTC offset; expected e.g. 2026-11-01T09:00:00+00:00")
    _in_window(value, moment.year)
    return value


NowOpt = Annotated[str | None, typer.Option(parser=parse_moment, help="the clock, e.g. 2026-11-01T09:00:00+00:00")]
