"""What every command shares: the two common options and settings with logging set up."""

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from engine.config import Settings
from engine.logs import configure

DbOpt = Annotated[str | None, typer.Option("--database-url", help="overrides DENIALFLOW_DATABASE_URL")]
KafkaOpt = Annotated[str | None, typer.Option("--bootstrap-servers", help="overrides DENIALFLOW_BOOTSTRAP_SERVERS")]
HostOpt = Annotated[str | None, typer.Option("--host", help="web app address; overrides DENIALFLOW_WEB_HOST")]
PortOpt = Annotated[int | None, typer.Option("--port", help="web app port; overrides DENIALFLOW_WEB_PORT")]


def settings(database_url: str | None = None, bootstrap_servers: str | None = None, **more: Any) -> Settings:
    given = {"database_url": database_url, "bootstrap_servers": bootstrap_servers, **more}
    s = Settings(**{k: v for k, v in given.items() if v is not None})
    configure(s.log_level, s.log_format)
    return s


def console() -> Console:
    """Wide enough for ids when piped (rich assumes 80 columns off a terminal)."""
    return Console() if sys.stdout.isatty() else Console(width=180)
