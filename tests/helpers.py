"""Helpers shared by the integration tests: publish, run a worker, read topics, snapshot a store."""

import json
import threading
from collections.abc import Iterable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select

from consumers.denial_events import build_worker
from engine import store
from engine.config import Settings
from engine.db import make_engine
from engine.events import partition_key
from engine.kafka import make_producer
from engine.worker import Committed


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
    import time

    progress = Progress()
    worker = build_worker(settings, on_commit=progress)
    deadline = time.monotonic() + timeout
    try:
        worker.run(until=lambda: progress.records >= expected or time.monotonic() > deadline)
    finally:
        worker.relay.producer.close()
        worker.engine.dispose()
    assert progress.records >= expected, f"worker committed {progress.records} of {expected} records in {timeout}s"
    return progress


def read_topic(settings: Settings, topic: str, idle_ms: int = 700) -> list[Any]:
    """Every record on a topic, read from the beginning until it goes quiet."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()])
        records: list[Any] = []
        while polled := consumer.poll(timeout_ms=idle_ms):
            for batch in polled.values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


VOLATILE_DENIAL = {"updated_at", "version"}
VOLATILE_AUDIT = {"id", "recorded_at", "hash", "prev_hash"}


def snapshot(url: str) -> dict[str, Any]:
    """The store's content minus what legitimately differs between two runs (batch timing)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        denials = {
            r.id: {k: v for k, v in r._mapping.items() if k not in VOLATILE_DENIAL | {"audit_head"}}
            for r in conn.execute(select(store.DENIALS))
        }
        audit = [
            {k: v for k, v in r._mapping.items() if k not in VOLATILE_AUDIT}
            for r in conn.execute(select(store.AUDIT).order_by(store.AUDIT.c.denial_id, store.AUDIT.c.seq))
        ]
        processed = {r.event_id: r.outcome for r in conn.execute(select(store.PROCESSED))}
        outbox = conn.scalar(select(store.func.count()).select_from(store.OUTBOX))
    engine.dispose()
    return {"denials": denials, "audit": audit, "processed": processed, "outbox_left": outbox}
