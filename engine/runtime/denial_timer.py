"""Keep a denial's one timer (the soonest of what its state wants) on the denial itself, in
the transaction of the change that moved it: no timer rows are read or written per event.

The timer service fires it by its generation; the fire event names rule and generation,
so one for a timer moved meanwhile is stale. Once it fired, the moment is remembered in
``timers_fired``, and the next timer is taken.
"""

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from engine.clock import as_utc
from workflows.escalation import next_timer


def is_current(denial: SimpleNamespace | None, rule: str, generation: int) -> bool:
    """A fire event for the timer the denial waits on now (not one moved, cancelled or fired since)."""
    return denial is not None and denial.timer_rule == rule and denial.timer_generation == generation


def mark_fired(denial: SimpleNamespace) -> None:
    """The denial's timer fired: its rule is never re-armed for that moment."""
    denial.timers_fired = {**denial.timers_fired, denial.timer_rule: as_utc(denial.timer_due_at).isoformat()}


def rearm(denial: SimpleNamespace, wanted: dict[str, tuple[datetime, dict[str, Any]]]) -> None:
    """Point the denial at the timer its state wants next. An unchanged rule and moment keep
    their generation (a fire event in flight stays valid); anything else takes the next one."""
    rule, due, detail = next_timer(wanted, denial.timers_fired) or (None, None, None)
    if rule == denial.timer_rule and due == denial.timer_due_at:
        return
    denial.timer_rule, denial.timer_due_at, denial.timer_detail = rule, due, detail
    denial.timer_generation += 1
    denial.timer_fired_at = None
