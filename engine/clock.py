"""The engine's one clock. Everything that needs "now" is handed a `Clock`.

Production reads the system clock. `DENIALFLOW_NOW` (or `--now`) starts the clock
at a given moment and lets it run on from there, so a demo or a test can live in
another month; `ManualClock` stands still until it is moved (simulation, tests).
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_from(start: datetime | None) -> Clock:
    """The system clock, or one that started at ``start`` and runs at real speed."""
    if start is None:
        return system_clock
    origin = time.monotonic()
    return lambda: as_utc(start) + timedelta(seconds=time.monotonic() - origin)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = as_utc(now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def as_utc(value: datetime) -> datetime:
    """Databases differ: SQLite hands back naive datetimes; both mean UTC here."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
