"""`denialflow simulate --days N`: watch denials age, day by day, on the embedded defaults.

Against the store the demo (`denialflow run`) filled, on a bundled broker: a manual
clock walks the days from `--start` (default: the day of the store's latest event); at
the end of each day the timer service fires what fell due that day and the worker
applies it, exactly as in production, and the day's escalations and flags are printed,
with the timers that no longer applied (moved, cancelled, or their denial settled).
The audit entries it writes are dated by that clock, each day's at its end (the next
midnight): when that passes the real clock, it is said before anything is written.
"""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, make_url, select

from consumers.denial_events import build_worker
from engine.clock import ManualClock, as_utc
from engine.config import Settings
from engine.runtime.broker import BundledBroker
from engine.runtime.kafka import ensure_topics
from engine.runtime.timers import build_timer_service
from engine.runtime.worker import Committed
from engine.storage import store
from engine.storage.db import make_engine, upgrade
from workflows.escalation import FLAGGING


def _first_day(database_url: str) -> date:
    """The day of the store's latest event: where its story stands now."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        latest = conn.scalar(select(func.max(store.AUDIT.c.occurred_at)))
    engine.dispose()
    return as_utc(latest).date() if latest else datetime.now(UTC).date()


def simulate(settings: Settings, days: int, start: date | None = None) -> int:
    upgrade(settings.database_url)
    first = start or _first_day(settings.database_url)
    last = first + timedelta(days=days - 1)
    clock = ManualClock(datetime.combine(first, time(), UTC))
    future = _future_note(datetime.combine(last + timedelta(days=1), time(), UTC), settings.database_url)
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
        print(f"simulating {days} day(s) from {first} to {last} (bundled broker {broker.bootstrap})")
        if future:
            print(future)
        not_applied = 0
        try:
            for n in range(days):
                day = first + timedelta(days=n)
                clock.now = datetime.combine(day + timedelta(days=1), time(), UTC)  # the end of the day
                today.clear()
                fired = 0
                while n := timers.tick():  # a denial's next timer is armed once its last fire is applied
                    fired += n
                    expected = committed[0] + n
                    worker.run(until=lambda target=expected: committed[0] >= target, close=False)
                total.update(today)
                not_applied += fired - sum(today.values())
                print(f"  {day}: {fired} timer(s) fired -> {_summary(today, fired)}")
        finally:
            worker.consumer.close(autocommit=False)
            worker.engine.dispose()
            timers.producer.close()
            timers.engine.dispose()
    escalated = {rule: n for rule, n in total.items() if rule not in FLAGGING}
    flagged = {rule: n for rule, n in total.items() if rule in FLAGGING}
    print("escalated: " + (", ".join(f"{rule} {n}" for rule, n in sorted(escalated.items())) or "none"))
    print("flagged: " + (", ".join(f"{rule} {n}" for rule, n in sorted(flagged.items())) or "none"))
    print(f"timers that no longer applied (moved, cancelled or their denial settled): {not_applied}")
    print("see the queue: denialflow escalations")
    return 0


def _future_note(end: datetime, database_url: str) -> str | None:
    """What to say when the simulated clock will pass the real one (``end``: the last entry's date)."""
    now = datetime.now(UTC)
    if end <= now:
        return None
    store_name = make_url(database_url).render_as_string(hide_password=True)
    return (f"note: the clock runs to {end:%Y-%m-%d %H:%M} UTC, past the real clock ({now:%Y-%m-%d %H:%M} UTC): "
            f"it will write audit entries dated in the future into {store_name}; "
            "simulate a copy of the store to keep it as it is")  # fmt: skip


def _summary(applied: Counter[str], fired: int) -> str:
    """One day's line: what each rule did (flags named as flags), and what no longer applied."""
    parts = [f"{rule} {n}" + (" (flag)" if rule in FLAGGING else "") for rule, n in sorted(applied.items())]
    if stale := fired - sum(applied.values()):
        parts.append(f"{stale} no longer applied")
    return ", ".join(parts) or "nothing due"
