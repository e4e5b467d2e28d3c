"""The consume loop both consumers share: poll, hand over a batch, stop cleanly on a signal."""

import signal
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition


class PollLoop:
    """Polls until stopped and passes each non-empty batch to `handle`, which commits what it
    finished. A stop (SIGTERM/SIGINT) lets the batch in hand finish first; offsets are never
    committed on close, so nothing unfinished is marked done."""

    def __init__(self, consumer: KafkaConsumer, *, poll_timeout_ms: int, max_records: int) -> None:
        self.consumer = consumer
        self.poll_timeout_ms = poll_timeout_ms
        self.max_records = max_records
        self.stopping = False

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish its current batch and return (safe from a signal handler)."""
        self.stopping = True

    def handle(self, polled: dict[TopicPartition, list[Any]]) -> None:
        raise NotImplementedError

    def run(self, until: Callable[[], bool] = lambda: False, close: bool = True) -> None:
        """Until stopped or ``until()``; ``close=False`` keeps the group membership for another run."""
        try:
            while not self.stopping and not until():
                polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
                if polled:
                    self.handle(polled)
        finally:
            if close:
                self.consumer.close(autocommit=False)

    def run_until_signalled(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.run()
