"""SQLite's WAL checkpoints, taken out of the worker's commits.

SQLite copies the write-ahead log back into the database file (a checkpoint, with its
fsyncs) inside whichever commit finds the log past 1,000 pages. A worker batch writes about
that much, so nearly every batch paid for one: 19 of its 27 us an event of commit time
(bench.throughput, SQLite). The worker's connections turn that off (`make_engine(...,
checkpoints=False)`) and nudge this thread after each commit instead; it runs a PASSIVE
checkpoint on its own connection beside the next batch (sqlite3 lets go of the GIL while
SQLite works), which never blocks the writer or a reader. Durability is unchanged: a commit
is in the log either way. The other processes keep SQLite's own checkpoints, a backstop
should this thread fall behind or stop.
"""

import threading

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from engine.storage.db import make_engine

log = structlog.get_logger("denialflow.wal")


def writer_engine(url: str) -> tuple[Engine, "WalCheckpointer | None"]:
    """The engine of a process whose commits are its hot path (the worker, the benchmark's
    floor) and, on SQLite, the checkpointer those commits nudge."""
    if not url.startswith("sqlite"):
        return make_engine(url), None
    engine = make_engine(url, checkpoints=False)
    return engine, WalCheckpointer(engine)


class WalCheckpointer:
    """One background thread, started by the first nudge, stopped by `close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.checkpoints = 0  # finished so far (tests wait on it)
        self._wanted = threading.Condition()
        self._pending = False
        self._closing = False
        self._thread: threading.Thread | None = None

    def nudge(self) -> None:
        """A commit just grew the log: checkpoint it soon (one pending request at most)."""
        with self._wanted:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
                self._thread.start()
            self._pending = True
            self._wanted.notify()

    def close(self) -> None:
        """Checkpoint what is pending, then stop the thread."""
        with self._wanted:
            thread, self._thread = self._thread, None
            self._closing = True
            self._wanted.notify()
        if thread is not None:
            thread.join()

    def wait_for(self, checkpoints: int, timeout_s: float) -> bool:
        """Whether ``checkpoints`` have finished within ``timeout_s`` (for tests and benchmarks)."""
        with self._wanted:
            return self._wanted.wait_for(lambda: self.checkpoints >= checkpoints, timeout_s)

    def _run(self) -> None:
        while True:
            with self._wanted:
                self._wanted.wait_for(lambda: self._pending or self._closing)
                if not self._pending:
                    return
                self._pending = False
            self._checkpoint()
            with self._wanted:
                self.checkpoints += 1
                self._wanted.notify_all()

    def _checkpoint(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except DBAPIError as exc:  # the next nudge tries again; SQLite's own checkpoints back it up
            log.warning("wal.checkpoint_failed", error=type(exc).__name__)
