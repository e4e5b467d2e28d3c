"""The relay: publishes committed outbox rows to Kafka, then deletes them.

The worker commits a batch's state, audit entries and outbox row in one transaction
and moves its offsets on; this loop, in its own process, does the sending. It takes
rows in id order, waits for every acknowledgement, and only then deletes the row. A
crash before the delete means the row is sent again: consumers of the change feed
see every transition at least once, and a repeat carries the same ``transition_id``.

One relay is active at a time, so the feed keeps commit order; on PostgreSQL others
stand by on an advisory lock and take over when the active one goes away.
"""

import signal
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from kafka import KafkaProducer
from sqlalchemy import Engine, text

from engine import store
from engine.config import Settings
from engine.db import make_engine
from engine.errors import TransientError
from engine.kafka import make_producer
from engine.messages import Message

log = structlog.get_logger("denialflow.relay")
_LOCK_KEY = 0x64656E6961  # "denia": the relay's advisory lock


class OutboxRelay:
    def __init__(self, producer: KafkaProducer, engine: Engine, idle_seconds: float = 0.02, chunk: int = 10) -> None:
        self.producer = producer
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.chunk = chunk
        self.stopping = False
        self.published = 0
        self._partitions: dict[str, int] = {}

    def stop(self, *_: object) -> None:
        self.stopping = True

    def _partition(self, topic: str, key: bytes | None) -> int | None:
        """crc32(key) mod partitions: same key, same partition, and cheaper than the
        client's pure-Python murmur2. Only the engine writes its output topics."""
        if key is None:
            return None
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(self.producer.partitions_for(topic))
        return zlib.crc32(key) % count

    def publish(self, messages: list[Message], outbox_id: int) -> None:
        """Send one outbox row's messages, wait for every ack, then delete the row."""
        futures = [
            self.producer.send(
                m.topic,
                key=m.key,
                value=m.value,
                headers=[(k, v.encode()) for k, v in m.headers],
                partition=self._partition(m.topic, m.key),
            )
            for m in messages
        ]
        self.producer.flush()
        failed = next((f for f in futures if not f.succeeded()), None)
        if failed is not None:
            raise TransientError(f"publishing to Kafka failed: {failed.exception!r}")
        with self.engine.begin() as conn:
            store.delete_outbox(conn, [outbox_id])
        self.published += len(messages)

    def drain(self) -> int:
        """Publish every committed row now; return how many messages went out."""
        sent = 0
        while True:
            with self.engine.connect() as conn:
                pending = store.pending_outbox(conn, self.chunk)
            for outbox_id, messages in pending:
                self.publish(messages, outbox_id)
                sent += len(messages)
            if len(pending) < self.chunk:
                return sent

    def run(self, until: Callable[[], bool] = lambda: False) -> None:
        with self._active():
            log.info("relay.active")
            while not self.stopping and not until():
                if not self.drain():
                    time.sleep(self.idle_seconds)

    @contextmanager
    def _active(self) -> Iterator[None]:
        """Hold the single-relay lock for as long as we publish (PostgreSQL)."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            while not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}):
                conn.rollback()
                if self.stopping:
                    return
                time.sleep(1.0)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()


def build_relay(settings: Settings) -> OutboxRelay:
    return OutboxRelay(make_producer(settings), make_engine(settings.database_url))


def run(settings: Settings) -> None:
    """`denialflow relay`: publish until SIGTERM/SIGINT (the row in hand is finished first)."""
    relay = build_relay(settings)
    signal.signal(signal.SIGTERM, relay.stop)
    signal.signal(signal.SIGINT, relay.stop)
    log.info("relay.started")
    try:
        relay.run()
    finally:
        relay.producer.close()
        relay.engine.dispose()
