"""`/metrics` in Prometheus text format, read from the store when scraped.

The store is the truth every process shares (workers, timer service, relay), so the
figures are kept there rather than in one process's memory: the event totals are counters
each batch adds to in its transaction (`event_counts`), the rest are counts over an index or
a small table (the escalation queue, the due timers, the outbox, the parked messages), so a
scrape costs the same on a store of a thousand denials or of ten million. Consumer lag
comes from the broker.
"""

from datetime import datetime

import structlog
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import Engine, func, select

from engine.clock import as_utc
from engine.runtime.lag import consumer_lag
from engine.runtime.parked import PARKED
from engine.runtime.timers import PENDING, TIMER_PENDING
from engine.storage import store

log = structlog.get_logger("denialflow.web")


def _lag(registry: CollectorRegistry, admin: KafkaAdminClient | None, groups: dict[str, str]) -> None:
    """Per group and partition; ``denialflow_kafka_up`` 0 when the broker did not answer."""
    up = Gauge("denialflow_kafka_up", "whether the broker answered the lag queries", registry=registry)
    lag = Gauge("denialflow_consumer_lag", "messages not yet committed by the group", ["group", "topic", "partition"],
                registry=registry)  # fmt: skip
    if admin is None:
        return
    try:
        for group, topic in groups.items():
            for partition, behind in consumer_lag(admin, group, topic).items():
                lag.labels(group, topic, str(partition)).set(behind)
        up.set(1)
    except KafkaError as exc:
        log.warning("metrics.lag_failed", error=str(exc))


def exposition(engine: Engine, now: datetime, admin: KafkaAdminClient | None = None,
               groups: dict[str, str] | None = None) -> str:  # fmt: skip
    """The store's figures, and each consumer group's lag (``groups``: group -> topic)."""
    registry = CollectorRegistry()
    _lag(registry, admin, groups or {})
    applied = Gauge("denialflow_events_applied", "events applied, by type", ["type"], registry=registry)
    outcomes = Gauge("denialflow_events_processed", "events processed, by outcome", ["outcome"], registry=registry)
    transitions = Gauge("denialflow_transitions", "transitions, by trigger", ["trigger"], registry=registry)
    escalations = Gauge("denialflow_open_escalations", "denials in the escalation queue", registry=registry)
    backlog = Gauge("denialflow_timer_backlog", "timers due and not yet fired", registry=registry)
    pending = Gauge("denialflow_outbox_pending", "change-feed rows the relay has not sent yet", registry=registry)
    oldest = Gauge("denialflow_outbox_oldest_age_seconds", "age of the oldest unsent outbox row (0: none)",
                   registry=registry)  # fmt: skip
    parked = Gauge("denialflow_parked_messages", "messages the broker refused for good (denialflow parked list)",
                   registry=registry)  # fmt: skip
    by_kind = {"applied": applied, "outcome": outcomes, "transition": transitions}
    c, d, t = store.COUNTS.c, store.DENIALS.c, store.TIMERS.c
    with engine.connect() as conn:
        for kind, name, n in conn.execute(select(c.kind, c.name, c.n).where(c.n != 0)):
            by_kind[kind].labels(name).set(n)
        escalations.set(conn.scalar(select(func.count()).where(d.state == "escalated")) or 0)
        alerts = select(func.count()).select_from(store.TIMERS).where(PENDING, t.due_at <= now)
        denials = select(func.count()).select_from(store.DENIALS).where(TIMER_PENDING, d.timer_due_at <= now)
        backlog.set((conn.scalar(alerts) or 0) + (conn.scalar(denials) or 0))
        rows, first = conn.execute(select(func.count(), func.min(store.OUTBOX.c.created_at))).one()
        pending.set(rows)
        oldest.set(max(0.0, (now - as_utc(first)).total_seconds()) if first is not None else 0)
        parked.set(conn.scalar(select(func.count()).select_from(PARKED)) or 0)
    return generate_latest(registry).decode()
