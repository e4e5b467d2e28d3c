"""The consume -> apply -> commit loop.

Commit order, per polled batch (this is what makes a crash anywhere safe):
  1. one database transaction: denial rows, audit entries, processed event ids and
     the outbox row (change feed + dead letters) commit together, or not at all;
  2. only then are the Kafka offsets committed.
A crash before 1 redoes the batch; between 1 and 2 the redelivered records are
found in the processed table and skipped. The outbox row is durable from step 1,
and the relay (`engine.runtime.outbox`, its own process) publishes it: nothing the batch
produced can be lost, and the worker does not spend its core on producing. Offsets
are committed before the next poll, and a rebalance only happens inside poll, so a
revoked partition never has uncommitted work. (On PostgreSQL the pipelined worker,
`engine.runtime.pipeline`, polls once before a batch's offsets go in; what a rebalance
then moves is read again and skipped as processed.)

A record whose content the store refuses (a value past a column's range the schema let
through) must not stop the partition: the batch is then committed one record at a time, and
the refused record is dead-lettered as `engine.internal_error` naming what the store raised.

The database or the broker being away is waited out with the batch in hand (see
`engine.runtime.poll_loop`): step 1 or 2 is retried until it succeeds, and a step 1 that did commit
is not redone for a failed step 2.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from kafka import KafkaConsumer
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from engine.errors import TransientError
from engine.intake.records import Inbound
from engine.runtime.heartbeat import Heartbeat
from engine.runtime.poll_loop import Polled, PollLoop
from engine.runtime.processor import BatchResult, Processor
from engine.storage import store
from engine.storage.wal import WalCheckpointer

log = structlog.get_logger("denialflow.worker")

#: What the store raises for a value it cannot hold (PostgreSQL: too long, out of range, NUL;
#: SQLite: an integer past 64 bits): the record's fault, not the database's being away.
UNWRITABLE = (DataError, OverflowError)


@dataclass(frozen=True, slots=True)
class Committed:
    """What the `on_commit` hook hears after each batch (benchmarks use it for latency)."""

    result: BatchResult
    records: int
    committed_at: float  # when the batch's transaction committed (its offsets follow)
    timestamps_ms: list[int]


def inbound(polled: Polled) -> list[Inbound]:
    """A poll's records in the processor's terms, partition by partition."""
    return [Inbound(r.topic, r.partition, r.offset, r.key, r.value) for batch in polled.values() for r in batch]


class Worker(PollLoop):
    def __init__(
        self,
        consumer: KafkaConsumer,
        engine: Engine,
        processor: Processor,
        *,
        batch_size: int,
        poll_timeout_ms: int,
        db_retries: int,
        on_commit: Callable[[Committed], None] | None = None,
        heartbeat: Heartbeat | None = None,
        checkpointer: WalCheckpointer | None = None,
    ) -> None:
        super().__init__(consumer, poll_timeout_ms=poll_timeout_ms, max_records=batch_size,
                         heartbeat=heartbeat or Heartbeat(engine, "worker"), log=log)  # fmt: skip
        self.engine = engine
        self.processor = processor
        self.db_retries = db_retries
        self.on_commit = on_commit
        self.checkpointer = checkpointer  # SQLite: takes the WAL checkpoints out of our commits

    def run(self, until: Callable[[], bool] = lambda: False, close: bool = True) -> None:
        try:
            super().run(until, close)
        finally:
            if close and self.checkpointer:
                self.checkpointer.close()

    def handle(self, polled: Polled) -> None:
        started = time.perf_counter()
        messages = inbound(polled)
        result = self.waited_out(polled, lambda: self._commit_batch(messages))
        self.finish(polled, result, started, time.time())

    def finish(
        self, polled: Polled, result: BatchResult, started: float, committed_at: float, held: Polled | None = None
    ) -> None:
        """Step 2 for a batch whose transaction committed: its offsets (``held``: what an outage
        meanwhile holds, the batch by default), then the log line and the `on_commit` hook."""
        self.waited_out(held or polled, lambda: self.commit(polled))
        records = [r for batch in polled.values() for r in batch]
        log.info(
            "batch.committed",
            records=len(records),
            applied=result.applied,
            transitions=result.transitions,
            duplicates=result.duplicates,
            rejected=result.rejected,
            rejected_by_code=result.rejected_by_code or None,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        if self.on_commit:
            self.on_commit(Committed(result, len(records), committed_at, [r.timestamp for r in records]))

    def _commit_batch(self, messages: list[Inbound]) -> BatchResult:
        """Step 1 of the commit order, never half-applied; a batch the store refuses for one
        record's content is committed record by record instead (`_commit_each`)."""
        try:
            return self._commit(messages)
        except UNWRITABLE as exc:
            if len(messages) == 1:
                log.error("event.unwritable", topic=messages[0].topic, offset=messages[0].offset,
                          error=type(exc).__name__)  # fmt: skip
                return self._commit(messages, unwritable=exc)
            log.warning("batch.unwritable", records=len(messages), error=type(exc).__name__)
            return self._commit_each(messages)

    def _commit_each(self, messages: list[Inbound]) -> BatchResult:
        """The batch as single-record transactions, in order, summed into one result."""
        total: BatchResult | None = None
        for message in messages:
            result = self._commit_batch([message])
            total = result if total is None else total.merged(result)
        assert total is not None
        return total

    def _commit(self, messages: list[Inbound], unwritable: Exception | None = None) -> BatchResult:
        """One transaction. A lost race with another worker is retried ``db_retries`` times
        here; the database being away propagates, to be waited out."""
        for attempt in range(self.db_retries + 1):
            try:
                with self.engine.begin() as conn:
                    result = self.processor.process(conn, messages, unwritable)
                    store.write_batch(conn, result.write, result.now)
                if self.checkpointer:
                    self.checkpointer.nudge()
                return result
            except (TransientError, IntegrityError) as exc:
                retry = attempt < self.db_retries
                log.warning("batch.retry" if retry else "batch.failed", attempt=attempt + 1, error=type(exc).__name__)
                if not retry:
                    raise
                time.sleep(min(0.1 * 2**attempt, 2.0))
        raise AssertionError("unreachable")
