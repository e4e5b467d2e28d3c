"""Helpers shared by the integration tests: publish, run a worker, read topics, snapshot a store."""

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Connection, Engine, func, select, text

from consumers.denial_events import build_worker
from engine.clock import as_utc
from engine.config import Settings
from engine.intake.events import partition_key
from engine.runtime.kafka import ensure_topics, make_producer
from engine.runtime.outbox import build_relay
from engine.runtime.worker import Committed
from engine.storage import store
from engine.storage.db import count_rows, make_engine


def publish(settings: Settings, events: Iterable[dict[str, Any] | bytes]) -> int:
    """Publish event documents (keyed by denial id) or raw bytes (unkeyed); return the count."""
    producer = make_producer(settings)
    n = 0
    for item in events:
        if isinstance(item, bytes):
            producer.send(settings.events_topic, value=item)
        else:
            producer.send(settings.events_topic, key=partition_key(item), value=json.dumps(item).encode())
        n += 1
    producer.flush()
    producer.close()
    return n


class Progress:
    """Thread-safe count of records committed by one or more workers."""

    def __init__(self) -> None:
        self.records = 0
        self.rejected = 0
        self.transitions = 0
        self._lock = threading.Lock()

    def __call__(self, c: Committed) -> None:
        with self._lock:
            self.records += c.records
            self.rejected += c.result.rejected
            self.transitions += c.result.transitions


def run_worker(settings: Settings, expected: int, timeout: float = 60.0) -> Progress:
    """Run a worker in this thread until ``expected`` records are committed."""
    progress = Progress()
    worker = build_worker(settings, on_commit=progress)
    deadline = time.monotonic() + timeout
    try:
        worker.run(until=lambda: progress.records >= expected or time.monotonic() > deadline)
    finally:
        worker.engine.dispose()
    assert progress.records >= expected, f"worker committed {progress.records} of {expected} records in {timeout}s"
    drain_outbox(settings)
    return progress


def drain_outbox(settings: Settings) -> int:
    """Run the relay until every committed outbox row is published."""
    relay = build_relay(settings)
    try:
        return relay.drain()
    finally:
        relay.producer.close()
        relay.engine.dispose()


def read_topic(settings: Settings, topic: str, idle_ms: int = 700, first_ms: int = 3000) -> list[Any]:
    """Every record on a topic, read from the beginning until it goes quiet.

    The broker's end offsets cannot be trusted (Tansu reports batch counts), so "the end" is
    a quiet poll; the first poll waits longer because it also pays for the connection and the
    offset look-up, and a slow first fetch must not read as an empty topic. An end offset of 0
    on every partition can be trusted (no batch was ever acknowledged), so an empty topic
    answers at once: the app under test waits for the broker's ack before it replies."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        partitions = [TopicPartition(topic, p) for p in _partitions(consumer, topic)]
        if not any(consumer.end_offsets(partitions).values()):
            return []
        consumer.assign(partitions)
        records: list[Any] = []
        timeout = first_ms
        while polled := consumer.poll(timeout_ms=timeout):
            for batch in polled.values():
                records.extend(batch)
            timeout = idle_ms
        return records
    finally:
        consumer.close()


def _partitions(consumer: KafkaConsumer, topic: str, timeout: float = 10.0) -> set[int]:
    """The topic's partitions, waiting out a metadata refresh that has not answered yet."""
    deadline = time.monotonic() + timeout
    while not (parts := consumer.partitions_for_topic(topic)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert parts, f"topic {topic} has no partitions after {timeout}s"
    return parts


VOLATILE_DENIAL = {"updated_at", "version"}
VOLATILE_AUDIT = {"id", "recorded_at", "hash", "prev_hash"}


def _plain(row: Any, drop: set[str]) -> dict[str, Any]:
    return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items() if k not in drop}


def snapshot(url: str) -> dict[str, Any]:
    """The store's content minus what legitimately differs between two runs (batch timing),
    in a form that compares equal across SQLite and PostgreSQL."""
    engine = make_engine(url)
    with engine.connect() as conn:
        denials = {r.id: _plain(r, VOLATILE_DENIAL | {"audit_head"}) for r in conn.execute(select(store.DENIALS))}
        audit = [
            _plain(r, VOLATILE_AUDIT)
            for r in conn.execute(select(store.AUDIT).order_by(store.AUDIT.c.denial_id, store.AUDIT.c.seq))
        ]
        processed = {r.event_id: r.outcome for r in conn.execute(select(store.PROCESSED))}
        outbox = conn.scalar(select(func.count()).select_from(store.OUTBOX))
        workload = {r.owner: r.open for r in conn.execute(select(store.WORKLOAD)) if r.open}
    engine.dispose()
    return {"denials": denials, "audit": audit, "processed": processed, "outbox_left": outbox, "workload": workload}


def variant(settings: Settings, **changes: Any) -> Settings:
    """The same events topic with a fresh group and fresh output topics (and any other change)."""
    tag = uuid.uuid4().hex[:8]
    fresh = {
        "group_id": f"{settings.group_id}.{tag}",
        "transitions_topic": f"{settings.transitions_topic}.{tag}",
        "dlq_topic": f"{settings.dlq_topic}.{tag}",
    }
    new = settings.model_copy(update={**fresh, **changes})
    ensure_topics(new)
    return new


def processed_count(url: str) -> int:
    return count_rows(url, store.PROCESSED)


def outbox_count(url: str) -> int:
    return count_rows(url, store.OUTBOX)


def feed_summary(settings: Settings) -> tuple[set[str], dict[str, list[int]]]:
    """Distinct transition ids on the change feed, and each denial's seqs in first-seen order."""
    seen: set[str] = set()
    order: dict[str, list[int]] = {}
    for record in read_topic(settings, settings.transitions_topic):
        doc = json.loads(record.value)
        if doc["transition_id"] not in seen:
            seen.add(doc["transition_id"])
            order.setdefault(doc["denial_id"], []).append(doc["seq"])
    return seen, order


def settings_env(settings: Settings) -> dict[str, str]:
    """The DENIALFLOW_* variables that make a child process use these settings."""
    return {f"DENIALFLOW_{k.upper()}": str(v) for k, v in settings.model_dump().items() if v is not None}


@contextmanager
def tampering(engine: Engine) -> Iterator[Connection]:
    """A transaction as an insider with the owner's rights, who lifts the append-only trigger first.
    PostgreSQL's test database serves the whole session, so the trigger is back at commit; a SQLite
    store is a fresh file per test."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
            yield conn
            conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(text("DROP TRIGGER audit_entries_no_delete"))
            yield conn
