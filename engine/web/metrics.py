"""`/metrics` in Prometheus text format, read from the store when scraped.

The store is the truth every process shares (workers, timer service, relay), so the
figures are counted there rather than in one process's memory.
"""

from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import Engine, func, select

from engine import store
from engine.timers import PENDING


def exposition(engine: Engine, now: datetime) -> str:
    registry = CollectorRegistry()
    applied = Gauge("denialflow_events_applied", "events applied, by type", ["type"], registry=registry)
    outcomes = Gauge("denialflow_events_processed", "events processed, by outcome", ["outcome"], registry=registry)
    transitions = Gauge("denialflow_transitions", "transitions, by trigger", ["trigger"], registry=registry)
    escalations = Gauge("denialflow_open_escalations", "denials in the escalation queue", registry=registry)
    backlog = Gauge("denialflow_timer_backlog", "timers due and not yet fired", registry=registry)
    a, p, d, t = store.AUDIT.c, store.PROCESSED.c, store.DENIALS.c, store.TIMERS.c
    with engine.connect() as conn:
        first_entries = select(a.event_type, func.count(func.distinct(a.event_id))).group_by(a.event_type)
        for event_type, n in conn.execute(first_entries):
            applied.labels(event_type).set(n)
        for outcome, n in conn.execute(select(p.outcome, func.count()).group_by(p.outcome)):
            outcomes.labels(outcome).set(n)
        for trigger, n in conn.execute(select(a.trigger, func.count()).group_by(a.trigger)):
            transitions.labels(trigger).set(n)
        escalations.set(conn.scalar(select(func.count()).where(d.state == "escalated")) or 0)
        due = select(func.count()).select_from(store.TIMERS).where(PENDING, t.due_at <= now)
        backlog.set(conn.scalar(due) or 0)
    return generate_latest(registry).decode()
