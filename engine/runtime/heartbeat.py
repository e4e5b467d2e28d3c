"""Each engine process's heartbeat in `engine_processes`: the truth `/healthz` and
`denialflow status` tell.

A process beats from its own loop, so a beat proves the loop turns, not merely that the
process exists. Beats are throttled to one per ``every_s`` unless the state changes (a
change is written at once, and logged once). A beat that cannot be written (the database is
away) is dropped: the staleness of the last one is what tells the reader.
"""

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from engine.storage.models import EngineProcess

PROCESSES = EngineProcess.__table__
log = structlog.get_logger("denialflow.heartbeat")
#: How often a running process beats, and how many missed beats make it dead.
EVERY_S = 5.0
MISSED_BEATS = 4


class Heartbeat:
    """One process's beats. ``name`` is unique per process (kind, host and pid by default)."""

    def __init__(
        self,
        engine: Engine,
        kind: str,
        name: str | None = None,
        every_s: float = EVERY_S,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.kind = kind
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.name = name or f"{kind}@{self.host}:{self.pid}"
        self.every_s = every_s
        self._now = now
        self.started_at = now()
        self.state = ""
        self._last = 0.0

    def beat(self, state: str = "running", **detail: Any) -> None:
        """Record ``state`` (and figures such as lag) if it changed or a beat is due."""
        changed = state != self.state
        if not changed and time.monotonic() - self._last < self.every_s:
            return
        if changed:
            log.info("process.state", process=self.name, state=state, was=self.state or None)
        self.state = state
        self._last = time.monotonic()
        row = {"name": self.name, "kind": self.kind, "host": self.host, "pid": self.pid,
               "started_at": self.started_at, "beat_at": self._now(), "state": state, "detail": detail}  # fmt: skip
        try:
            with self.engine.begin() as conn:
                _upsert(conn, row)
        except SQLAlchemyError:
            self._last = 0.0  # try again on the next beat; the reader sees the last one age


def _upsert(conn: Connection, row: Mapping[str, Any]) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(PROCESSES).values(**row)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={k: stmt.excluded[k] for k in row}))


@dataclass(frozen=True, slots=True)
class ProcessHealth:
    name: str
    kind: str
    state: str
    beat_at: datetime
    alive: bool
    detail: dict[str, Any]


def processes(conn: Connection, now: datetime, every_s: float = EVERY_S) -> list[ProcessHealth]:
    """Every process that ever beat, with ``alive``: beat within ``MISSED_BEATS`` intervals and not stopped."""
    cutoff = now - timedelta(seconds=every_s * MISSED_BEATS)
    rows = conn.execute(select(PROCESSES).order_by(PROCESSES.c.kind, PROCESSES.c.name))
    out = []
    for r in rows:
        beat_at = r.beat_at if r.beat_at.tzinfo else r.beat_at.replace(tzinfo=UTC)
        alive = beat_at >= cutoff and r.state != "stopped"
        out.append(ProcessHealth(r.name, r.kind, r.state, beat_at, alive, dict(r.detail or {})))
    return out
