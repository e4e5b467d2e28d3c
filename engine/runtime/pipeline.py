"""The worker on PostgreSQL: batch N's write runs in a thread while batch N+1 is worked.

A PostgreSQL batch spends about a third of its time in its write (COPY, the update, the
commit), most of it waiting on the server. Here that write is handed to one writer thread,
and the next batch is worked meanwhile on a read connection, with the batch in flight laid
over what it reads (`Processor.process_ahead`): the denials it changed, the event ids it
recorded, the open work it left. The commit order per batch is unchanged: its transaction
commits, then its offsets. Each batch's write waits for the one before it to commit.

Whatever goes wrong falls back to the sequential path, which knows every case: a write that
failed (a lost race, a value the store refuses, the database away) is redone by
`Worker._commit_batch` from the store, and the batch worked ahead of it is dropped and
worked again the same way. A batch with events outside the denials (prevention) is worked
sequentially too. While a write is in flight the loop only takes records already fetched;
with none waiting it lands the write first, so an idle engine's latency is unchanged.

One thing differs from the sequential worker: the poll that brings batch N+1 runs before
N's offsets are committed, so a rebalance in it can hand N's partitions to another member
before they are. That member reads N's records again and skips them as processed (or, if it
gets there while N's write is still in flight, one of the two transactions fails on the
processed-event key and is redone, finding them processed): nothing is applied twice.
SQLite does not gain: its driver retakes the GIL for every row, which a busy main thread holds.
"""

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog

from engine.intake.records import Inbound
from engine.runtime.poll_loop import Polled
from engine.runtime.processor import BatchResult
from engine.runtime.worker import Worker, inbound
from engine.storage import store

log = structlog.get_logger("denialflow.worker")


@dataclass(frozen=True, slots=True)
class _InFlight:
    polled: Polled
    messages: list[Inbound]
    result: BatchResult
    started: float
    write: Future[float]  # when its transaction committed


def _joined(first: Polled, then: Polled) -> Polled:
    """Two polls' records held as one: given back, each partition rewinds to its first."""
    return {tp: [*first.get(tp, []), *then.get(tp, [])] for tp in first.keys() | then.keys()}


class PipelinedWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="batch-writer")
        self._in_flight: _InFlight | None = None

    def run(self, until: Callable[[], bool] = lambda: False, close: bool = True) -> None:
        try:
            super().run(until, close)
        finally:
            if close:
                self._writer.shutdown()

    def handle(self, polled: Polled) -> None:
        started = time.perf_counter()
        messages = inbound(polled)
        flight = self._in_flight
        # a poll short of a full batch means the engine is keeping up: no backlog to overlap,
        # and working ahead would only hold this batch's commit behind the next one
        full = len(messages) >= self.max_records
        ahead = self._ahead(messages, flight.result if flight else None) if full else None
        if not self._land(also_held=polled):
            ahead = None  # worked over a write that did not land as worked
        if ahead is None:
            super().handle(polled)
            return
        self._in_flight = _InFlight(polled, messages, ahead, started, self._writer.submit(self._write, ahead))

    def settle(self) -> None:
        self._land()

    def _poll(self) -> Polled:
        if self._in_flight is not None:
            polled: Polled = self.consumer.poll(timeout_ms=0, max_records=self.max_records)
            if polled:
                return polled
            self._land()  # nothing fetched yet: land the write now rather than after a poll's wait
        return super()._poll()

    def _ahead(self, messages: list[Inbound], after: BatchResult | None) -> BatchResult | None:
        """The batch worked on a read connection, or None: it goes the sequential way (a batch
        with prevention events, or the database refusing the reads, which that way waits out)."""
        try:
            with self.engine.connect() as conn:
                return self.processor.process_ahead(conn, messages, after)
        except Exception as exc:  # the sequential path meets it again and knows what it is
            log.warning("batch.not_ahead", records=len(messages), error=type(exc).__name__)
            return None

    def _write(self, result: BatchResult) -> float:
        """The writer thread's one job: the batch's transaction."""
        with self.engine.begin() as conn:
            store.write_batch(conn, result.write, result.now)
        return time.time()

    def _land(self, also_held: Polled | None = None) -> bool:
        """Wait for the write in flight, then commit its offsets. A write that failed is redone
        the sequential way, from the store; True if it landed as it was worked. ``also_held``:
        the poll in hand, given back with the batch in flight if the group moves on meanwhile."""
        flight, self._in_flight = self._in_flight, None
        if flight is None:
            return True
        held = _joined(flight.polled, also_held or {})
        try:
            result, committed_at, landed = flight.result, flight.write.result(), True
        except Exception as exc:  # the sequential path meets it again and knows what it is
            log.warning("batch.write_redone", records=len(flight.messages), error=type(exc).__name__)
            result = self.waited_out(held, lambda: self._commit_batch(flight.messages))
            committed_at, landed = time.time(), False
        self.finish(flight.polled, result, flight.started, committed_at, held)
        return landed
