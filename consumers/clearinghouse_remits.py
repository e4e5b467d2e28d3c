"""The `clearinghouse.remits` consumer: raw X12 835 text in, remittance events out.

Back-office automation may publish whole remittance files to this topic instead of
calling `denialflow ingest`. Each message is one file and is all or nothing: its
events are published and acknowledged, or the message goes to the dead-letter
topic with the parser's reason (and its bytes to quarantine, as `denialflow ingest`
keeps them). The order per poll: publish every file's events and dead letters, wait
for the broker's acknowledgements, write each file's ingest record, only then commit
the offsets. A crash before the commit re-reads the same files, which re-publish the
same event ids (the engine skips them) and refresh the same records. The database or
the broker being away is waited out with the files in hand (`engine.runtime.poll_loop`).
"""

import io
import time
from typing import Any

import structlog
from kafka import KafkaConsumer, KafkaProducer

from engine.clock import clock_from
from engine.config import Settings
from engine.errors import Rejected
from engine.intake import quarantine
from engine.intake.ingest import FileResult, ingest_stream
from engine.intake.records import Inbound, dead_letter
from engine.runtime.heartbeat import Heartbeat
from engine.runtime.kafka import flush_waiting, make_consumer, make_producer
from engine.runtime.outage import GaveUp
from engine.runtime.poll_loop import Polled, PollLoop
from engine.storage.db import make_engine
from workflows.payers import PayerPolicies

log = structlog.get_logger("denialflow.remits")
FILES_PER_POLL = 50


class RemitConsumer(PollLoop):
    def __init__(self, consumer: KafkaConsumer, producer: KafkaProducer, settings: Settings) -> None:
        engine = make_engine(settings.database_url)
        super().__init__(consumer, poll_timeout_ms=settings.poll_timeout_ms, max_records=FILES_PER_POLL,
                         heartbeat=Heartbeat(engine, "remits"), log=log)  # fmt: skip
        self.producer, self.settings, self.engine = producer, settings, engine
        self.quarantine = quarantine.directory(settings)
        self.clock = clock_from(settings.now)
        self.capitated = PayerPolicies.load(settings.payers_file).capitated_payers

    def _send(self, futures: list[Any]) -> Any:
        topic = self.settings.events_topic
        return lambda key, value: futures.append(self.producer.send(topic, key=key, value=value))

    def handle(self, polled: Polled) -> None:
        """Publish, then record, then commit; each step waits out an outage with the files in hand."""
        started = time.perf_counter()
        records = [r for batch in polled.values() for r in batch]
        read = self.waited_out(polled, lambda: self._publish(polled, records))
        now = self.clock()
        self.waited_out(polled, lambda: [quarantine.remember(self.engine, self.quarantine, result, raw, now)
                                         for result, raw in read])  # fmt: skip
        self.waited_out(polled, lambda: self.commit(polled))
        log.info("remits.committed", files=len(records), events=sum(res.published for res, _ in read),
                 refused=sum(1 for res, _ in read if res.error), warned=sum(1 for res, _ in read if res.warnings),
                 ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip

    def _publish(self, polled: Polled, records: list[Any]) -> list[tuple[FileResult, bytes]]:
        """Every file's events and dead letters, acknowledged; raises the first failure (a retry
        publishes the same event ids again, which the engine skips)."""
        futures: list[Any] = []
        read: list[tuple[FileResult, bytes]] = []
        for r in records:
            raw = r.value or b""
            name = f"{r.topic}/{r.partition}/{r.offset}"
            result = ingest_stream(io.BytesIO(raw), name, self._send(futures), capitated=self.capitated)
            read.append((result, raw))
            if result.error is None:
                continue
            msg = Inbound(r.topic, r.partition, r.offset, r.key, raw)
            letter = dead_letter(msg, Rejected("x12.malformed", result.error), None, self.settings.dlq_topic)
            futures.append(self.producer.send(letter.topic, key=letter.key, value=letter.value,
                                              headers=[(k, v.encode()) for k, v in letter.headers]))  # fmt: skip
            log.warning("remit.refused", reason=result.error, digest=result.digest, source=result.path)
        flush_waiting(self.producer, lambda: self._keep_alive(polled))
        for future in futures:
            future.get(timeout=0)  # raises the broker's refusal
        return read

    def _keep_alive(self, polled: Polled) -> None:
        """A flush the broker has not answered yet: one paused poll, so the group keeps us."""
        if not self._hold(polled, 0):
            raise GaveUp


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
        remits.engine.dispose()
