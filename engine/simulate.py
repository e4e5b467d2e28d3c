"""`denialflow simulate --days N`: watch denials age, day by day, on the embedded defaults.

Against the store the demo (`denialflow run`) filled, on a bundled broker: a manual
clock starts on the day of the store's latest event (or `--start`) and moves one day
at a time; each day the timer service fires what fell due and the worker applies
it, exactly as in production, and the day's escalations and flags are printed.
"""

from collections import Counter
from datetime import UTC, date, datetime, time

from sqlalchemy import func, select

from consumers.denial_events import build_worker
from engine import store
from engine.broker import BundledBroker
from engine.clock import ManualClock, as_utc
from engine.config import Settings
from engine.db import make_engine, upgrade
from engine.kafka import ensure_topics
from engine.timers import build_timer_service
from engine.worker import Committed


def _first_day(database_url: str) -> date:
    """The day of the store's latest event: where its story stands now."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        latest = conn.scalar(select(func.max(store.AUDIT.c.occurred_at)))
    engine.dispose()
    return as_utc(latest).date() if latest else datetime.now(UTC).date()


def simulate(settings: Settings, days: int, start: date | None = None) -> int:
    upgrade(settings.database_url)
    clock = ManualClock(datetime.combine(start or _first_day(settings.database_url), time(), UTC))
    with BundledBroker() as broker:
        s = settings.model_copy(update={"bootstrap_servers": broker.bootstrap, "max_poll_interval_ms": 3000,
                                        "session_timeout_ms": 3000, "heartbeat_interval_ms": 500})  # fmt: skip
        ensure_topics(s)
        timers = build_timer_service(s, clock)
        committed = [0]
        total: Counter[str] = Counter()
        today: Counter[str] = Counter()

        def count(c: Committed) -> None:
            committed[0] += c.records
            today.update(c.result.fired_rules())

        worker = build_worker(s, clock=clock, on_commit=count)
        print(f"simulating {days} day(s) from {clock().date()} (bundled broker {broker.bootstrap})")
        try:
            for _ in range(days):
                clock.advance(days=1)
                today.clear()
                fired = timers.tick()
                expected = committed[0] + fired
                worker.run(until=lambda n=expected: committed[0] >= n, close=False)
                total.update(today)
                summary = ", ".join(f"{rule} {n}" for rule, n in sorted(today.items())) or "nothing due"
                print(f"  {clock().date()}: {fired} timer(s) fired -> {summary}")
        finally:
            worker.consumer.close(autocommit=False)
            worker.engine.dispose()
            timers.producer.close()
            timers.engine.dispose()
    print("escalated: " + (", ".join(f"{rule} {n}" for rule, n in sorted(total.items())) or "none"))
    print("see the queue: denialflow escalations")
    return 0
