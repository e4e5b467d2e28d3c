"""Run the web app with uvicorn until SIGTERM/SIGINT, then return normally."""

import signal
import socket
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it listens: what a caller prints then is true."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_ready()


def serve(app: FastAPI, host: str, port: int, on_ready: Callable[[], None] = lambda: None) -> None:
    """uvicorn shuts down on Ctrl-C or SIGTERM, then re-raises the signal to the handler it
    found; a no-op there lets the caller finish its own shutdown and exit 0, instead of a
    traceback (SIGINT) or being killed by the default action (SIGTERM). ``on_ready`` runs
    once the port is listening."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    _Server(uvicorn.Config(app, host=host, port=port, log_level="warning"), on_ready).run()
