"""Publish a committed batch's outbox row, then delete it.

A crash between the database commit and the delete leaves the row behind; the next
start publishes it again (`sweep`). Consumers of the change feed therefore see
every transition at least once, and a repeat carries the same ``transition_id``.
"""

import zlib

from kafka import KafkaProducer
from sqlalchemy import Engine

from engine import store
from engine.errors import TransientError
from engine.messages import Message


class OutboxRelay:
    def __init__(self, producer: KafkaProducer, engine: Engine, flush_timeout: float = 30.0) -> None:
        self.producer = producer
        self.engine = engine
        self.flush_timeout = flush_timeout
        self._partitions: dict[str, int] = {}

    def _partition(self, topic: str, key: bytes | None) -> int | None:
        """crc32(key) mod partitions: same key, same partition, and cheaper than the
        client's pure-Python murmur2. Only the engine writes its output topics."""
        if key is None:
            return None
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(self.producer.partitions_for(topic))
        return zlib.crc32(key) % count

    def publish(self, messages: list[Message], outbox_id: int | None) -> None:
        """Send ``messages``, wait for every ack, then delete their outbox row."""
        if outbox_id is None:
            return
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
        self.producer.flush(self.flush_timeout)
        failed = next((f for f in futures if not f.succeeded()), None)
        if failed is not None:
            raise TransientError(f"publishing to Kafka failed: {failed.exception!r}")
        with self.engine.begin() as conn:
            store.delete_outbox(conn, [outbox_id])

    def sweep(self, chunk: int = 20) -> int:
        """Publish whatever an earlier run committed but never confirmed sending."""
        sent = 0
        while True:
            with self.engine.connect() as conn:
                pending = store.pending_outbox(conn, chunk)
            if not pending:
                return sent
            for outbox_id, messages in pending:
                self.publish(messages, outbox_id)
                sent += len(messages)
