"""The `clearinghouse.remits` consumer: raw X12 835 text in, `denial.received` events out.

Back-office automation may publish whole remittance files to this topic instead of
calling `denialflow ingest`. Each message is one file and is all or nothing: its
events are published and acknowledged, or the message goes to the dead-letter
topic with the parser's reason; only then does the offset move. A crash between
publishing and committing re-publishes the same event ids, which the engine skips.
"""

import io
import time
from typing import Any

import structlog
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from engine.config import Settings
from engine.errors import Rejected
from engine.ingest import read_remittance
from engine.kafka import make_consumer, make_producer
from engine.poll_loop import PollLoop
from engine.processor import Inbound, dead_letter
from engine.x12.tokens import X12Error

log = structlog.get_logger("denialflow.remits")
FILES_PER_POLL = 50


def _collect(events: list[tuple[bytes, bytes]]) -> Any:
    return lambda key, value: events.append((key, value))


class RemitConsumer(PollLoop):
    def __init__(self, consumer: KafkaConsumer, producer: KafkaProducer, settings: Settings) -> None:
        super().__init__(consumer, poll_timeout_ms=settings.poll_timeout_ms, max_records=FILES_PER_POLL)
        self.producer, self.settings = producer, settings

    def handle(self, polled: dict[TopicPartition, list[Any]]) -> None:
        started = time.perf_counter()
        records = [r for batch in polled.values() for r in batch]
        futures, published, refused = [], 0, 0
        for r in records:
            events: list[tuple[bytes, bytes]] = []
            try:
                read_remittance(io.BytesIO(r.value or b""), _collect(events))
            except X12Error as exc:
                refused += 1
                msg = Inbound(r.topic, r.partition, r.offset, r.key, r.value or b"")
                letter = dead_letter(msg, Rejected("x12.malformed", str(exc)), None, self.settings.dlq_topic)
                futures.append(self.producer.send(letter.topic, key=letter.key, value=letter.value,
                                                  headers=[(k, v.encode()) for k, v in letter.headers]))  # fmt: skip
                log.warning("remit.refused", reason=str(exc), source=f"{r.topic}/{r.partition}/{r.offset}")
                continue
            for key, value in events:
                futures.append(self.producer.send(self.settings.events_topic, key=key, value=value))
            published += len(events)
        self.producer.flush()
        if any(f.failed() for f in futures):
            log.warning("remits.publish_failed", files=len(records))
            for tp, batch in polled.items():  # not committed: read the same files again
                self.consumer.seek(tp, batch[0].offset)
            time.sleep(1)
            return
        self.consumer.commit()
        log.info("remits.committed", files=len(records), events=published, refused=refused,
                 ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip


def build(settings: Settings) -> RemitConsumer:
    consumer = make_consumer(settings, settings.remits_topic, group_id=settings.remits_group_id,
                             max_poll_records=FILES_PER_POLL)  # fmt: skip
    return RemitConsumer(consumer, make_producer(settings), settings)


def run(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; the files in hand are finished and committed first."""
    remits = build(settings)
    log.info("remits.started", topic=settings.remits_topic, group=settings.remits_group_id)
    try:
        remits.run_until_signalled()
    finally:
        remits.producer.close()
