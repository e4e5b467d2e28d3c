"""Bringing your own 835s: while `denialflow run` is up, commands started elsewhere find its
broker and database through the runtime file; with no broker anywhere they fail in seconds
with one line (and /metrics answers with Kafka down); a busy web port is refused before anything is printed;
a stale file is ignored."""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.config import Settings
from engine.intake.event_data import Role
from engine.intake.ingest import ingest_file
from engine.runtime.broker import BundledBroker, free_port
from engine.runtime.netcheck import port_answers
from engine.runtime.runtime_file import EmbeddedEngine, advertised, with_running_engine
from engine.storage import store
from engine.storage.db import make_engine, upgrade
from engine.web.app import create_app
from engine.web.tokens import create_token

SAMPLES = Path(__file__).parents[1] / "data" / "835"
ELSEWHERE_835 = SAMPLES / "pyx12" / "835_mult_loops.txt"  # ingested from "another terminal"
ON_START_835 = SAMPLES / "edi-835-parser" / "emedny_sample.txt"  # ingested by `run --ingest DIR`
CLI = [sys.executable, "-m", "engine.cli"]
NEED_THE_BROKER = [["ingest", str(ELSEWHERE_835)], ["publish", str(ELSEWHERE_835)]]
NO_BROKER = "no Kafka broker at {}: start the embedded engine with scripts/run, or pass --bootstrap-servers HOST:PORT"


def _env(runtime_file: Path, **more: str) -> dict[str, str]:
    """This process's environment without the settings the runtime file supplies."""
    env = {k: v for k, v in os.environ.items() if k not in ("DENIALFLOW_BOOTSTRAP_SERVERS", "DENIALFLOW_DATABASE_URL")}
    return {**env, "DENIALFLOW_RUNTIME_FILE": str(runtime_file), **more}


def _denial_ids(path: Path) -> set[str]:
    """The denials the engine's own ingest finds in ``path`` (nothing published): a receipt's key is its denial."""
    received: set[str] = set()

    def sink(key: bytes, value: bytes) -> None:
        if json.loads(value)["type"] == "denial.received":
            received.add(key.decode())

    assert ingest_file(path, sink).error is None
    return received


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.2)


def _stored(database_url: str, ids: set[str]) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(store.DENIALS.c.id).where(store.DENIALS.c.id.in_(ids))))
    finally:
        engine.dispose()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    """`denialflow run` serving on a free port, with one of the user's folders to ingest on start;
    yields once its runtime file names it (the process, the file, the database URL)."""
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(ON_START_835, own)
    runtime, db = tmp_path / "runtime.json", f"sqlite:///{tmp_path / 'run.db'}"
    with (tmp_path / "run.out").open("wb") as out:
        argv = ["run", "--denials", "6", "--port", str(free_port()), "--database-url", db, "--ingest", str(own)]
        proc = subprocess.Popen([*CLI, *argv], stdout=out, stderr=subprocess.DEVNULL, env=_env(runtime))
    try:
        _wait_for(lambda: runtime.exists() or proc.poll() is not None, "the runtime file")
        assert proc.poll() is None, (tmp_path / "run.out").read_text()[-2000:]
        yield proc, runtime, db
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def test_a_command_in_another_terminal_finds_the_running_engine_and_its_store(
    running: tuple[subprocess.Popen[bytes], Path, str], tmp_path: Path
) -> None:
    proc, runtime, db = running
    found = json.loads(runtime.read_text())
    assert (found["pid"], found["database_url"]) == (proc.pid, db) and found["web"].startswith("http://127.0.0.1:")
    assert port_answers(found["bootstrap_servers"]) and found["started_at"]
    elsewhere = tmp_path / "elsewhere"  # no denialflow.db here: the store must come from the runtime file
    elsewhere.mkdir()

    done = subprocess.run([*CLI, "ingest", "--json", str(ELSEWHERE_835)], cwd=elsewhere, env=_env(runtime),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    expected = _denial_ids(ELSEWHERE_835)
    assert json.loads(done.stdout)["denials"] == len(expected) > 0
    on_start = _denial_ids(ON_START_835)
    _wait_for(lambda: _stored(db, expected | on_start) == expected | on_start, "the worker applying both files")

    some = sorted(expected)[0]
    shown = subprocess.run([*CLI, "show", some], cwd=elsewhere, env=_env(runtime), capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert shown.returncode == 0 and some in shown.stdout, shown.stderr[-2000:]

    # the files can be applied while the main job still runs; a SIGTERM then ends it with 143
    _wait_for(lambda: "dashboard: http" in (tmp_path / "run.out").read_text(), "the run serving")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(180) == 0  # a loaded CI machine may take a while to drain and stop
    assert not runtime.exists(), "the runtime file outlived the run"
    printed = (tmp_path / "run.out").read_text()
    assert "835 ingest" in printed and "your own 835s: .venv/bin/denialflow ingest FILE|DIR" in printed


def _startup() -> float:
    """What importing the CLI costs on this machine now: every command pays it before its first check."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import engine.cli.app"], check=True, timeout=120)
    return time.monotonic() - started


def _fails_fast(argv: list[str], env: dict[str, str], address: str) -> None:
    budget = max(5.0, _startup() + 3.0)  # 5 s, unless merely starting Python takes over 2 s (a loaded machine)
    started = time.monotonic()
    done = subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert (done.returncode, done.stdout, done.stderr) == (2, "", NO_BROKER.format(address) + "\n")
    assert elapsed < budget, f"{argv[0]} took {elapsed:.1f}s to fail"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("argv", NEED_THE_BROKER, ids=[argv[0] for argv in NEED_THE_BROKER])
def test_with_no_broker_anywhere_a_command_fails_fast_with_one_line(
    argv: list[str], tmp_path: Path, broker: BundledBroker
) -> None:
    """A stale runtime file (its pid dead, though its address answers) is ignored: the default is tried."""
    assert not port_answers("127.0.0.1:9092"), "this test needs nothing listening on the default 127.0.0.1:9092"
    runtime = tmp_path / "runtime.json"
    stale = EmbeddedEngine(broker.bootstrap, f"sqlite:///{tmp_path / 'gone.db'}", None, _dead_pid(), "2026-01-01")
    runtime.write_text(json.dumps(stale.__dict__))
    _fails_fast(argv, _env(runtime), "127.0.0.1:9092")


def test_a_port_that_accepts_but_never_speaks_kafka_fails_fast_too(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        _fails_fast(["ingest", "--bootstrap-servers", address, str(ELSEWHERE_835)], _env(tmp_path / "none"), address)


def test_a_busy_port_is_refused_before_anything_is_printed(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db, runtime = tmp_path / "never.db", tmp_path / "runtime.json"
        done = subprocess.run([*CLI, "run", "--port", str(port), "--database-url", f"sqlite:///{db}"],
                              env=_env(runtime), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    busy = os.strerror(errno.EADDRINUSE)
    assert done.stderr == f"cannot serve the dashboard on 127.0.0.1:{port}: {busy} (pick another: --port P)\n"
    assert not db.exists() and not runtime.exists()


def test_only_a_live_engine_fills_what_was_not_set_explicitly(
    tmp_path: Path, broker: BundledBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DENIALFLOW_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DENIALFLOW_DATABASE_URL", raising=False)
    path = tmp_path / "runtime.json"
    monkeypatch.setenv("DENIALFLOW_RUNTIME_FILE", str(path))
    db = f"sqlite:///{tmp_path / 'live.db'}"
    default = Settings()

    def resolved() -> tuple[str, str]:
        s = with_running_engine(Settings())
        return s.bootstrap_servers, s.database_url

    assert resolved() == (default.bootstrap_servers, default.database_url)  # no file
    path.write_text("{not json")
    assert resolved() == (default.bootstrap_servers, default.database_url)
    closed = f"127.0.0.1:{free_port()}"
    for stale in (EmbeddedEngine(broker.bootstrap, db, None, _dead_pid(), "t"), EmbeddedEngine(closed, db, None,
                  os.getpid(), "t")):  # fmt: skip
        with advertised(path, stale):
            assert resolved() == (default.bootstrap_servers, default.database_url)
    live = EmbeddedEngine(broker.bootstrap, db, "http://127.0.0.1:8000/", os.getpid(), "t")
    with advertised(path, live):
        assert resolved() == (broker.bootstrap, db)
        monkeypatch.setenv("DENIALFLOW_BOOTSTRAP_SERVERS", "kafka.example:9092")  # explicit beats the file
        assert resolved() == ("kafka.example:9092", db)
        s = with_running_engine(Settings(database_url="sqlite:///mine.db"))  # an option beats both
        assert (s.bootstrap_servers, s.database_url) == ("kafka.example:9092", "sqlite:///mine.db")
    assert not path.exists()


def test_metrics_without_a_broker_answer_in_seconds_with_kafka_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    upgrade(url)
    engine = make_engine(url)
    token = create_token(engine, "ops", Role.ADMIN, datetime.now(UTC))
    engine.dispose()
    client = TestClient(create_app(Settings(database_url=url, bootstrap_servers=f"127.0.0.1:{free_port()}")))
    started = time.monotonic()
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200 and "denialflow_kafka_up 0.0" in scraped.text
    assert time.monotonic() - started < 5
