"""The numbers leaders look at (DOMAIN.md "What leaders look at"), over a scope.

One set of definitions serves the weekly report (CLI, API) and the dashboard. Each is
one aggregate query run by the database, so a page answers in milliseconds with a
million denials in the store instead of pulling rows into Python.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Float, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from engine.store import AUDIT, DENIALS
from workflows.denial import State
from workflows.escalation import BUCKETS

#: States in which a denial is finished; everything else is open work (named, not negated,
#: so the state index serves the open-work queries).
DONE = ("closed", "resolved", "written_off")
OPEN = tuple(s.value for s in State if s.value not in DONE)
d, a = DENIALS.c, AUDIT.c


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


@dataclass(frozen=True, slots=True)
class Filters:
    """What a supervisor narrows the view to; ``None`` means all."""

    payer: str | None = None
    team: str | None = None
    category: str | None = None
    site: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        pairs = ((d.payer_id, self.payer), (d.team, self.team), (d.category, self.category), (d.site, self.site))
        return [column == value for column, value in pairs if value]


@dataclass(frozen=True, slots=True)
class Scope:
    """Filters plus a date range ``[start, end)`` on the day each denial was received."""

    start: date
    end: date
    filters: Filters = field(default_factory=Filters)

    def received(self) -> list[ColumnElement[bool]]:
        return [d.received_at >= midnight(self.start), d.received_at < midnight(self.end), *self.filters.where()]

    def happened(self, column: Any) -> list[ColumnElement[bool]]:
        """Something (a close, a payer's answer) that happened inside the range."""
        return [column >= midnight(self.start), column < midnight(self.end), *self.filters.where()]

    def weeks(self) -> list[date]:
        """The start of each 7-day step from ``start`` that begins before ``end``."""
        return [self.start + timedelta(days=7 * i) for i in range(max(1, -(-(self.end - self.start).days // 7)))]


def dollars(cents: Any) -> float:
    """Cents (PostgreSQL sums them as numeric) as dollars."""
    return round(float(cents or 0) / 100, 2)


def _money(rows: Any) -> list[dict[str, Any]]:
    return [{"key": k or "-", "count": n, "dollars": dollars(c)} for k, n, c in rows]


def _days(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 86_400, 2)


def _epoch(column: Any) -> Any:
    return func.extract("epoch", column)


def _week_of(scope: Scope) -> Any:
    """A SQL expression numbering the week (0, 1, ...) a denial was received in."""
    starts = scope.weeks()
    return case(*((d.received_at < midnight(s + timedelta(days=7)), i) for i, s in enumerate(starts)),
                else_=len(starts) - 1)  # fmt: skip


def new_by(conn: Connection, scope: Scope, column: Any) -> list[dict[str, Any]]:
    """Denials received in the scope, count and dollars per value of ``column``, largest first."""
    total = func.sum(d.denied_cents)
    rows = conn.execute(select(column, func.count(), total).where(*scope.received())
                        .group_by(column).order_by(total.desc(), column))  # fmt: skip
    return _money(rows)


def trend(conn: Connection, scope: Scope, column: Any | None = None) -> list[dict[str, Any]]:
    """Denials received per week of the scope (split by ``column`` when given)."""
    week = _week_of(scope).label("week")
    keys = [week] if column is None else [week, column]
    rows = conn.execute(select(*keys, func.count(), func.sum(d.denied_cents)).where(*scope.received())
                        .group_by(*keys).order_by(*keys))  # fmt: skip
    starts = scope.weeks()
    if column is None:
        found = {r[0]: r for r in rows}
        return [{"week": s.isoformat(), "count": found[i][1] if i in found else 0,
                 "dollars": dollars(found[i][2] if i in found else 0)} for i, s in enumerate(starts)]  # fmt: skip
    return [{"week": starts[w].isoformat(), "key": k or "-", "count": n, "dollars": dollars(c)} for w, k, n, c in rows]


def _reason() -> Any:
    return func.coalesce(d.primary_group, "") + literal("-") + func.coalesce(d.primary_reason, "")


def top_reasons(conn: Connection, scope: Scope, limit: int = 5) -> list[dict[str, Any]]:
    reason = _reason()
    rows = conn.execute(select(reason, func.count()).where(*scope.received())
                        .group_by(reason).order_by(func.count().desc(), reason).limit(limit))  # fmt: skip
    return [{"reason": r, "count": n} for r, n in rows]


def recurring_reasons(conn: Connection, scope: Scope, limit: int = 5) -> dict[str, Any]:
    """The top reasons of each week in the scope, and which of them made every week's list:
    the same reasons week after week mean the fix is upstream."""
    week, reason = _week_of(scope).label("week"), _reason().label("reason")
    rows = conn.execute(select(week, reason, func.count()).where(*scope.received()).group_by(week, reason))
    per_week: dict[int, list[tuple[int, str]]] = {}
    for w, r, n in rows:
        per_week.setdefault(w, []).append((-n, r))
    weeks = []
    for i, start in enumerate(scope.weeks()):
        ranked = sorted(per_week.get(i, []))[:limit]
        weeks.append({"week": start.isoformat(), "reasons": [{"reason": r, "count": -n} for n, r in ranked]})
    listed = [{r["reason"] for r in w["reasons"]} for w in weeks if w["reasons"]]
    recurring = sorted(set.intersection(*listed)) if len(listed) > 1 else []
    return {"weeks": weeks, "recurring": recurring}


def flow(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Speed and closure: days from receipt to first touch (denials received in the scope),
    days to close, touches per resolution and share preventable (denials closed in it)."""
    first = conn.scalar(select(func.avg(_epoch(d.first_touch_at) - _epoch(d.received_at)))
                        .where(*scope.received(), d.first_touch_at.is_not(None)))  # fmt: skip
    preventable = d.root_cause["preventable"].as_boolean()
    closed = conn.execute(
        select(func.count(), func.avg(_epoch(d.closed_at) - _epoch(d.received_at)), func.sum(d.touches),
               func.count(preventable), func.sum(case((preventable, 1), else_=0)))
        .where(*scope.happened(d.closed_at))
    ).one()  # fmt: skip
    n, to_close, touches, with_cause, preventable_n = closed
    return {
        "days_to_first_touch": _days(first),
        "days_to_close": _days(to_close),
        "closed": n,
        "touches_per_resolution": round(float(touches) / n, 2) if n else None,
        "share_preventable": round(preventable_n / with_cause, 3) if with_cause else None,
    }


def payer_answers(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Appeal overturn rate (payer answers to appeals in the scope) and write-offs by
    adjustment type (approved in the scope)."""
    joined = AUDIT.join(DENIALS, DENIALS.c.id == a.denial_id)
    answers = dict(conn.execute(
        select(a.trigger, func.count()).select_from(joined)
        .where(a.trigger.in_(("resolve", "uphold")), a.from_state == "appealed", *scope.happened(a.occurred_at))
        .group_by(a.trigger)
    ).all())  # fmt: skip
    kind = a.payload["adjustment_type"].as_string()
    amount = func.sum(cast(a.payload["amount"].as_string(), Float))
    write_offs = conn.execute(select(kind, func.count(), amount).select_from(joined)
                              .where(a.trigger == "write_off", *scope.happened(a.occurred_at))
                              .group_by(kind).order_by(amount.desc(), kind))  # fmt: skip
    answered = sum(answers.values())
    by_reason = [{"reason": k or "-", "count": n, "dollars": round(float(v or 0), 2)} for k, n, v in write_offs]
    return {
        "appeal_overturn_rate": round(answers.get("resolve", 0) / answered, 3) if answered else None,
        "appeals_answered": answered,
        "write_offs_by_reason": by_reason,
    }


def _open(filters: Filters) -> list[ColumnElement[bool]]:
    return [d.state.in_(OPEN), *filters.where()]


def aging(conn: Connection, filters: Filters, today: date) -> list[dict[str, Any]]:
    """Open denials per aging bucket (days since receipt), count and dollars."""
    oldest_first = list(reversed(BUCKETS))
    bucket = case(*((d.received_at < midnight(today - timedelta(days=start - 1)), name)
                    for start, name in oldest_first if start), else_=BUCKETS[0][1])  # fmt: skip
    found = {b: (n, c) for b, n, c in conn.execute(
        select(bucket, func.count(), func.sum(d.denied_cents)).where(*_open(filters)).group_by(bucket))}  # fmt: skip
    return [{"bucket": name, "count": found.get(name, (0, 0))[0], "dollars": dollars(found.get(name, (0, 0))[1])}
            for _, name in BUCKETS]  # fmt: skip


def open_by_owner(conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Open denials per team and owner, most dollars first."""
    total = func.sum(d.denied_cents)
    rows = conn.execute(select(d.team, d.owner, func.count(), total).where(*_open(filters))
                        .group_by(d.team, d.owner).order_by(total.desc(), d.team, d.owner))  # fmt: skip
    return [{"team": t or "-", "owner": o or "(no owner)", "count": n, "dollars": dollars(c)} for t, o, n, c in rows]


def never_touched(conn: Connection, filters: Filters) -> int:
    return conn.scalar(select(func.count()).where(*_open(filters), d.touches == 0)) or 0


def open_totals(conn: Connection, filters: Filters) -> dict[str, Any]:
    n, cents = conn.execute(select(func.count(), func.sum(d.denied_cents)).where(*_open(filters))).one()
    escalated = conn.scalar(select(func.count()).where(d.state == "escalated", *filters.where())) or 0
    return {"count": n, "dollars": dollars(cents), "escalated": escalated}


def week_of(day: date) -> date:
    """The Monday that starts ``day``'s week."""
    return day - timedelta(days=day.weekday())
