"""Outages are waited out: PostgreSQL, then the broker, cut off for OUTAGE_S under load.

Every engine process (worker, relay, timer service, remits consumer) reaches PostgreSQL and
a broker of this test's own only through a proxy of the tests' own (`tests.proxy`); the broker
advertises the proxy's port, so no client can go round it. Each cut resets every connection and
each new one, as a partition or a server restart would. The processes must still be running at
the end of each cut, resume by themselves, exit 0 on SIGTERM, and leave the state, the audit log
and the change feed an uninterrupted run leaves.
"""

import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from engine.config import Settings
from engine.demo.feed import demo_events, poison_messages
from engine.demo.remit import demo_remittance
from engine.intake.ingest import ingest_stream
from engine.runtime.broker import BundledBroker, free_port
from engine.storage.db import upgrade
from tests.helpers import feed_summary, processed_count, publish, read_topic, run_worker, snapshot, variant
from tests.integration.test_crash_and_rebalance import (  # noqa: F401 (settings: one owner per team, so runs compare)
    _assert_same_as_baseline,
    _settled,
    _spawn,
    _wait_started,
    settings,
)
from tests.proxy import Proxy
from workflows.payers import PayerPolicies

pytestmark = pytest.mark.slow
#: How long each cut lasts (the issue asks for 30 s; a quicker local run may lower it).
OUTAGE_S = float(os.environ.get("DENIALFLOW_OUTAGE_S", "30"))
COMMANDS = ("worker", "relay", "timers", "remits")
#: The timer service's clock, long before every demo timer: it queries the store each tick (and so
#: meets the outage) but fires nothing, so the input log is the same as the uninterrupted run's.
TIMERS_NOW = datetime(2000, 1, 1, tzinfo=UTC)
#: Bounds for what must happen once a cut is restored (the machine may be loaded).
RESUME_WITHIN_S = 60.0
DRAIN_WITHIN_S = 180.0
#: At most this many "waiting" lines per process and outage: one per state change, not one per retry.
MAX_WAITING_LINES = 3


@pytest.fixture
def pg_proxy(pg_url: str) -> Iterator[Proxy]:
    url = make_url(pg_url)
    with Proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


@pytest.fixture
def broker_proxy() -> Iterator[Proxy]:
    port = free_port()
    with Proxy("127.0.0.1", port) as proxy, BundledBroker(port, advertised=f"127.0.0.1:{proxy.port}"):
        yield proxy


@pytest.fixture
def proxied(settings: Settings, pg_url: str, pg_proxy: Proxy, broker_proxy: Proxy) -> Settings:  # noqa: F811 (the fixture)
    """Settings whose every connection goes through the two proxies; small batches, so a cut lands mid-stream."""
    database = make_url(pg_url).set(host="127.0.0.1", port=pg_proxy.port).render_as_string(hide_password=False)
    return variant(settings, database_url=database, bootstrap_servers=f"127.0.0.1:{broker_proxy.port}", batch_size=10)


@dataclass
class Processes:
    """The engine's processes under test, each logging to its own file, and the store they write, read directly."""

    url: str
    procs: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]

    def log_sizes(self) -> dict[str, int]:
        return {c: p.stat().st_size for c, p in self.logs.items()}

    def lines(self, command: str, start: int, end: int | None = None) -> list[dict]:
        """The process's JSON log lines from byte ``start`` (to ``end``); a line still being written is left out."""
        with self.logs[command].open("rb") as f:
            f.seek(start)
            text = f.read(-1 if end is None else end - start).decode(errors="replace")
        complete = text.split("\n")[:-1]
        return [doc for line in complete if line.startswith("{") and isinstance(doc := json.loads(line), dict)]


@dataclass
class Cut:
    """One outage as it happened: what it cut, how soon the engine resumed and caught up, where its logs are."""

    name: str
    state: str  # what a process waiting it out says it waits for
    connections: int
    processed_at_cut: int
    resumed_s: float
    drained_s: float
    all_resumed_s: float
    log_from: dict[str, int]
    log_to: dict[str, int]


def _states(lines: list[dict]) -> list[str]:
    """The states a process's heartbeat went through (it logs each change, whichever path waited)."""
    return [d["state"] for d in lines if d.get("event") == "process.state"]


def _resumed(lines: list[dict], state: str) -> bool:
    states = _states(lines)
    return state in states and "running" in states[states.index(state) :]


def _wait(condition: Callable[[], bool], what: str, timeout: float, every_s: float = 0.05) -> float:
    """Seconds until ``condition()`` holds; fails naming ``what`` after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(every_s)
    return time.monotonic() - started


def _cut(
    running: Processes, proxy: Proxy, name: str, state: str, waited: Collection[str], at: int, expected: int,
    during: Callable[[], None] = lambda: None,
) -> Cut:  # fmt: skip
    """Once ``at`` records are processed, cut ``proxy`` for OUTAGE_S (running ``during()`` meanwhile); every
    process must be alive at the end of it. Then restore, and time the first new commit, the drain (``expected``
    processed and the outbox empty) and every process in ``waited`` saying it resumed."""
    url = running.url
    _wait(lambda: processed_count(url) >= at, f"{name}: {at} records processed before the cut", 120, every_s=0.01)
    log_from = running.log_sizes()
    connections = proxy.cut()
    cut_at = time.monotonic()
    processed_at_cut = processed_count(url)
    assert processed_at_cut < expected, f"{name}: the cut came after the last record; it must land mid-stream"
    during()
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))  # the outage itself
    dead = {
        c: (p.returncode, running.logs[c].read_text()[-2000:]) for c, p in running.procs.items() if p.poll() is not None
    }
    assert not dead, f"{name}: processes ended during the outage: {dead}"
    before = processed_count(url)
    proxy.restore()
    restored = time.monotonic()
    resumed = _wait(lambda: processed_count(url) > before, f"{name}: a commit after the restore", RESUME_WITHIN_S)
    _wait(lambda: _settled(url, expected), f"{name}: {expected} processed, outbox empty", DRAIN_WITHIN_S)
    drained = time.monotonic() - restored
    _wait(lambda: all(_resumed(running.lines(c, log_from[c]), state) for c in waited),
          f"{name}: {', '.join(waited)} saying they resumed", RESUME_WITHIN_S)  # fmt: skip
    all_resumed = time.monotonic() - restored
    print(
        f"\n{name} outage of {OUTAGE_S:.0f} s: cut {connections} connections with {processed_at_cut} of {expected} "
        f"records processed; after the restore: first commit {resumed:.2f} s, drained {drained:.2f} s, "
        f"{', '.join(waited)} resumed {all_resumed:.2f} s"
    )
    return Cut(name, state, connections, processed_at_cut, resumed, drained, all_resumed, log_from, running.log_sizes())


def _remit_events(remit: bytes) -> int:
    """How many events the remits consumer makes of this file (read here, published nowhere)."""
    capitated = PayerPolicies.load().capitated_payers
    return ingest_stream(io.BytesIO(remit), "remit", lambda _key, _value: None, capitated=capitated).published


def _assert_logged_once_per_state_change(running: Processes, cut: Cut) -> None:
    """No process says it waits once per retry: each says so once per state change (the heartbeat's
    `process.state` line, and the loops' `outage.waiting`); the worker says `outage.waiting` and `outage.over`."""
    for command in COMMANDS:
        lines = running.lines(command, cut.log_from[command], cut.log_to[command])
        waiting = [d["state"] for d in lines if d.get("event") == "outage.waiting"]
        states = _states(lines)
        print(f"{cut.name} outage, {command}: outage.waiting {waiting}, process.state {states}")
        assert len(waiting) <= MAX_WAITING_LINES, f"{cut.name}: {command} logged outage.waiting {len(waiting)} times"
        assert states.count(cut.state) <= MAX_WAITING_LINES, f"{cut.name}: {command} flapped: {states}"
    worker = running.lines("worker", cut.log_from["worker"], cut.log_to["worker"])
    assert any(d.get("event") == "outage.waiting" and d["state"] == cut.state for d in worker), cut.name
    assert any(d.get("event") == "outage.over" and d["was"] == cut.state for d in worker), cut.name


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_database_and_broker_outages_are_waited_out_under_load(
    proxied: Settings, pg_url: str, pg_proxy: Proxy, broker_proxy: Proxy, tmp_path: Path
) -> None:
    started = time.monotonic()
    direct = proxied.model_copy(update={"database_url": pg_url})  # the test's own view, never cut
    events = list(demo_events(80))
    third = len(events) // 3
    first, during_db, after_db = [*events[:third], *poison_messages()], events[third : 2 * third], events[2 * third :]
    remit = demo_remittance(date(2026, 11, 2))
    by_db = len(first) + len(during_db) + _remit_events(remit)
    total = by_db + len(after_db)
    publish(proxied, first)

    running = Processes(pg_url, {}, {c: tmp_path / f"{c}.log" for c in COMMANDS})
    timers = proxied.model_copy(update={"now": TIMERS_NOW, "timer_interval_ms": 200})
    try:
        for command, log in running.logs.items():
            log.touch()
            running.procs[command] = _spawn(timers if command == "timers" else proxied, command, log)
        for command, log in running.logs.items():
            _wait_started(log, f"{command}.started", 1)

        def publish_while_db_is_away() -> None:
            """The broker is still up: more events, and an 835 file for the remits consumer, wait for the engine."""
            publish(proxied, during_db)
            publish(proxied.model_copy(update={"events_topic": proxied.remits_topic}), [remit])

        db = _cut(running, pg_proxy, "database", "waiting_for_database", COMMANDS, len(first) // 4, by_db,
                  publish_while_db_is_away)  # fmt: skip
        publish(proxied, after_db)
        # only the worker is sure to meet this one: the relay does when a row is in hand, the timer service
        # fires nothing, the remits consumer has nothing to read
        broker = _cut(running, broker_proxy, "broker", "waiting_for_broker", ["worker"], by_db + len(after_db) // 4,
                      total)  # fmt: skip
        for command, proc in running.procs.items():
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, f"{command}: {running.logs[command].read_text()[-3000:]}"
    finally:
        for proc in running.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    assert db.connections > 0 and broker.connections > 0, "a cut found no connection to break"
    _assert_logged_once_per_state_change(running, db)
    _assert_logged_once_per_state_change(running, broker)

    # the uninterrupted run reads the same log, remits consumer's events included, into its own SQLite file
    url = f"sqlite:///{tmp_path / 'baseline.db'}"
    upgrade(url)
    uninterrupted = variant(direct, database_url=url)
    run_worker(uninterrupted, len(read_topic(direct, direct.events_topic)))
    assert processed_count(url) == total, "the events topic lost or gained an event"
    _assert_same_as_baseline(direct, {"store": snapshot(url), "feed": feed_summary(uninterrupted)})
    print(f"outage test took {time.monotonic() - started:.0f} s (two outages of {OUTAGE_S:.0f} s)")
