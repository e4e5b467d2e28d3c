"""Run the web app with uvicorn until SIGTERM/SIGINT, then return normally."""

import signal

import uvicorn
from fastapi import FastAPI


def serve(app: FastAPI, host: str, port: int) -> None:
    """uvicorn shuts down on Ctrl-C or SIGTERM, then re-raises the signal to the handler it
    found; a no-op there lets the caller finish its own shutdown and exit 0, instead of a
    traceback (SIGINT) or being killed by the default action (SIGTERM)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
