"""The consume loop both consumers share: poll, hand over a batch, wait out outages, stop cleanly.

While the database or the broker is away the batch in hand is held, not dropped and not
committed: every partition is paused and the loop keeps polling, so the group membership
(and ``max_poll_interval_ms``) stays satisfied and no rebalance starts; between polls the
step that failed is retried with a capped backoff. Should the group move one of the held
partitions to another member meanwhile, the batch is let go (its offsets were never
committed: the new owner reads it again, and the engine skips what is already applied).
"""

import signal
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from kafka import KafkaConsumer
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from kafka.structs import OffsetAndMetadata, TopicPartition

from engine.runtime.heartbeat import Heartbeat
from engine.runtime.outage import GaveUp, Outage

T = TypeVar("T")
Polled = dict[TopicPartition, list[Any]]
#: The group moved on (a rebalance) before the offsets went in: the records come again and are skipped.
_GROUP_MOVED_ON = (CommitFailedError, IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError)


class PollLoop:
    """Polls until stopped and passes each non-empty batch to `handle`, which commits what it
    finished. A stop (SIGTERM/SIGINT) lets the batch in hand finish first; offsets are never
    committed on close, so nothing unfinished is marked done."""

    def __init__(
        self, consumer: KafkaConsumer, *, poll_timeout_ms: int, max_records: int, heartbeat: Heartbeat, log: Any
    ) -> None:
        self.consumer = consumer
        self.poll_timeout_ms = poll_timeout_ms
        self.max_records = max_records
        self.stopping = False
        self.outage = Outage(heartbeat, log)
        self.records = 0
        self._lag: dict[TopicPartition, int] = {}
        # a commit waits at most half the poll interval, so a slow coordinator cannot cost the membership
        self._commit_timeout_ms = consumer.config["max_poll_interval_ms"] // 2

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish its current batch and return (safe from a signal handler)."""
        self.stopping = True

    def handle(self, polled: Polled) -> None:
        """Finish one batch: the steps that touch the database or the broker go through `waited_out`."""
        raise NotImplementedError

    def settle(self) -> None:
        """Finish what `handle` left in flight, before the loop returns (nothing, here)."""

    def figures(self) -> dict[str, Any]:
        """What the heartbeat carries: records finished, and the lag behind the fetched highwater."""
        return {"records": self.records, "lag": sum(self._lag.values())}

    def run(self, until: Callable[[], bool] = lambda: False, close: bool = True) -> None:
        """Until stopped or ``until()``; ``close=False`` keeps the group membership for another run."""
        try:
            while not self.stopping and not until():
                try:
                    polled = self.waited_out({}, self._poll)
                    if polled:
                        self.handle(polled)
                        self._note_lag(polled)
                    else:
                        self._lag.clear()
                except GaveUp:
                    continue  # stopping (the loop ends), or the batch went to another member
                self.outage.running(**self.figures())
            with suppress(GaveUp):  # stopping while the store is away: the records come again
                self.settle()
        finally:
            if close:
                self.consumer.close(autocommit=False)
            self.outage.stopped(**self.figures())

    def commit(self, polled: Polled) -> None:
        """The batch's offsets. The broker being away propagates (retriable); a group that moved on is fine."""
        offsets = {tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items()}
        try:
            self.consumer.commit(offsets, timeout_ms=self._commit_timeout_ms)
        except _GROUP_MOVED_ON as exc:
            self.outage.log.warning("offsets.not_committed", error=type(exc).__name__, partitions=len(offsets))

    def _poll(self) -> Polled:
        return self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)

    def _note_lag(self, polled: Polled) -> None:
        """Highwater minus the next offset, per partition just read: free, the fetch brought both."""
        for tp, batch in polled.items():
            self.records += len(batch)
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                self._lag[tp] = max(0, highwater - batch[-1].offset - 1)

    def waited_out(self, held: Polled, step: Callable[[], T]) -> T:
        """``step()`` until it succeeds, holding ``held`` through outages. Raises GaveUp when
        stopping or when a held partition moved to another member (the batch is let go)."""
        return self.outage.retry(step, lambda seconds: self._hold(held, seconds), self.figures)

    def _hold(self, held: Polled, seconds: float) -> bool:
        """Keep the membership for ``seconds`` without fetching; False if the held batch must go."""
        deadline = time.monotonic() + seconds
        self.consumer.pause(*self.consumer.assignment())
        try:
            while not self.stopping:
                timeout_ms = max(1, min(self.poll_timeout_ms, int((deadline - time.monotonic()) * 1000)))
                self._give_back(self._poll_paused(timeout_ms))
                assigned = self.consumer.assignment()
                self.consumer.pause(*assigned)
                if not held.keys() <= assigned:
                    break
                if time.monotonic() >= deadline:
                    return True
            self._give_back(held)
            return False
        finally:
            self.consumer.resume(*self.consumer.paused())

    def _poll_paused(self, timeout_ms: int) -> Polled:
        """A poll that only keeps the membership; the broker being away too just makes it a wait."""
        try:
            return self.consumer.poll(timeout_ms=timeout_ms)
        except KafkaError as exc:
            if not exc.retriable:
                raise
            time.sleep(timeout_ms / 1000)
            return {}

    def _give_back(self, polled: Polled) -> None:
        """Rewind each still-assigned partition to the first of these records: read again later."""
        assigned = self.consumer.assignment()
        for tp, batch in polled.items():
            if tp in assigned:
                self.consumer.seek(tp, batch[0].offset)

    def run_until_signalled(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.run()
