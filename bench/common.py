"""Shared set-up for the benchmarks: the event set, fresh databases and topics."""

import json
import os
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from bench.results import RESULTS
from engine.config import Settings
from engine.demo.feed import SCENARIOS, demo_events
from engine.intake.claim_identity import receipt_denial_id
from engine.intake.events import partition_key
from engine.runtime.kafka import ensure_topics, make_producer
from engine.storage.db import normalize_url, upgrade


def event_set(total: int, denials: int) -> list[tuple[bytes, bytes]]:
    """``total`` (key, value) messages: receipts and follow-ups over ``denials`` denials.
    The demo paths with one extra touch each, topped up with more touches on the denials
    that stay open in `worked` (the "being worked" scenario)."""
    events = list(demo_events(denials, extra_touches=1))
    open_scenario = next(i for i, s in enumerate(SCENARIOS) if s.path == ("touch",))
    actors = {e["denial_id"]: (e["actor"], e["role"]) for e in events if e["type"] == "denial.touched"}
    open_receipts = [e for e in events if e["type"] == "denial.received"][open_scenario :: len(SCENARIOS)]
    for n in range(total - len(events)):
        rcv = open_receipts[n % len(open_receipts)]
        d = rcv["data"]
        denial_id = receipt_denial_id(d)
        at = datetime.fromisoformat(rcv["occurred_at"]) + timedelta(days=30 + n // len(open_receipts))
        actor, role = actors[denial_id]
        events.append({"event_id": f"bench-touch-{n}", "type": "denial.touched", "denial_id": denial_id,
                       "occurred_at": at.astimezone(UTC).isoformat(), "actor": actor, "role": role,
                       "data": {"note": "follow-up", "next_action_date": "2026-12-01"}})  # fmt: skip
    return [(partition_key(e), json.dumps(e).encode()) for e in _in_rounds(events[:total])]


def _in_rounds(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every receipt first, then every denial's first follow-up, then its second...: as in
    production, follow-ups arrive days later, so most events update a stored denial."""
    rounds: list[list[dict[str, Any]]] = []
    position: dict[bytes, int] = {}
    for e in events:
        key = partition_key(e)
        n = position[key] = position.get(key, -1) + 1
        while len(rounds) <= n:
            rounds.append([])
        rounds[n].append(e)
    return [e for r in rounds for e in r]


def database(kind: str, tag: str, pg_admin: str) -> str:
    if kind == "sqlite":
        path = RESULTS / f"{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        upgrade(f"sqlite:///{path}")
        return f"sqlite:///{path}"
    return fresh_postgres(pg_admin, f"denialflow_bench_{tag}")


def settled(engine: Engine) -> None:
    """Put a bulk-loaded store in the state a live one is in: a table in steady state has been
    vacuumed (autovacuum), a fresh load has not, and PostgreSQL reads an unvacuumed table's
    pages even for an index-only scan; both databases get fresh planner statistics."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def fresh_postgres(admin_url: str, name: str) -> str:
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    return url


def fresh_settings(base: Settings, database_url: str, partitions: int = 6) -> Settings:
    tag = uuid.uuid4().hex[:8]
    s = base.model_copy(update={
        "database_url": database_url, "events_topic": f"bench.{tag}.events",
        "transitions_topic": f"bench.{tag}.transitions", "dlq_topic": f"bench.{tag}.dlq",
        "group_id": f"bench.{tag}", "partitions": partitions,
    })  # fmt: skip
    ensure_topics(s)
    return s


def published(base: Settings, kind: str, tag: str, pg_admin: str, messages: list[tuple[bytes, bytes]]) -> Settings:
    """Fresh topics and a fresh database, with ``messages`` already on the events topic."""
    s = fresh_settings(base, database(kind, tag, pg_admin))
    publish(s, messages)
    return s


def publish(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(settings, max_in_flight_requests_per_connection=5)
    for key, value in messages:
        producer.send(settings.events_topic, key=key, value=value)
    producer.flush()
    producer.close()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p99": q[98], "max": max(values)}


def rows(d: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one by default), all its threads included."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:  # fields 14 and 15, after the parenthesised command name
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS
