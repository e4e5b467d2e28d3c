"""The relay: publishes committed outbox rows to Kafka, then deletes them.

The worker commits a batch's state, audit entries and outbox row in one transaction
and moves its offsets on; this loop, in its own process, does the sending. It takes
rows in id order, waits for every acknowledgement, and only then deletes the row. A
crash before the delete means the row is sent again: consumers of the change feed
see every transition at least once, and a repeat carries the same ``transition_id``.

One relay is active at a time, so the feed keeps commit order; on PostgreSQL others
stand by on an advisory lock and take over when the active one goes away.

A message the broker can never take (too large, an invalid topic: any error that is not
retriable) is parked in `parked_messages` with its reason, and the row's other messages
still go out: one message cannot wedge the feed. The database or the broker being away is
waited out (`engine.runtime.outage`): the row in hand is kept and tried again until it goes.
"""

import contextlib
import signal
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from engine.config import Settings
from engine.runtime import parked
from engine.runtime.heartbeat import Heartbeat
from engine.runtime.kafka import flush_waiting, make_producer
from engine.runtime.messages import Message
from engine.runtime.outage import WAITING_FOR_BROKER, GaveUp, Outage, sleeper
from engine.storage import store
from engine.storage.db import make_engine

log = structlog.get_logger("denialflow.relay")
_LOCK_KEY = 0x64656E6961  # "denia": the relay's advisory lock


def unsendable(exc: BaseException) -> bool:
    """The broker or the client refuses this message for good: resending cannot help."""
    return isinstance(exc, ValueError) or (isinstance(exc, KafkaError) and not exc.retriable)


class _Row:
    """One outbox row in the making: messages not yet acknowledged, and those parked."""

    def __init__(self, outbox_id: int, messages: list[Message]) -> None:
        self.outbox_id = outbox_id
        self.unsent = dict(enumerate(messages))
        self.parked: list[tuple[Message, str]] = []

    def park(self, index: int, exc: BaseException) -> None:
        message = self.unsent.pop(index)
        reason = f"{type(exc).__name__}: {exc}"
        self.parked.append((message, reason))
        log.error("relay.parked", outbox_id=self.outbox_id, topic=message.topic, size=len(message.value),
                  reason=reason[:300])  # fmt: skip


class OutboxRelay:
    def __init__(
        self,
        producer: KafkaProducer,
        engine: Engine,
        idle_seconds: float = 0.02,
        chunk: int = 10,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.producer = producer
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.chunk = chunk
        self.stopping = False
        self.published = 0
        self.pending = 0
        self.outage = Outage(heartbeat or Heartbeat(engine, "relay"), log)
        self._pause = sleeper(lambda: self.stopping)
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

    def _figures(self) -> dict[str, Any]:
        return {"published": self.published, "pending_rows": self.pending}

    def _retry(self, step: Callable[[], Any]) -> Any:
        return self.outage.retry(step, self._pause, self._figures)

    def publish(self, messages: list[Message], outbox_id: int) -> None:
        """Send one outbox row's messages, wait for every ack (parking what can never go), then
        delete the row; outages are waited out with the row in hand."""
        row = _Row(outbox_id, messages)
        self._retry(lambda: self._send(row))
        self._retry(lambda: self._finish(row))
        self.published += len(messages) - len(row.parked)

    def _send(self, row: _Row) -> None:
        """One attempt at the row's unsent messages; raises the first retriable failure, if any."""
        futures = {}
        retriable: BaseException | None = None
        for i, m in list(row.unsent.items()):
            try:
                futures[i] = self.producer.send(m.topic, key=m.key, value=m.value,
                                                headers=[(k, v.encode()) for k, v in m.headers],
                                                partition=self._partition(m.topic, m.key))  # fmt: skip
            except (KafkaError, ValueError) as exc:
                if not unsendable(exc):
                    retriable = exc  # the broker is away: settle what went out, try the rest later
                    break
                row.park(i, exc)
        flush_waiting(self.producer, self._waiting_for_broker)
        for i, future in futures.items():
            if future.succeeded():
                del row.unsent[i]
            elif unsendable(future.exception):
                row.park(i, future.exception)
            else:
                retriable = retriable or future.exception
        if retriable is not None:
            raise retriable

    def _waiting_for_broker(self) -> None:
        """A flush the broker has not answered for a while: say so, and give up if stopping."""
        self.outage.heartbeat.beat(WAITING_FOR_BROKER, **self._figures())
        if self.stopping:
            raise GaveUp

    def _finish(self, row: _Row) -> None:
        with self.engine.begin() as conn:
            parked.park(conn, row.outbox_id, row.parked, datetime.now(UTC))
            store.delete_outbox(conn, [row.outbox_id])

    def _pending(self) -> list[tuple[int, list[Message]]]:
        with self.engine.connect() as conn:
            return store.pending_outbox(conn, self.chunk)

    def drain(self) -> int:
        """Publish every committed row now; return how many messages went out or were parked."""
        sent = 0
        while True:
            pending = self._retry(self._pending)
            self.pending = len(pending)
            for outbox_id, messages in pending:
                self.publish(messages, outbox_id)
                sent += len(messages)
            if len(pending) < self.chunk:
                self.pending = 0
                return sent

    def run(self, until: Callable[[], bool] = lambda: False) -> None:
        """Until stopped or ``until()``; a stop during an outage leaves the row in hand for next time."""
        lock = _SingleRelay(self.engine, self.outage, self._pause, lambda: self.stopping)
        try:
            while not self.stopping and not until():
                lock.hold()
                if not self.drain():
                    time.sleep(self.idle_seconds)
                self.outage.running(**self._figures())
        except GaveUp:
            log.info("relay.stopped_while_waiting", state=self.outage.state)
        finally:
            lock.release()
        self.outage.stopped(**self._figures())


class _SingleRelay:
    """The single-relay advisory lock (PostgreSQL), held on a connection of its own. A database
    outage ends that session and frees the lock, so the connection is checked every second and
    the lock taken again (or waited for, as a standby) before publishing goes on."""

    def __init__(self, engine: Engine, outage: Outage, pause: Callable[[float], bool],
                 stopping: Callable[[], bool], check_s: float = 1.0) -> None:  # fmt: skip
        self.engine, self.outage, self.pause, self.stopping = engine, outage, pause, stopping
        self.check_s = check_s
        self.conn: Connection | None = None
        self._checked = 0.0

    def hold(self) -> None:
        """Return once this relay holds the lock (at once on SQLite); raises GaveUp if stopping."""
        if self.engine.dialect.name != "postgresql" or time.monotonic() - self._checked < self.check_s:
            return
        if self.conn is not None and not self._alive(self.conn):
            log.warning("relay.lock_lost")
            self.conn = None
        if self.conn is None:
            while (conn := self.outage.retry(self._take, self.pause, dict)) is None:
                self.outage.heartbeat.beat("standby")
                if not self.pause(1.0):
                    raise GaveUp
            self.conn = conn
            log.info("relay.active")
        self._checked = time.monotonic()

    def _alive(self, conn: Connection) -> bool:
        try:
            conn.scalar(text("SELECT 1"))
            conn.commit()
            return True
        except SQLAlchemyError:
            conn.invalidate()
            conn.close()
            return False

    def _take(self) -> Connection | None:
        conn = self.engine.connect()
        try:
            taken = conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not taken:
            conn.close()
            return None
        return conn

    def release(self) -> None:
        if self.conn is None:
            return
        with contextlib.suppress(SQLAlchemyError):
            self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            self.conn.commit()
        self.conn.close()
        self.conn = None


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
