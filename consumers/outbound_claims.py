"""The `claims.outbound` consumer: raw X12 837 text in, `claim.submitted` events out.

A billing system may publish each outgoing 837 file to this topic before it goes to the
clearinghouse; the worker checks every claim against the patient's authorizations and
publishes the verdicts on `claims.checked`. Each message is one file and is all or nothing:
its claims are published and acknowledged, or the message goes to the dead-letter topic
with the reader's reason (segment and problem). Offsets are committed only after the
broker acknowledged everything the poll produced; a crash before that re-reads the same
files, whose event ids repeat (the engine skips them). The broker being away is waited out
with the files in hand (`engine.runtime.poll_loop`).
"""

import io
import time
from typing import Any

import structlog
from kafka import KafkaConsumer, KafkaProducer

from engine.clock import clock_from
from engine.config import Settings
from engine.errors import Rejected
from engine.intake.outbound_claims import publish_file, read_claim_file
from engine.intake.records import Inbound, dead_letter
from engine.runtime.heartbeat import Heartbeat
from engine.runtime.kafka import flush_waiting, make_consumer, make_producer
from engine.runtime.outage import GaveUp
from engine.runtime.poll_loop import Polled, PollLoop
from engine.storage.db import make_engine

log = structlog.get_logger("denialflow.claims")
FILES_PER_POLL = 50


class ClaimsConsumer(PollLoop):
    def __init__(self, consumer: KafkaConsumer, producer: KafkaProducer, settings: Settings) -> None:
        self.engine = make_engine(settings.database_url)  # the heartbeat's store
        super().__init__(consumer, poll_timeout_ms=settings.poll_timeout_ms, max_records=FILES_PER_POLL,
                         heartbeat=Heartbeat(self.engine, "claims"), log=log)  # fmt: skip
        self.producer, self.settings = producer, settings
        self.clock = clock_from(settings.now)

    def handle(self, polled: Polled) -> None:
        started = time.perf_counter()
        records = [r for batch in polled.values() for r in batch]
        claims, refused = self.waited_out(polled, lambda: self._publish(polled, records))
        self.waited_out(polled, lambda: self.commit(polled))
        log.info("claims.committed", files=len(records), claims=claims, refused=refused,
                 ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip

    def _publish(self, polled: Polled, records: list[Any]) -> tuple[int, int]:
        """Every file's claims and dead letters, acknowledged; raises the first failure."""
        futures: list[Any] = []
        topic = self.settings.events_topic
        claims = refused = 0
        for r in records:
            raw = r.value or b""
            result = read_claim_file(io.BytesIO(raw), f"{r.topic}/{r.partition}/{r.offset}", self.clock)
            if result.error is None:
                claims += publish_file(result, lambda k, v: futures.append(self.producer.send(topic, key=k, value=v)))
                continue
            refused += 1
            msg = Inbound(r.topic, r.partition, r.offset, r.key, raw)
            letter = dead_letter(msg, Rejected("x12.malformed", result.error), None, self.settings.dlq_topic)
            futures.append(self.producer.send(letter.topic, key=letter.key, value=letter.value,
                                              headers=[(k, v.encode()) for k, v in letter.headers]))  # fmt: skip
            log.warning("claims.refused", reason=result.error, source=result.name)
        flush_waiting(self.producer, lambda: self._keep_alive(polled))
        for future in futures:
            future.get(timeout=0)
        return claims, refused

    def _keep_alive(self, polled: Polled) -> None:
        if not self._hold(polled, 0):
            raise GaveUp


def build(settings: Settings) -> ClaimsConsumer:
    consumer = make_consumer(settings, settings.claims_outbound_topic, group_id=settings.claims_group_id,
                             max_poll_records=FILES_PER_POLL)  # fmt: skip
    return ClaimsConsumer(consumer, make_producer(settings), settings)


def run(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; the files in hand are finished and committed first."""
    claims = build(settings)
    log.info("claims.started", topic=settings.claims_outbound_topic, group=settings.claims_group_id)
    try:
        claims.run_until_signalled()
    finally:
        claims.producer.close()
        claims.engine.dispose()
