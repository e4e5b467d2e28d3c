"""Nothing lost, nothing done twice: SIGKILL at random points, and a rebalance mid-stream."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from consumers.denial_events import build_worker
from engine.audit.chain import verify
from engine.config import Settings
from engine.demo.feed import demo_events, poison_messages
from engine.errors import ConcurrencyConflict
from engine.runtime.worker import Committed
from engine.storage import store
from engine.storage.db import make_engine
from tests.conftest import _truncate, sqlite_copy
from tests.helpers import (
    Progress,
    drain_outbox,
    feed_summary,
    outbox_count,
    processed_count,
    publish,
    run_worker,
    settings_env,
    snapshot,
    variant,
)
from workflows.routing import Routing

pytestmark = pytest.mark.slow
#: SIGKILL trials per database: 10 in the default suite, 25 in the slow run (README, "Tests").
TRIALS = int(os.environ.get("DENIALFLOW_TRIALS", "10"))


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """One named owner per team. Routing balances open work, and the open work a batch sees
    depends on where batch boundaries fall, which differs between two runs; with one owner
    per team every run assigns the same way and the runs compare exactly."""
    routing = Routing.load()
    lines = [f"first_action_days = {routing.first_action_days}"]
    for category, route in routing.defaults.items():
        owners = ", ".join(f'"{o}"' for o in route.owners[:1])
        lines += [f"[teams.{category}]", f'team = "{route.team}"', f"owners = [{owners}]"]
    path = tmp_path / "routing.toml"
    path.write_text("\n".join(lines) + "\n")
    return variant(settings, routing_file=path)


@pytest.fixture
def published(settings: Settings) -> int:
    return publish(settings, [*demo_events(150), *poison_messages()])


@pytest.fixture
def baseline(settings: Settings, published: int, tmp_path: Path, sqlite_template: Path) -> dict:
    """An uninterrupted run of the same records into its own SQLite file."""
    url = sqlite_copy(sqlite_template, tmp_path / "baseline.db")
    s = variant(settings, database_url=url)
    run_worker(s, published)
    return {"store": snapshot(url), "feed": feed_summary(s)}


def _spawn(settings: Settings, command: str, log: Path) -> subprocess.Popen[bytes]:
    values = settings_env(settings)
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "engine.cli", command], env={**os.environ, **values}, stderr=sink
        )


def _wait_started(log: Path, line: str, starts: int) -> None:
    """Until the process has installed its signal handlers (its `*.started` log line)."""
    deadline = time.monotonic() + 30
    while log.read_text().count(f'"{line}"') < starts and time.monotonic() < deadline:
        time.sleep(0.02)


def _settled(url: str, published: int) -> bool:
    return processed_count(url) >= published and outbox_count(url) == 0


def _fresh_store(settings: Settings, tmp_path: Path, template: Path, trial: int) -> str:
    if settings.database_url.startswith("sqlite"):
        return sqlite_copy(template, tmp_path / f"trial{trial}.db")
    _truncate(settings.database_url)
    return settings.database_url


def _assert_same_as_baseline(s: Settings, baseline: dict) -> None:
    got = snapshot(s.database_url)
    want = baseline["store"]
    assert got["denials"] == want["denials"]
    assert got["audit"] == want["audit"], "audit log differs from an uninterrupted run (gap or duplicate)"
    assert got["processed"] == want["processed"]
    assert got["workload"] == want["workload"], "open work per owner counted twice or lost"
    assert got["outbox_left"] == 0
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        assert verify(conn)[1] is None
    engine.dispose()
    ids, order = feed_summary(s)
    assert ids == baseline["feed"][0], "change feed lost or invented a transition"
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in order.values()), "feed out of order"


def test_sigkill_at_random_points_then_restart_equals_an_uninterrupted_run(
    settings: Settings, published: int, baseline: dict, tmp_path: Path, sqlite_template: Path
) -> None:
    rng = random.Random(20261123)
    killed_mid_stream = 0
    for trial in range(TRIALS):
        s = variant(settings, database_url=_fresh_store(settings, tmp_path, sqlite_template, trial), batch_size=25)
        logs = {name: tmp_path / f"{name}{trial}.log" for name in ("worker", "relay")}
        for log in logs.values():
            log.touch()
        worker, relay = _spawn(s, "worker", logs["worker"]), _spawn(s, "relay", logs["relay"])
        # kill the worker once this much is committed (plus jitter), and the relay soon after
        target = rng.randrange(1, published * 3 // 4)
        deadline = time.monotonic() + 60
        while processed_count(s.database_url) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))
        worker.send_signal(signal.SIGKILL)
        time.sleep(rng.uniform(0, 0.3))
        relay.send_signal(signal.SIGKILL)
        worker.wait()
        relay.wait()
        killed_mid_stream += not _settled(s.database_url, published)
        worker, relay = _spawn(s, "worker", logs["worker"]), _spawn(s, "relay", logs["relay"])
        _wait_started(logs["worker"], "worker.started", 2)
        _wait_started(logs["relay"], "relay.started", 2)
        while not _settled(s.database_url, published) and time.monotonic() < deadline + 60:
            time.sleep(0.05)
        for proc, log in ((worker, logs["worker"]), (relay, logs["relay"])):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, log.read_text()[-3000:]
        _assert_same_as_baseline(s, baseline)
    assert killed_mid_stream >= TRIALS * 0.7, f"only {killed_mid_stream} of {TRIALS} kills landed mid-stream"


class _SlowProgress(Progress):
    """Counts commits and takes a little time over each, as a loaded worker would, so the
    stream is still flowing when the second worker joins."""

    def __call__(self, c: Committed) -> None:
        super().__call__(c)
        time.sleep(0.05)


def test_two_workers_and_a_rebalance_apply_each_event_exactly_once(
    settings: Settings, published: int, baseline: dict, tmp_path: Path, sqlite_template: Path
) -> None:
    s = variant(settings, database_url=_fresh_store(settings, tmp_path, sqlite_template, 99), batch_size=10)
    progress = [_SlowProgress(), _SlowProgress()]
    workers = [build_worker(s, on_commit=p) for p in progress]
    finished = threading.Event()
    threads = [threading.Thread(target=w.run, kwargs={"until": finished.is_set}) for w in workers]
    threads[0].start()
    deadline = time.monotonic() + 90
    while progress[0].records < published // 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    threads[1].start()  # joins the group mid-stream: partitions move between live members
    while processed_count(s.database_url) < published and time.monotonic() < deadline:
        time.sleep(0.05)
    finished.set()
    for t in threads:
        t.join(timeout=30)
    for w in workers:
        w.engine.dispose()
    drain_outbox(s)
    assert progress[0].records < published and progress[1].records > 0, "the rebalance never moved a partition"
    _assert_same_as_baseline(s, baseline)


def test_writes_that_fail_after_writing_are_redone_and_equal_an_uninterrupted_run(
    settings: Settings, published: int, baseline: dict, tmp_path: Path, sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """About one batch's write in three puts all its rows in and then loses a race, so its
    transaction rolls back. On PostgreSQL that write is the pipelined one in the writer thread, with the
    next batch already worked over it: both are worked again from the store."""
    s = variant(settings, database_url=_fresh_store(settings, tmp_path, sqlite_template, 7), batch_size=25)
    real, failed_in, failed = store.write_batch, [], set()

    def lost_race(conn: Any, batch: store.BatchWrite, now: Any) -> int | None:
        outbox_id = real(conn, batch, now)
        first = batch.audit[0]["event_id"] if batch.audit else None
        if first is not None and first not in failed and zlib.crc32(first.encode()) % 3 == 0:
            failed.add(first)  # each batch once: its redo goes through
            failed_in.append(threading.current_thread().name)
            raise ConcurrencyConflict("injected: another worker changed a denial first")
        return outbox_id

    monkeypatch.setattr(store, "write_batch", lost_race)
    run_worker(s, published)
    assert failed_in, "no write was made to fail"
    if s.database_url.startswith("postgresql"):
        assert any(name.startswith("batch-writer") for name in failed_in), failed_in
    _assert_same_as_baseline(s, baseline)
