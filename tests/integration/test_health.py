"""Health tells the truth, on SQLite and PostgreSQL: `/healthz` and `denialflow status` from the
heartbeats each engine process writes (a stale beat is a dead process), with the broker's consumer
lag, the outbox's backlog and parked messages; and `denialflow run`'s loops are supervised: one
that dies is restarted, one that keeps dying ends the run with exit 1."""

import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert
from typer.testing import CliRunner

from consumers.denial_events import build_worker
from engine.cli.app import app as cli
from engine.clock import clock_from
from engine.config import Settings
from engine.demo.embedded import _serve, engine_loops
from engine.runtime.health import PARKED
from engine.runtime.heartbeat import PROCESSES, Heartbeat
from engine.runtime.messages import Message, pack
from engine.runtime.supervisor import RestartPolicy
from engine.storage import store
from engine.storage.db import make_engine
from engine.web.app import create_app
from tests.factories import LEAD, event_doc, received_doc, received_id
from tests.helpers import publish

CLI = CliRunner()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The test's store with no heartbeats or parked messages from an earlier test."""
    e = make_engine(settings.database_url)
    with e.begin() as conn:
        conn.execute(delete(PROCESSES))
        conn.execute(delete(PARKED))
    yield e
    e.dispose()


def _ago(**delta: float) -> Any:
    at = datetime.now(UTC) - timedelta(**delta)
    return lambda: at


def _health(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def _status(settings: Settings, *args: str) -> Any:
    return CLI.invoke(cli, ["status", "--database-url", settings.database_url, "--bootstrap-servers",
                            settings.bootstrap_servers, *args], env={"COLUMNS": "200"})  # fmt: skip


def test_healthz_is_503_while_an_expected_process_is_stale_and_200_once_it_beats_again(
    settings: Settings, engine: Engine
) -> None:
    client = TestClient(create_app(settings))
    assert _health(client)[0] == 200  # nothing ever beat: nothing is expected
    Heartbeat(engine, "worker").beat("running", batches=3)
    relay = Heartbeat(engine, "relay", name="relay@engine-1:41", now=_ago(minutes=2))
    relay.beat("running")
    status, body = _health(client)
    assert status == 503 and body["status"] == "unhealthy"
    assert body["problems"] == ["relay@engine-1:41 is dead"]
    by_kind = {p["kind"]: p for p in body["processes"]}
    assert (by_kind["relay"]["alive"], by_kind["relay"]["expected"]) == (False, True)
    assert by_kind["relay"]["beat_age_s"] >= 120 and by_kind["worker"]["figures"] == {"batches": 3}
    Heartbeat(engine, "relay", name="relay@engine-1:41").beat("running")  # the same process beats again
    status, body = _health(client)
    assert (status, body["problems"]) == (200, [])


def test_who_is_expected_the_last_hour_not_stopped_not_replaced_and_the_configured_kinds(
    settings: Settings, engine: Engine
) -> None:
    client = TestClient(create_app(settings))
    Heartbeat(engine, "worker", name="worker@old:1", now=_ago(hours=2)).beat("running")  # dead for long: listed only
    Heartbeat(engine, "timers", name="timers@a:1", now=_ago(minutes=5)).beat("stopped")  # stopped cleanly
    Heartbeat(engine, "relay", name="relay@a:1", now=_ago(minutes=5)).beat("running")  # died...
    Heartbeat(engine, "relay", name="relay@a:2").beat("running")  # ...and was restarted under another pid
    status, body = _health(client)
    assert status == 200, body["problems"]
    assert {p["name"]: (p["alive"], p["expected"]) for p in body["processes"]} == {
        "worker@old:1": (False, False), "timers@a:1": (False, False),
        "relay@a:1": (False, False), "relay@a:2": (True, True),
    }  # fmt: skip
    expecting = TestClient(create_app(settings.model_copy(update={"health_expect": "worker,relay,timers"})))
    status, body = _health(expecting)
    assert status == 503 and body["missing"] == ["worker", "timers"]
    assert body["problems"] == ["no live worker", "no live timers"]


def test_healthz_reports_lag_outbox_and_parked_without_phi(settings: Settings, engine: Engine) -> None:
    client = TestClient(create_app(settings))
    doc = received_doc(601)
    touch = {"note": "called", "next_action_date": "2026-12-01"}
    for event in (doc, event_doc("denial.touched", received_id(doc), LEAD, touch)):
        publish(settings, [event])  # one batch per message: the bundled broker's log end is exact only then
    now = clock_from(settings.now)()
    with engine.begin() as conn:
        conn.execute(insert(store.OUTBOX), [{"created_at": now - timedelta(seconds=90), "messages": pack([])},
                                            {"created_at": now, "messages": pack([])}])  # fmt: skip
    Heartbeat(engine, "worker").beat("running", patient="Ada Q Patient", lag={"0": 1}, note="x" * 10)
    status, body = _health(client)
    assert status == 200
    assert body["consumer_lag"][settings.group_id]["behind"] == 2
    assert body["outbox"]["pending"] == 2 and 90 <= body["outbox"]["oldest_age_s"] < 120
    [worker] = body["processes"]
    assert worker["figures"] == {"lag": {"0": 1}} and worker["lag"] == {"0": 1}  # its own figure wins
    assert "Ada Q Patient" not in json.dumps(body) and settings.database_url not in json.dumps(body)
    parked = Message("feed", b"k", b"v" * 10, [])
    with engine.begin() as conn:
        conn.execute(insert(PARKED), [{"parked_at": now, "outbox_id": 1, "topic": parked.topic, "key": parked.key,
                                       "value": parked.value, "headers": [], "size": 10, "sha256": "0" * 64,
                                       "reason": "MessageSizeTooLargeError"}])  # fmt: skip
    status, body = _health(client)
    assert (status, body["parked"]) == (200, 1)  # the engine still runs: status says it, /healthz lists it


def test_healthz_is_503_when_the_database_does_not_answer(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    away = settings.model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{port}/none"})
    status, body = _health(TestClient(create_app(away)))
    assert (status, body) == (503, {"status": "unhealthy", "problems": ["the database does not answer"]})


def test_status_prints_the_table_or_json_and_exits_1_on_a_dead_process_or_a_parked_message(
    settings: Settings, engine: Engine
) -> None:
    Heartbeat(engine, "worker", name="worker@w:1").beat("running")
    result = _status(settings)
    assert result.exit_code == 0, result.output
    assert "worker@w:1" in result.output and "healthy" in result.output
    Heartbeat(engine, "relay", name="relay@r:1", now=_ago(minutes=3)).beat("waiting_for_database")
    result = _status(settings)
    assert result.exit_code == 1 and "DEAD" in result.output and "relay@r:1 is dead" in result.output
    as_json = json.loads(_status(settings, "--json").output)
    assert as_json["status"] == "unhealthy" and as_json["problems"] == ["relay@r:1 is dead"]
    with engine.begin() as conn:
        conn.execute(delete(PROCESSES).where(PROCESSES.c.name == "relay@r:1"))
        conn.execute(insert(PARKED), [{"parked_at": datetime.now(UTC), "outbox_id": 1, "topic": "feed", "key": None,
                                       "value": b"v", "headers": [], "size": 1, "sha256": "0" * 64,
                                       "reason": "too large"}])  # fmt: skip
    result = _status(settings, "--json")
    assert result.exit_code == 1 and json.loads(result.output)["problems"] == [
        "1 parked message(s): `denialflow parked`"
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Run:
    """`denialflow run`'s serving half (`_serve`) in this thread, as the main thread must run it
    (uvicorn listens for signals there); ``watch`` runs beside it and ends it with SIGTERM."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy(update={"web_port": _free_port(), "timer_interval_ms": 100})
        self.base = f"http://127.0.0.1:{self.settings.web_port}"

    def serve(self, loops: dict[str, Any], policy: RestartPolicy, watch: Any = None) -> int:
        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGTERM, lambda *_: None)  # a give-up before uvicorn listens must not kill pytest
        watcher = threading.Thread(target=self._watch, args=(watch,), daemon=True) if watch else None
        try:
            if watcher:
                watcher.start()
            return _serve(self.settings, clock_from(self.settings.now), loops, policy)
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
            if watcher:
                watcher.join(timeout=5)

    def _watch(self, watch: Any) -> None:
        try:
            watch()
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    def healthz(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def _applied(settings: Settings, docs: list[dict[str, Any]]) -> dict[str, tuple[str, None]]:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        found = store.processed_ids(conn, [d["event_id"] for d in docs])
    engine.dispose()
    return {event_id: (outcome, None) for event_id, (_, outcome) in found.items()}


def test_a_worker_thread_that_dies_is_restarted_and_nothing_is_lost(settings: Settings, capfd: Any) -> None:
    run = _Run(settings)
    builds: list[Any] = []

    def worker() -> Any:
        built = build_worker(run.settings)
        if not builds:  # the first one dies on its first batch, with the batch uncommitted

            def explode(_: Any) -> None:
                raise RuntimeError("injected")

            built.handle = explode
        builds.append(built)
        return built

    receipts = [received_doc(700 + n) for n in range(5)]
    publish(run.settings, receipts)
    seen: dict[str, Any] = {}

    def watch() -> None:
        deadline = time.monotonic() + 60
        while len(_applied(run.settings, receipts)) < len(receipts) and time.monotonic() < deadline:
            time.sleep(0.05)
        while time.monotonic() < deadline:
            try:
                seen["health"] = run.healthz()
                return
            except OSError:  # not listening yet
                time.sleep(0.1)

    loops = {**engine_loops(run.settings, clock_from(run.settings.now)), "worker": worker}
    assert run.serve(loops, RestartPolicy(restarts=3, first_s=0.05), watch) == 0
    assert len(builds) == 2, "the dead worker was not restarted"
    assert _applied(run.settings, receipts) == {d["event_id"]: ("applied", None) for d in receipts}
    assert seen["health"][0] == 200, seen["health"]
    err = capfd.readouterr().err
    assert '"process.died"' in err and "RuntimeError" in err and '"process.restarted"' in err


def test_a_loop_that_keeps_dying_ends_the_run_with_exit_1(settings: Settings, capfd: Any) -> None:
    run = _Run(settings)

    def broken() -> Any:
        raise ConnectionRefusedError("injected")

    loops = {**engine_loops(run.settings, clock_from(run.settings.now)), "timers": broken}
    started = time.monotonic()
    assert run.serve(loops, RestartPolicy(restarts=2, first_s=0.05)) == 1
    assert time.monotonic() - started < 30
    captured = capfd.readouterr()
    assert "timers (ConnectionRefusedError while starting) kept dying" in captured.err
    assert '"process.gave_up"' in captured.err
