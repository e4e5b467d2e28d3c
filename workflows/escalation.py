"""Which timers a denial should have, from its state alone (pure).

After every transition the worker takes the one timer the denial waits on from this wish
list (`next_timer`: the soonest rule not yet fired for its moment) and keeps it on the
denial, in the same transaction; when it moves, its generation does, so a fire event of
the old one is recognised as stale. When it fires, the next one is taken. A timer never
fires for a denial that has moved on.
"""

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from workflows.denial import State

#: Rules whose firing moves the denial to the escalation queue.
ESCALATING = ("ownership", "follow_up", "aging", "filing_deadline", "appeal_deadline", "retro_auth_deadline",
              "deadline_past_at_receipt", "deadlines_passed")  # fmt: skip
#: Rules whose firing flags the denial and leaves its state alone.
FLAGGING = ("leadership", "soft_write_off")
DEADLINES = ("filing", "appeal", "retro_auth")
#: Every deadline of a denial had passed when it arrived: what a lead decides between.
PASSED_CANDIDATE = "write-off or proof-of-timely-filing candidate"
_ESCALATABLE = (State.CLASSIFIED, State.ASSIGNED, State.WORKED)
#: Where timers run at all: a resolved, written-off or closed denial has none.
_OPEN = tuple(s for s in State if s not in (State.RESOLVED, State.WRITTEN_OFF, State.CLOSED))
SOFT_WRITE_OFF_BELOW = 10_000  # cents: the sub-$100 weekly batch
BUCKETS = ((0, "0-30"), (31, "31-60"), (61, "61-90"), (91, "90+"))


@dataclass(frozen=True, slots=True)
class EscalationRules:
    touch_limit: int = 3
    aging_escalate_days: int = 61
    leadership_days: int = 91
    ownership_days: int = 7
    deadline_lead_days: int = 14
    cycle_days: int = 7

    @classmethod
    def load(cls, path: Path | None = None) -> "EscalationRules":
        text = path.read_text() if path else resources.files("workflows.data").joinpath("escalation.toml").read_text()
        doc: dict[str, Any] = tomllib.loads(text)
        return cls(**{k: int(v) for k, v in doc.items() if k in cls.__dataclass_fields__})


def aging_bucket(received: date, today: date) -> str:
    """DOMAIN.md's aging buckets: 0-30, 31-60, 61-90, 90+ days since receipt."""
    age = (today - received).days
    return next(name for start, name in reversed(BUCKETS) if age >= start)


def deadline_alerts(denial: Any, today: date, lead_days: int) -> list[tuple[str, date, str]]:
    """The payer deadlines a lead must see first, soonest first: (kind, date, "passed" or
    "near"), near meaning inside the lead time. Escalated or not, a passed deadline shows."""
    alerts = []
    for name in DEADLINES:
        day = getattr(denial, f"{name}_deadline", None)
        if day is not None and day <= today + timedelta(days=lead_days):
            alerts.append((name, day, "passed" if day < today else "near"))
    return sorted(alerts, key=lambda a: a[1])


def describe_alert(alert: tuple[str, date, str]) -> str:
    name, day, status = alert
    return f"{name.replace('_', '-')} deadline {status}: {day}"


_START_OF_DAY = time(tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, _START_OF_DAY)


def _listed(deadlines: dict[str, date]) -> str:
    return ", ".join(f"{name} {day.isoformat()}" for name, day in deadlines.items())


def _passed_at_receipt(
    received: datetime, passed: dict[str, date], dated: dict[str, date]
) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """Deadlines already past on arrival: one timer, due at receipt, for all of them (it
    fires once, like any timer), never one per deadline. With nothing left open the denial
    is a lead's write-off or proof-of-timely-filing call."""
    still_open = {name: day for name, day in dated.items() if name not in passed}
    if not still_open:
        return {"deadlines_passed": (received, {"passed_at_receipt": _listed(passed), "candidate": PASSED_CANDIDATE})}
    return {"deadline_past_at_receipt": (received, {"passed_at_receipt": _listed(passed),
                                                    "still_open": _listed(still_open)})}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Spans:
    """What `desired_timers` derives from the rules alone, worked out once per rule set: it
    runs after every applied event, and the timedeltas and the aging bucket never change."""

    leadership: timedelta
    aging: timedelta
    aging_bucket: str
    ownership: timedelta
    deadline_lead: timedelta
    cycle: timedelta


@lru_cache(maxsize=8)
def _spans(rules: EscalationRules) -> _Spans:
    aging = timedelta(days=rules.aging_escalate_days)
    return _Spans(timedelta(days=rules.leadership_days), aging, aging_bucket(date.min, date.min + aging),
                  timedelta(days=rules.ownership_days), timedelta(days=rules.deadline_lead_days),
                  timedelta(days=rules.cycle_days))  # fmt: skip


_DEADLINE_FIELDS = tuple((name, f"{name}_deadline") for name in DEADLINES)
_DAY = timedelta(days=1)


def desired_timers(denial: Any, rules: EscalationRules) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """rule -> (due at, the figures the escalation will name)."""
    state = denial.state
    received: datetime = denial.received_at
    out: dict[str, tuple[datetime, dict[str, Any]]] = {}
    if state not in _OPEN:
        return out
    spans = _spans(rules)
    out["leadership"] = (received + spans.leadership, {"age_days": rules.leadership_days, "bucket": "90+"})
    if state not in _ESCALATABLE:
        return out
    out["aging"] = (received + spans.aging, {"age_days": rules.aging_escalate_days, "bucket": spans.aging_bucket})
    if denial.owner is None:
        out["ownership"] = (received + spans.ownership, {"days_without_owner": rules.ownership_days})
    elif denial.next_action_date is not None:
        due = _midnight(denial.next_action_date + _DAY)
        out["follow_up"] = (due, {"next_action_date": denial.next_action_date.isoformat(), "touches": denial.touches})
    dated = {name: day for name, field in _DEADLINE_FIELDS if (day := getattr(denial, field)) is not None}
    received_day = received.date()
    passed = {name: day for name, day in dated.items() if day < received_day}
    for name, deadline in dated.items():
        if name not in passed:
            due = _midnight(deadline - spans.deadline_lead)
            out[f"{name}_deadline"] = (max(due, received), {"deadline": name, "date": deadline.isoformat(),
                                                             "lead_days": rules.deadline_lead_days})  # fmt: skip
    if passed:
        out.update(_passed_at_receipt(received, passed, dated))
    if denial.denied_cents < SOFT_WRITE_OFF_BELOW and denial.touches == 0:
        out["soft_write_off"] = (received + spans.cycle, {"cycle_days": rules.cycle_days})
    return out


def next_timer(
    wanted: dict[str, tuple[datetime, dict[str, Any]]], fired: dict[str, str]
) -> tuple[str, datetime, dict[str, Any]] | None:
    """The timer a denial waits on: the soonest wanted rule that has not already fired for
    that moment (``fired``: rule -> the moment, ISO 8601), or None. Of rules due together a
    flag goes first: it leaves the state alone, where an escalation first would cancel it."""
    pending = [(due, rule not in FLAGGING, rule, detail) for rule, (due, detail) in wanted.items()
               if rule not in fired or datetime.fromisoformat(fired[rule]) != due]  # fmt: skip
    if not pending:
        return None
    due, _, rule, detail = min(pending, key=lambda timer: timer[:2])
    return rule, due, detail
