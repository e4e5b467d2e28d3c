"""The numbers leaders look at (DOMAIN.md "What leaders look at"), over a scope.

One set of definitions serves the weekly report (CLI, API) and the dashboard. The
figures come from three passes, each an aggregate the database runs over a covering
index: open work now (`open_work`), denials received in the range (`received`), and
denials closed in it (`closed`), plus the payer answers and write-offs recorded in
`outcome_events` (`payer_answers`). With a million denials in the store a dashboard stays a handful of
index scans (`bench/queries.py`).
"""

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Float, Integer, and_, case, func, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from engine.storage.models import OPEN_SQL
from engine.storage.store import DENIALS, OUTCOMES
from workflows.escalation import BUCKETS, EscalationRules

#: Open states in which nothing moves unless someone acts (not waiting on the payer).
WORKABLE = ("received", "classified", "assigned", "worked", "escalated")
d = DENIALS.c


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def week_of(day: date) -> date:
    """The Monday that starts ``day``'s week."""
    return day - timedelta(days=day.weekday())


def dollars(cents: Any) -> float:
    """Cents (PostgreSQL sums them as numeric) as dollars."""
    return round(float(cents or 0) / 100, 2)


def _days(seconds: Any, n: Any = 1) -> float | None:
    return None if seconds is None or not n else round(float(seconds) / float(n) / 86_400, 2)


class seconds_sum(FunctionElement[float]):
    """SUM(later - earlier) in seconds (NULL differences skipped). PostgreSQL sums the
    intervals and converts once, far cheaper than a numeric epoch per row; SQLite sums
    Unix times."""

    type = Float()
    inherit_cache = True


@compiles(seconds_sum, "postgresql")
def _seconds_sum_pg(element: seconds_sum, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM SUM({later} - {earlier}))"


def _unix_sqlite(timestamp: str) -> str:
    """Seconds since the epoch of a timestamp SQLite stores as text. ``unixepoch`` (SQLite
    3.38) is the same whole seconds as the older STRFTIME cast at about half the cost a row
    (the received pass at 1M denials: 264 -> 192 ms)."""
    if sqlite3.sqlite_version_info >= (3, 38):
        return f"unixepoch({timestamp})"
    return f"CAST(STRFTIME('%s', {timestamp}) AS INTEGER)"


@compiles(seconds_sum)
def _seconds_sum_sqlite(element: seconds_sum, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"SUM({_unix_sqlite(later)} - {_unix_sqlite(earlier)})"


class weeks_since(FunctionElement[int]):
    """Whole weeks from a Unix time to a timestamp: one subtraction and one division a row,
    where a CASE would compare against every week's bounds."""

    type = Integer()
    inherit_cache = True


@compiles(weeks_since, "postgresql")
def _weeks_since_pg(element: weeks_since, compiler: Any, **kw: Any) -> str:
    at, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor((date_part('epoch', {at}) - {start}) / 604800) AS INTEGER)"


@compiles(weeks_since)
def _weeks_since_sqlite(element: weeks_since, compiler: Any, **kw: Any) -> str:
    at, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"(({_unix_sqlite(at)} - {start}) / 604800)"


def roomy(conn: Connection) -> None:
    """Give this transaction's aggregates memory to hash in (PostgreSQL's default 4 MB sends
    a 100k-row grouping to disk); the setting ends with the transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


#: What a supervisor can narrow the view to, and the denials column each filter reads.
DIMENSIONS = {"payer": "payer_id", "team": "team", "category": "category", "site": "site"}
#: A filter's value: as stored, the stored values a typed one named (`engine.read.queries.match_filters`;
#: none at all when it named nothing), or ``None`` for all.
FilterValue = str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Filters:
    """What a supervisor narrows the view to; ``None`` means all."""

    payer: FilterValue = None
    team: FilterValue = None
    category: FilterValue = None
    site: FilterValue = None

    def where(self, columns: Any = d) -> list[ColumnElement[bool]]:
        """Conditions on ``columns`` (the denials', or a table that repeats their dimensions)."""
        out = []
        for name, column in DIMENSIONS.items():
            value = getattr(self, name)
            if isinstance(value, tuple):
                out.append(columns[column].in_(value))
            elif value:
                out.append(columns[column] == value)
        return out


@dataclass(frozen=True, slots=True)
class Scope:
    """Filters plus a date range ``[start, end)``."""

    start: date
    end: date
    filters: Filters = field(default_factory=Filters)

    def between(self, column: Any) -> list[ColumnElement[bool]]:
        return [column >= midnight(self.start), column < midnight(self.end), *self.filters.where()]

    def weeks(self) -> list[date]:
        """The start of each 7-day step from ``start`` that begins before ``end``."""
        return [self.start + timedelta(days=7 * i) for i in range(max(1, -(-(self.end - self.start).days // 7)))]


# -- open work, now -------------------------------------------------------------------


def stuck_condition(today: date, rules: EscalationRules) -> ColumnElement[bool]:
    """Will not move unless someone acts: escalated, over the touch limit, no owner, past
    its follow-up date, or a payer deadline inside the lead time."""
    near = today + timedelta(days=rules.deadline_lead_days)
    return and_(d.state.in_(WORKABLE), or_(
        d.state == "escalated",
        d.touches >= rules.touch_limit,
        d.owner.is_(None),
        and_(d.next_action_date < today, d.state.in_(("assigned", "worked"))),
        d.filing_deadline <= near,
        d.appeal_deadline <= near,
        d.retro_auth_deadline <= near,
    ))  # fmt: skip


#: Open work, written as the partial index's predicate word for word: SQLite uses a partial
#: index only for a query that repeats it (bound parameters would not do).
OPEN_WORK = text(OPEN_SQL)


def open_where(filters: Filters) -> list[ColumnElement[bool]]:
    return [OPEN_WORK, *filters.where()]


def open_work(conn: Connection, filters: Filters, today: date, rules: EscalationRules) -> dict[str, Any]:
    """Open denials now, from one pass: totals, per team and owner, per aging bucket
    (days since receipt), never touched, escalated, dated by the default limits (their payer
    has no profile), and how many are stuck. The flags are grouping keys, so each row's
    conditions are evaluated once."""
    bucket = case(*((d.received_at < midnight(today - timedelta(days=start - 1)), name)
                    for start, name in reversed(BUCKETS) if start), else_=BUCKETS[0][1]).label("bucket")  # fmt: skip
    flags = (stuck_condition(today, rules).label("stuck"), (d.touches == 0).label("untouched"),
             (d.state == "escalated").label("escalated"), d.payer_profile_known)  # fmt: skip
    roomy(conn)
    rows = conn.execute(select(d.team, d.owner, bucket, *flags, func.count(), func.sum(d.denied_cents))
                        .where(*open_where(filters)).group_by(d.team, d.owner, bucket, *flags)).all()  # fmt: skip
    owners: dict[tuple[str, str], list[Any]] = {}
    aging = {name: [0, 0] for _, name in BUCKETS}
    totals = {"count": 0, "cents": 0, "never_touched": 0, "escalated": 0, "stuck": 0, "stuck_cents": 0,
              "payer_limits_unknown": 0}  # fmt: skip
    for team, owner, name, stuck, untouched, escalated, profile_known, n, cents in rows:
        for sums in (owners.setdefault((team or "-", owner or "(no owner)"), [0, 0]), aging[name]):
            sums[0] += n
            sums[1] += cents
        totals["count"] += n
        totals["cents"] += cents
        totals["never_touched"] += n if untouched else 0
        totals["escalated"] += n if escalated else 0
        totals["payer_limits_unknown"] += 0 if profile_known else n
        totals["stuck"] += n if stuck else 0
        totals["stuck_cents"] += cents if stuck else 0
    ranked = sorted(owners.items(), key=lambda kv: (-kv[1][1], kv[0]))
    return {
        "totals": {"count": totals["count"], "dollars": dollars(totals["cents"]),
                   "never_touched": totals["never_touched"], "escalated": totals["escalated"],
                   "payer_limits_unknown": totals["payer_limits_unknown"]},
        "stuck": {"count": totals["stuck"], "dollars": dollars(totals["stuck_cents"])},
        "by_owner": [{"team": t, "owner": o, "count": n, "dollars": dollars(c)} for (t, o), (n, c) in ranked],
        "aging": [{"bucket": name, "count": aging[name][0], "dollars": dollars(aging[name][1])} for _, name in BUCKETS],
    }  # fmt: skip


def open_at(conn: Connection, filters: Filters, end: date) -> dict[str, Any]:
    """What was open at midnight starting ``end`` (a past week's end): received before it and
    still open, or closed since; per aging bucket as of then, and how many were untouched then.
    A denial settled (resolved, written off) but not yet closed after ``end`` is not counted:
    the store keeps when a denial closed, not when it settled."""
    at = midnight(end)
    bucket = case(*((d.received_at < midnight(end - timedelta(days=start - 1)), name)
                    for start, name in reversed(BUCKETS) if start), else_=BUCKETS[0][1]).label("bucket")  # fmt: skip
    untouched = or_(d.first_touch_at.is_(None), d.first_touch_at >= at).label("untouched")
    rows = conn.execute(
        select(bucket, untouched, func.count(), func.sum(d.denied_cents))
        .where(d.received_at < at, or_(OPEN_WORK, d.closed_at >= at), *filters.where())
        .group_by(bucket, untouched)
    ).all()
    aging = {name: [0, 0] for _, name in BUCKETS}
    never_touched = 0
    for name, was_untouched, n, cents in rows:
        aging[name][0] += n
        aging[name][1] += cents
        never_touched += n if was_untouched else 0
    return {
        "aging": [{"bucket": name, "count": aging[name][0], "dollars": dollars(aging[name][1])} for _, name in BUCKETS],
        "never_touched": never_touched,
    }


# -- denials received in the range ----------------------------------------------------

#: What "new denials" can be split by; a reason is the primary group and CARC ("CO-197").
KEYS = {"payer": (d.payer_id,), "category": (d.category,), "owner": (d.owner,), "site": (d.site,),
        "reason": (d.primary_group, d.primary_reason)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Received:
    """Denials received in a scope, summed per week and per the keys asked for: every
    "new denials" figure is read from this one pass."""

    weeks: list[date]
    keys: tuple[str, ...]
    rows: list[tuple[Any, ...]]  # week index, *key values, count, cents, first-touch seconds, touched

    def _col(self, key: str) -> int:
        return 1 + self.keys.index(key)

    def by(self, key: str) -> list[dict[str, Any]]:
        """Count and dollars per value of ``key``, most dollars first."""
        sums: dict[str, list[int]] = {}
        for r in self.rows:
            s = sums.setdefault(r[self._col(key)] or "-", [0, 0])
            s[0] += r[-4]
            s[1] += r[-3]
        ranked = sorted(sums.items(), key=lambda kv: (-kv[1][1], kv[0]))
        return [{"key": k, "count": n, "dollars": dollars(c)} for k, (n, c) in ranked]

    def trend(self, key: str | None = None) -> list[dict[str, Any]]:
        """Per week (and per value of ``key``): count and dollars; every week when no key."""
        sums: dict[tuple[int, str], list[int]] = {}
        for r in self.rows:
            s = sums.setdefault((r[0], r[self._col(key)] or "-" if key else ""), [0, 0])
            s[0] += r[-4]
            s[1] += r[-3]
        if key is None:
            return [{"week": w.isoformat(), "count": sums.get((i, ""), [0, 0])[0],
                     "dollars": dollars(sums.get((i, ""), [0, 0])[1])} for i, w in enumerate(self.weeks)]  # fmt: skip
        return [{"week": self.weeks[w].isoformat(), "key": k, "count": n, "dollars": dollars(c)}
                for (w, k), (n, c) in sorted(sums.items())]  # fmt: skip

    def top_reasons(self, limit: int = 5) -> list[dict[str, Any]]:
        return [{"reason": r["key"], "count": r["count"]} for r in
                sorted(self.by("reason"), key=lambda r: (-r["count"], r["key"]))[:limit]]  # fmt: skip

    def recurring_reasons(self, limit: int = 5) -> dict[str, Any]:
        """Each week's top reasons, and which made every week's list (among weeks with
        denials): the same reasons week after week mean the fix is upstream."""
        per_week: dict[int, dict[str, int]] = {}
        for r in self.rows:
            week = per_week.setdefault(r[0], {})
            week[r[self._col("reason")]] = week.get(r[self._col("reason")], 0) + r[-4]
        weeks = []
        for i, start in enumerate(self.weeks):
            ranked = sorted(per_week.get(i, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            weeks.append({"week": start.isoformat(), "reasons": [{"reason": k, "count": n} for k, n in ranked]})
        listed = [{r["reason"] for r in w["reasons"]} for w in weeks if w["reasons"]]
        return {"weeks": weeks, "recurring": sorted(set.intersection(*listed)) if len(listed) > 1 else []}

    def days_to_first_touch(self) -> float | None:
        return _days(sum(r[-2] or 0 for r in self.rows), sum(r[-1] for r in self.rows))


def received(conn: Connection, scope: Scope, *keys: str) -> Received:
    weeks = scope.weeks()
    week = weeks_since(d.received_at, int(midnight(scope.start).timestamp())).label("week")
    columns = [c for k in keys for c in KEYS[k]]
    roomy(conn)
    rows = conn.execute(
        select(week, *columns, func.count(), func.sum(d.denied_cents), seconds_sum(d.first_touch_at, d.received_at),
               func.count(d.first_touch_at))
        .where(*scope.between(d.received_at)).group_by(week, *columns)
    ).all()  # fmt: skip
    return Received(weeks, keys, [_joined_reason(tuple(r), keys) for r in rows])


def _joined_reason(row: tuple[Any, ...], keys: tuple[str, ...]) -> tuple[Any, ...]:
    """One value per key: the reason's two columns become "CO-197"."""
    if "reason" not in keys:
        return row
    at = 1 + keys.index("reason")
    return (*row[:at], f"{row[at] or ''}-{row[at + 1] or ''}", *row[at + 2 :])


# -- denials closed in the range, payer answers -----------------------------------------


def closed(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Denials closed in the scope: days from receipt to close, touches per resolution,
    share preventable (of those closed with a root cause)."""
    verdict = d.root_cause["preventable"].as_boolean()
    n, seconds, touches, with_cause, preventable = conn.execute(
        select(func.count(), seconds_sum(d.closed_at, d.received_at), func.sum(d.touches),
               func.count(verdict), _count_if(verdict))
        .where(*scope.between(d.closed_at))
    ).one()  # fmt: skip
    return {
        "days_to_close": _days(seconds, n),
        "closed": n,
        "touches_per_resolution": round(float(touches) / n, 2) if n else None,
        "share_preventable": round(preventable / with_cause, 3) if with_cause else None,
    }


def payer_answers(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Appeal overturn rate (payer answers to appeals in the scope) and write-offs by
    adjustment type (approved in the scope), from `outcome_events`."""
    o = OUTCOMES.c
    rows = conn.execute(
        select(o.kind, o.adjustment_type, func.count(), func.sum(o.amount_cents))
        .where(o.occurred_at >= midnight(scope.start), o.occurred_at < midnight(scope.end), *scope.filters.where(o))
        .group_by(o.kind, o.adjustment_type)
    ).all()  # fmt: skip
    answers = {kind: n for kind, _, n, _ in rows if kind != "written_off"}
    answered = sum(answers.values())
    write_offs = sorted(
        ((t or "-", n, c) for kind, t, n, c in rows if kind == "written_off"), key=lambda r: (-r[2], r[0])
    )
    return {
        "appeal_overturn_rate": round(answers.get("overturned", 0) / answered, 3) if answered else None,
        "appeals_answered": answered,
        "write_offs_by_reason": [{"reason": t, "count": n, "dollars": dollars(c)} for t, n, c in write_offs],
    }
