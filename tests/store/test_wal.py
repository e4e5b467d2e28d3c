"""The worker's SQLite commits leave WAL checkpoints to a thread: the log is still copied back."""

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine.storage.db import make_engine
from engine.storage.wal import WalCheckpointer

ROWS = 3000  # ~6 MB of log: past SQLite's own 1,000-page (4 MB) checkpoint
BLOB = os.urandom(2000)


def _write(path: Path, checkpoints: bool) -> tuple[Engine, int]:
    engine = make_engine(f"sqlite:///{path}", checkpoints=checkpoints)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    for _ in range(0, ROWS, 500):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (body) VALUES (?)", [(BLOB,)] * 500)
    return engine, ROWS * len(BLOB)


@pytest.mark.parametrize("checkpoints", [True, False])
def test_commits_checkpoint_only_where_asked(tmp_path: Path, checkpoints: bool) -> None:
    engine, written = _write(tmp_path / "w.db", checkpoints)
    copied = (tmp_path / "w.db").stat().st_size >= written // 2  # the commit past 4 MB copied that much
    engine.dispose()
    assert copied is checkpoints


def test_the_checkpointer_copies_the_log_back_and_stops(tmp_path: Path) -> None:
    engine, written = _write(tmp_path / "w.db", checkpoints=False)
    checkpointer = WalCheckpointer(engine)
    checkpointer.nudge()
    assert checkpointer.wait_for(1, timeout_s=120)
    assert (tmp_path / "w.db").stat().st_size >= written
    checkpointer.close()
    assert not any(t.name == "wal-checkpointer" for t in threading.enumerate())
    engine.dispose()
