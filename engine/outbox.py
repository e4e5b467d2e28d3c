"""Publish committed outbox rows, then delete them.

A crash between the database commit and the delete leaves rows behind; the next
start publishes them again (`sweep`). Consumers of the change feed therefore see
every transition at least once, and a repeat carries the same ``transition_id``.
"""

from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import Engine

from engine import store
from engine.errors import TransientError


class OutboxRelay:
    def __init__(self, producer: KafkaProducer, engine: Engine, flush_timeout: float = 30.0) -> None:
        self.producer = producer
        self.engine = engine
        self.flush_timeout = flush_timeout

    def publish(self, rows: Sequence[dict[str, Any]], ids: Sequence[int]) -> None:
        """Send ``rows`` (stored under ``ids``), wait for every ack, then delete them."""
        if not rows:
            return
        futures = [
            self.producer.send(
                row["topic"], key=row["key"], value=row["value"], headers=[(k, v.encode()) for k, v in row["headers"]]
            )
            for row in rows
        ]
        self.producer.flush(self.flush_timeout)
        failed = next((f for f in futures if not f.succeeded()), None)
        if failed is not None:
            raise TransientError(f"publishing to Kafka failed: {failed.exception!r}")
        with self.engine.begin() as conn:
            store.delete_outbox(conn, ids)

    def sweep(self, chunk: int = 5000) -> int:
        """Publish whatever an earlier run committed but never confirmed sending."""
        sent = 0
        while True:
            with self.engine.connect() as conn:
                rows = store.pending_outbox(conn, chunk)
            if not rows:
                return sent
            self.publish(rows, [r["id"] for r in rows])
            sent += len(rows)
