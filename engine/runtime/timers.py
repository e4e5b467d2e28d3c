"""The timer service (`denialflow timers`): fires due timers as events on Kafka.

A tick claims what is due: denials whose one timer (kept on the denial,
`engine.runtime.denial_timer`) is due, and authorizations' dated alerts (rows of
`timers`), on PostgreSQL `FOR UPDATE SKIP LOCKED`, so several services share the work
and never take the same one. It publishes one `denial.timer_fired` (or
`authorization.alert_fired`) each to `denials.events` (keyed by denial id, so it is
ordered with the denial's other events), waits for the broker's acknowledgements, and
only then marks them fired in the same transaction. A crash between the publish and the
mark re-publishes the same event ids next tick, which the worker skips; a fire event for
a timer moved or cancelled meanwhile is skipped as stale. When a denial's timer fired,
the worker takes its next one, which a later tick fires.
The worker applies it through the same path, ordering and audit as every event.
The database or the broker being away is waited out (`engine.runtime.outage`): the tick is
tried again until it goes through.
"""

import signal
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from kafka import KafkaProducer
from sqlalchemy import Connection, Engine, bindparam, select, text, update

from engine.audit.checkpoints import Checkpointer, build_checkpointer
from engine.clock import Clock, as_utc, clock_from
from engine.config import Settings
from engine.runtime.heartbeat import Heartbeat
from engine.runtime.kafka import flush_waiting, make_producer
from engine.runtime.outage import WAITING_FOR_BROKER, GaveUp, Outage, sleeper
from engine.storage.db import make_engine
from engine.storage.models import PENDING_SQL, TIMER_PENDING_SQL
from engine.storage.store import DENIALS, TIMERS

log = structlog.get_logger("denialflow.timers")
ACTOR = "timer-service"
AUTHORIZATION_PREFIX = "auth-"


def fire_key(row: Any) -> bytes:
    """The Kafka key of a fire event: the denial's id, or the patient key an authorization's row carries."""
    return str(row.detail.get("key", row.denial_id) if row.denial_id.startswith(AUTHORIZATION_PREFIX)
               else row.denial_id).encode()  # fmt: skip


def fire_event(row: Any) -> dict[str, Any]:
    """The event a due timer becomes: its id names the timer's generation, so it repeats exactly.
    An authorization's dated alert (its row's subject is an ``auth-`` id) becomes an
    `authorization.alert_fired`, keyed like that patient's other authorization events."""
    due = as_utc(row.due_at)
    if row.denial_id.startswith(AUTHORIZATION_PREFIX):
        return {
            "event_id": f"timer-{row.denial_id}-{row.rule}-{row.generation}",
            "type": "authorization.alert_fired",
            "occurred_at": due.isoformat(),
            "actor": ACTOR,
            "role": "system",
            "data": {"authorization_id": row.denial_id, "rule": row.rule, "generation": row.generation,
                     "due_at": due.isoformat(), "detail": row.detail},
        }  # fmt: skip
    return {
        "event_id": f"timer-{row.denial_id}-{row.rule}-{row.generation}",
        "type": "denial.timer_fired",
        "denial_id": row.denial_id,
        "occurred_at": due.isoformat(),
        "actor": ACTOR,
        "role": "system",
        "data": {"rule": row.rule, "generation": row.generation, "due_at": due.isoformat(), "detail": row.detail},
    }


PENDING = text(PENDING_SQL)
TIMER_PENDING = text(TIMER_PENDING_SQL)
_DENIAL = (DENIALS.c.id.label("denial_id"), DENIALS.c.timer_rule.label("rule"),
           DENIALS.c.timer_generation.label("generation"), DENIALS.c.timer_due_at.label("due_at"),
           DENIALS.c.timer_detail.label("detail"))  # fmt: skip


def _claimed(conn: Connection, query: Any) -> Any:
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


def due_denials(conn: Connection, now: Any, limit: int) -> Any:
    """Denials whose timer is due and not yet fired, oldest first: served by the partial index
    on timer_due_at (its predicate word for word: SQLite uses a partial index only then)."""
    due = DENIALS.c.timer_due_at
    return _claimed(conn, select(*_DENIAL).where(TIMER_PENDING, due <= now).order_by(due).limit(limit))


def due_alerts(conn: Connection, now: Any, limit: int) -> Any:
    """Authorizations' due, unfired, active alerts, oldest first: served by the partial index on due_at."""
    query = (
        select(TIMERS.c.denial_id, TIMERS.c.rule, TIMERS.c.generation, TIMERS.c.due_at, TIMERS.c.detail)
        .where(PENDING, TIMERS.c.due_at <= now)
        .order_by(TIMERS.c.due_at)
        .limit(limit)
    )
    return _claimed(conn, query)


#: One statement however many rows: an IN list of 10,000 row values overflows PostgreSQL's parser stack.
_MARK_ALERTS_PG = text(
    "UPDATE timers AS t SET fired_at = :now FROM unnest(CAST(:ids AS text[]), CAST(:rules AS text[]), "
    "CAST(:gens AS int[])) AS u(d, r, g) WHERE t.denial_id = u.d AND t.rule = u.r AND t.generation = u.g"
)
_MARK_ALERTS = (
    update(TIMERS)
    .where(TIMERS.c.denial_id == bindparam("d"), TIMERS.c.rule == bindparam("r"), TIMERS.c.generation == bindparam("g"))
    .values(fired_at=bindparam("now"))
)
#: The denial's version stays: the mark is the timer service's, and a worker's change made
#: meanwhile wins (at worst the same event is published again, which the worker skips).
_MARK_DENIALS_PG = text(
    "UPDATE denials AS t SET timer_fired_at = :now FROM unnest(CAST(:ids AS text[]), CAST(:gens AS int[])) "
    "AS u(d, g) WHERE t.id = u.d AND t.timer_generation = u.g"
)
_MARK_DENIALS = (
    update(DENIALS)
    .where(DENIALS.c.id == bindparam("d"), DENIALS.c.timer_generation == bindparam("g"))
    .values(timer_fired_at=bindparam("now"))
)


def _mark_fired(conn: Connection, denials: list[Any], alerts: list[Any], now: Any) -> None:
    if conn.dialect.name == "postgresql":
        if denials:
            ids, gens = zip(*((r.denial_id, r.generation) for r in denials), strict=True)
            conn.execute(_MARK_DENIALS_PG, {"now": now, "ids": list(ids), "gens": list(gens)})
        if alerts:
            ids, rules, gens = zip(*((r.denial_id, r.rule, r.generation) for r in alerts), strict=True)
            conn.execute(_MARK_ALERTS_PG, {"now": now, "ids": list(ids), "rules": list(rules), "gens": list(gens)})
        return
    if denials:
        conn.execute(_MARK_DENIALS, [{"d": r.denial_id, "g": r.generation, "now": now} for r in denials])
    if alerts:
        conn.execute(_MARK_ALERTS, [{"d": r.denial_id, "r": r.rule, "g": r.generation, "now": now} for r in alerts])


@dataclass
class TimerService:
    engine: Engine
    producer: KafkaProducer
    topic: str
    clock: Clock
    batch: int = 1000
    interval_s: float = 1.0
    checkpointer: Checkpointer | None = None  # signs the audit chains' heads when due (engine/audit/checkpoints.py)
    heartbeat: Heartbeat | None = None
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self.outage = Outage(self.heartbeat or Heartbeat(self.engine, "timers"), log)

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def tick(self) -> int:
        """Fire every timer due now (in batches); return how many fired."""
        fired = 0
        while not self._stop.is_set():
            n = self._tick_batch()
            fired += n
            if n < self.batch:
                break
        if self.checkpointer is not None:
            self.checkpointer.maybe_checkpoint()
        return fired

    def _tick_batch(self) -> int:
        now = self.clock()
        with self.engine.begin() as conn:
            denials = conn.execute(due_denials(conn, now, self.batch)).all()
            room = self.batch - len(denials)
            alerts = conn.execute(due_alerts(conn, now, room)).all() if room else []
            rows = [*denials, *alerts]
            if not rows:
                return 0
            futures = [
                self.producer.send(self.topic, key=fire_key(row), value=orjson.dumps(fire_event(row))) for row in rows
            ]
            flush_waiting(self.producer, self._waiting_for_broker)
            for future in futures:
                future.get(timeout=0)  # raises if the broker refused: the transaction rolls back, nothing is marked
            _mark_fired(conn, denials, alerts, now)
        oldest = min(as_utc(row.due_at) for row in rows)
        log.info("timers.fired", count=len(rows), oldest_due=oldest.isoformat())
        return len(rows)

    def _waiting_for_broker(self) -> None:
        self.outage.heartbeat.beat(WAITING_FOR_BROKER, fired=self.fired)
        if self._stop.is_set():
            raise GaveUp

    def run(self) -> None:
        """Tick until stopped, waiting out outages; a stop lets the batch in hand finish."""
        pause = sleeper(self._stop.is_set)
        try:
            while not self._stop.is_set():
                self.fired += self.outage.retry(self.tick, pause, lambda: {"fired": self.fired})
                self.outage.running(fired=self.fired)
                self._stop.wait(self.interval_s)
        except GaveUp:
            log.info("timers.stopped_while_waiting", state=self.outage.state)
        self.outage.stopped(fired=self.fired)

    def run_until_signalled(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.run()


def build_timer_service(settings: Settings, clock: Clock | None = None) -> TimerService:
    engine = make_engine(settings.database_url)
    return TimerService(
        engine,
        make_producer(settings),
        settings.events_topic,
        clock or clock_from(settings.now),
        batch=settings.timer_batch,
        interval_s=settings.timer_interval_ms / 1000,
        checkpointer=build_checkpointer(settings, engine),
    )


def run(settings: Settings) -> None:
    """Fire due timers until SIGTERM/SIGINT."""
    service = build_timer_service(settings)
    log.info("timers.started", topic=settings.events_topic, now=service.clock().isoformat())
    try:
        service.run_until_signalled()
    finally:
        service.producer.close()
        service.engine.dispose()
