"""What docker-compose.yml starts, started directly: the same commands and environment,
pointed at this session's broker and PostgreSQL instead of the `kafka`/`postgres` hosts.
Also drives the CLI the way an operator would (publish, show, audit verify/replay)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from engine.audit.checkpoints import CHECKPOINTS
from engine.config import Settings
from engine.demo.feed import demo_events
from engine.runtime.broker import free_port
from engine.runtime.kafka import ensure_topics, make_producer
from engine.storage import store
from engine.storage.db import make_engine
from tests.helpers import outbox_count, read_topic
from tests.ingest.test_samples import SAMPLES

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"
CADDYFILE = Path(__file__).parents[2] / "deploy" / "Caddyfile"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_declares_the_production_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        "kafka",
        "postgres",
        "init",
        "worker",
        "relay",
        "timers",
        "remits",
        "claims",
        "web",
        "proxy",
    }
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert services["init"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert int(kafka["KAFKA_MESSAGE_MAX_BYTES"]) >= 10 * 1024 * 1024  # whole 835 files on clearinghouse.remits
    for name in ("worker", "relay", "timers", "remits", "claims"):
        assert services[name]["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
        assert services[name]["command"] == ([name] if name != "claims" else ["claims", "consume"])
    web = services["web"]
    assert web["command"] == ["serve"] and "ports" not in web and web["expose"] == ["8000"]  # only via the proxy
    assert (
        web["environment"]["DENIALFLOW_WEB_HOST"] == "0.0.0.0" and web["environment"]["DENIALFLOW_WEB_PORT"] == "8000"
    )
    assert web["environment"]["DENIALFLOW_TRUST_FORWARDED_PROTO"] == "true"
    assert web["environment"]["DENIALFLOW_DATABASE_URL"] == services["worker"]["environment"]["DENIALFLOW_DATABASE_URL"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    worker_env = services["worker"]["environment"]
    assert worker_env["DENIALFLOW_BOOTSTRAP_SERVERS"] == "kafka:9092"
    quarantine = worker_env["DENIALFLOW_QUARANTINE_DIR"]  # refused files outlive the containers
    assert all(f"quarantine:{quarantine}" in services[name]["volumes"] for name in ("worker", "remits"))
    assert "quarantine" in compose["volumes"]


def test_compose_keeps_the_secrets_out_of_its_file_and_environment(compose: dict[str, Any]) -> None:
    """The database password and the audit key are Docker secrets, files under /run/secrets."""
    services = compose["services"]
    assert compose["secrets"] == {
        "postgres_password": {"file": "./secrets/postgres_password"},
        "audit_key": {"file": "./secrets/audit_key"},
    }
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    for name in ("init", "worker", "relay", "timers", "remits", "claims", "web"):
        env = services[name]["environment"]
        url = env["DENIALFLOW_DATABASE_URL"]
        assert url == "postgresql://denialflow@postgres:5432/denialflow"  # no password in the URL
        assert env["DENIALFLOW_DATABASE_PASSWORD_FILE"] == "/run/secrets/postgres_password"
        assert "postgres_password" in services[name]["secrets"]
        assert ("audit_key" in services[name]["secrets"]) == (name == "timers")  # only the signer holds the key
    assert services["timers"]["environment"]["DENIALFLOW_AUDIT_KEY_FILE"] == "/run/secrets/audit_key"
    assert "PASSWORD}" not in COMPOSE.read_text()  # nothing interpolated from the shell's environment


def test_compose_puts_tls_in_front_of_the_web_app(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("caddy:2") and {"80:80", "443:443"} <= set(proxy["ports"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"] and "caddy-data:/data" in proxy["volumes"]
    caddyfile = [line.strip() for line in CADDYFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert "{$DENIALFLOW_SITE:localhost} {" in caddyfile and "reverse_proxy web:8000" in caddyfile
    assert not any(line.startswith("header_up Host") for line in caddyfile)  # the Origin check needs the Host


def _env(service: dict[str, Any], broker: str, database_url: str, tag: str, secrets: Path) -> dict[str, str]:
    """The service's environment, pointed at this session's broker and database, with its
    /run/secrets files taken from ``secrets``."""
    env = {k: str(v) for k, v in service["environment"].items()}
    env |= {"DENIALFLOW_BOOTSTRAP_SERVERS": broker, "DENIALFLOW_DATABASE_URL": database_url,
            "DENIALFLOW_GROUP_ID": f"{tag}.engine", "DENIALFLOW_REMITS_GROUP_ID": f"{tag}.remits",
            "DENIALFLOW_CLAIMS_GROUP_ID": f"{tag}.claims",
            "DENIALFLOW_MAX_POLL_INTERVAL_MS": "1000",
            # the demo feed starts 2026-09-01: on that day's clock no timer is due yet
            "DENIALFLOW_NOW": "2026-09-01T00:00:00+00:00",
            "DENIALFLOW_SESSION_TIMEOUT_MS": "1000", "DENIALFLOW_HEARTBEAT_INTERVAL_MS": "200"}  # fmt: skip
    for name, value in env.items():
        if value.startswith("/run/secrets/"):
            env[name] = str(secrets / value.removeprefix("/run/secrets/"))
    for topic in ("EVENTS", "TRANSITIONS", "DLQ", "REMITS", "CLAIMS_OUTBOUND", "CLAIMS_CHECKED", "AUTHORIZATIONS"):
        env[f"DENIALFLOW_{topic}_TOPIC"] = f"{tag}.{env[f'DENIALFLOW_{topic}_TOPIC']}"
    env["DENIALFLOW_CHECKPOINTS_TOPIC"] = f"{tag}.audit.checkpoints"
    return {**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"}


def _secrets(tmp_path: Path) -> Path:
    """The compose file's secrets, as an operator makes them (the test server trusts any password)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "postgres_password").write_text("a password the URL never shows\n")
    (secrets / "audit_key").write_text(os.urandom(32).hex() + "\n")
    return secrets


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "denialflow"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_compose_services_run_end_to_end(compose: dict[str, Any], broker: Any, pg_url: str, tmp_path: Path) -> None:
    from tests.conftest import _truncate

    _truncate(pg_url)
    tag = uuid.uuid4().hex[:8]
    services = compose["services"]
    init = services["init"]
    secrets = _secrets(tmp_path)
    env = _env(init, broker.bootstrap, pg_url, tag, secrets)
    done = subprocess.run(init["entrypoint"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout

    procs = {}
    port = free_port()
    for name in ("worker", "relay", "timers", "remits", "claims", "web"):
        log = (tmp_path / f"{name}.log").open("wb")
        service_env = _env(services[name], broker.bootstrap, pg_url, tag, secrets) | {"DENIALFLOW_WEB_PORT": str(port)}
        procs[name] = (subprocess.Popen(["denialflow", *services[name]["command"]], env=service_env, stderr=log), log)

    try:
        _run_the_stack(env, procs, broker, pg_url, tmp_path, port)
    finally:  # a failed check must not leave services running into the next test (the relay's lock)
        for proc, log in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    timers_env = _env(services["timers"], broker.bootstrap, pg_url, tag, secrets)
    checked = _cli(timers_env, "audit", "verify", "--checkpoints", "topic")
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the timer service signed what it saw
    assert not checked.stdout.startswith("0 checkpoints") and "matches every signed checkpoint" in checked.stdout


def _run_the_stack(env: dict[str, str], procs: dict[str, Any], broker: Any, pg_url: str, tmp_path: Path,
                   port: int) -> None:  # fmt: skip
    events = list(demo_events(24))
    feed = tmp_path / "events.jsonl"
    feed.write_text("".join(json.dumps(e) + "\n" for e in events))
    published = _cli(env, "publish", str(feed))
    assert published.returncode == 0, published.stderr
    assert f"published {len(events)} events" in published.stdout
    # a clearinghouse drops a raw 835 on clearinghouse.remits: 4 denials, and 8 paid lines and
    # claims (the payer's answers for any open denial of theirs: none here)
    settings = Settings(bootstrap_servers=broker.bootstrap)
    producer = make_producer(settings)
    producer.send(env["DENIALFLOW_REMITS_TOPIC"], value=(SAMPLES / "edi-835-parser/emedny_sample.txt").read_bytes())
    # the billing system drops an outgoing 837 on claims.outbound: one claim to check
    producer.send(env["DENIALFLOW_CLAIMS_OUTBOUND_TOPIC"], value=(SAMPLES.parent / "837/uhin__837.edi").read_bytes())
    producer.flush()
    producer.close()
    expected = len(events) + 12 + 1

    # the 835's claims are from 2010: their deadline, aging and follow-up timers are long
    # due, so the timer service fires them at once and the worker applies each fire event
    _settle(pg_url, expected)
    _act_through_the_web_service(env, port)
    expected += 1
    _settle(pg_url, expected)
    _until_signed(pg_url)
    for name, (proc, _) in procs.items():
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (tmp_path / f"{name}.log").read_text()[-2000:]
    others, fires, _ = applied(pg_url)
    assert fires > 0
    assert others == expected

    verified = _cli(env, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout
    closed = next(e for e in events if e["type"] == "denial.closed")["denial_id"]
    shown = json.loads(_cli(env, "show", closed, "--json").stdout)
    assert shown["state"] == "closed" and shown["patient"]["member_id"].startswith("*")
    assert [h["trigger"] for h in shown["history"]][:3] == ["receive", "classify", "assign"]
    replayed = _cli(env, "audit", "replay", closed)
    assert replayed.returncode == 0 and "reaches the stored state" in replayed.stdout


def applied(url: str) -> tuple[int, int, int]:
    """Events processed other than timer fires; timer fires processed; timers marked fired whose
    fire is not processed yet. Fires are told by their ids, not by counting fired timer rows: a
    denial worked after a timer fired re-arms the timer (a new generation, not fired), so how
    many rows show fired depends on when the timer service ticked."""
    engine = make_engine(url)
    t = store.TIMERS.c
    with engine.connect() as conn:
        ids = set(conn.scalars(select(store.PROCESSED.c.event_id)))
        fired = conn.execute(select(t.denial_id, t.rule, t.generation).where(t.fired_at.is_not(None)))
        unapplied = {f"timer-{d}-{rule}-{generation}" for d, rule, generation in fired} - ids
    engine.dispose()
    fires = sum(i.startswith("timer-") for i in ids)
    return len(ids) - fires, fires, len(unapplied)


def _settle(url: str, expected: int) -> None:
    """Until every published event (and every timer fired so far) is applied and relayed."""
    deadline = time.monotonic() + 60
    while (state := applied(url))[0] < expected or state[2] or outbox_count(url):
        assert time.monotonic() < deadline, (state, expected)
        time.sleep(0.1)


def _until_signed(url: str) -> None:
    """Until the timer service has signed a checkpoint and the relay has sent it."""
    engine = make_engine(url)
    deadline = time.monotonic() + 60
    while True:
        with engine.connect() as conn:
            signed = conn.scalar(select(func.count()).select_from(CHECKPOINTS))
        if signed and not outbox_count(url):
            break
        assert time.monotonic() < deadline, "the timer service signed no checkpoint"
        time.sleep(0.1)
    engine.dispose()


def _get(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    if data:
        headers["Content-Type"] = "application/json"
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as response:
        return json.loads(response.read())


def _act_through_the_web_service(env: dict[str, str], port: int) -> None:
    """The web service as compose starts it: healthy, serves the dashboard's numbers to a
    lead's token, and an action it publishes is applied by the worker service."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            assert _get(f"{base}/healthz")["status"] == "ok"
            break
        except OSError:
            assert time.monotonic() < deadline, "the web service did not answer /healthz"
            time.sleep(0.2)
    token = _cli(env, "tokens", "create", "robin.lead", "--role", "lead").stdout.strip()
    stuck = _get(f"{base}/api/stuck", token)
    assert _get(f"{base}/api/dashboard?start=2026-08-01&end=2026-12-31", token)["open"]["count"] > 0
    target = next(i for i in stuck if i["state"] == "escalated")
    data = {"owner": "morgan.lead", "reason": "taking it over"}
    sent = _get(f"{base}/api/denials/{target['id']}/events", token, {"type": "denial.reassigned", "data": data})
    deadline = time.monotonic() + 30
    while _get(f"{base}{sent['check']}", token)["outcome"] == "pending":
        assert time.monotonic() < deadline, "the worker did not apply the web service's event"
        time.sleep(0.2)
    assert _get(f"{base}{sent['check']}", token)["outcome"] == "applied"
    assert _get(f"{base}/api/denials/{target['id']}", token)["owner"] == "morgan.lead"


def test_publish_refuses_a_file_with_an_invalid_line_and_sends_nothing(broker: Any, tmp_path: Path) -> None:
    topic = f"{uuid.uuid4().hex[:8]}.events"
    env = {**os.environ, "DENIALFLOW_BOOTSTRAP_SERVERS": broker.bootstrap, "DENIALFLOW_EVENTS_TOPIC": topic}
    good = next(demo_events(1))
    bad = {**good, "event_id": "x", "data": {**good["data"], "billed_amount": "lots"}}
    feed = tmp_path / "events.jsonl"
    feed.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    result = _cli(env, "publish", str(feed))
    assert result.returncode == 2
    assert f"{feed}:2: schema.invalid_field (data.billed_amount)" in result.stdout
    assert "nothing published" in result.stdout
    settings = Settings(bootstrap_servers=broker.bootstrap, events_topic=topic)
    ensure_topics(settings)
    assert read_topic(settings, topic) == []
