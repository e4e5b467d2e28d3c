"""What every command shares: the common options, and settings with logging set up and the
broker and database resolved (option, environment, the running embedded engine, default)."""

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from engine.config import Settings
from engine.logs import configure
from engine.netcheck import broker_admin
from engine.runtime_file import with_running_engine

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
    s = Settings(**{k: v for k, v in given.items() if v is not None})
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
