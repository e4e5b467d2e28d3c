"""Read models over the store: the questions supervisors ask, shared by the CLI and (later) the web app."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, or_, select

from engine.clock import as_utc
from engine.store import AUDIT, DENIALS
from workflows.escalation import BUCKETS, EscalationRules, aging_bucket

#: States where the practice still has work to do (not waiting on the payer, not done).
WORKABLE = ("received", "classified", "assigned", "worked", "escalated")
TOP, NEXT = 20, 50
MIDDLE_LAYER = (25_000, 150_000)  # $250-$1,500, in cents
WEEKLY_BATCH_BELOW = 10_000  # $100


@dataclass(frozen=True, slots=True)
class TriageItem:
    payer_id: str
    rank: int
    tier: str
    id: str
    denied_cents: int
    priority: str
    deadline: date | None
    deadline_near: bool
    state: str
    owner: str | None
    category: str | None
    touches: int

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__} | {"deadline": self.deadline and self.deadline.isoformat()}


def _tier(rank: int, denied_cents: int, touches: int, flags: dict[str, Any]) -> str:
    """DOMAIN.md's triage: top 20 by value, the next 50, then the middle layer touched at most
    once (worked as a batch) and the sub-$100 items (reviewed weekly as a batch; a soft
    write-off candidate once a cycle passed with no progress)."""
    if rank <= TOP:
        return "top 20"
    if rank <= TOP + NEXT:
        return "next 50"
    if denied_cents < WEEKLY_BATCH_BELOW:
        return "weekly batch: soft write-off candidate" if "soft_write_off" in flags else "weekly batch"
    if MIDDLE_LAYER[0] <= denied_cents < MIDDLE_LAYER[1] and touches <= 1:
        return "middle layer"
    return "queue"


def _nearest(*days: date | None) -> date | None:
    return min((d for d in days if d is not None), default=None)


def triage(
    conn: Connection, today: date, near_days: int, payer_id: str | None = None, limit_per_payer: int | None = None
) -> list[TriageItem]:
    """Open, workable denials ranked within each payer: a deadline within ``near_days`` first,
    then by dollar value."""
    cutoff = today + timedelta(days=near_days)
    d = DENIALS.c
    near = or_(d.filing_deadline <= cutoff, d.appeal_deadline <= cutoff, d.retro_auth_deadline <= cutoff)
    near_flag = case((near, literal(1)), else_=literal(0))
    rank = func.row_number().over(partition_by=d.payer_id, order_by=(near_flag.desc(), d.denied_cents.desc(), d.id))
    inner = select(
        d.payer_id,
        rank.label("rank"),
        d.id,
        d.denied_cents,
        d.priority,
        d.filing_deadline,
        d.appeal_deadline,
        d.retro_auth_deadline,
        near_flag.label("near"),
        d.state,
        d.owner,
        d.category,
        d.touches,
        d.outcome,
    )
    inner = inner.where(d.state.in_(WORKABLE))  # fmt: skip
    if payer_id is not None:
        inner = inner.where(d.payer_id == payer_id)
    ranked = inner.subquery()
    query = select(ranked).order_by(ranked.c.payer_id, ranked.c.rank)
    if limit_per_payer is not None:
        query = query.where(ranked.c.rank <= limit_per_payer)
    return [_item(r) for r in conn.execute(query)]


def _item(r: Any) -> TriageItem:
    return TriageItem(
        r.payer_id, r.rank, _tier(r.rank, r.denied_cents, r.touches, (r.outcome or {}).get("flags", {})), r.id,
        r.denied_cents, r.priority,
        _nearest(r.filing_deadline, r.appeal_deadline, r.retro_auth_deadline), bool(r.near), r.state, r.owner,
        r.category, r.touches,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EscalationItem:
    id: str
    payer_id: str
    denied_cents: int
    rule: str
    detail: dict[str, Any]
    escalated_at: datetime
    waited_days: int
    overdue: bool  # waited longer than one weekly cycle
    owner: str | None
    team: str | None
    flags: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__} | {"escalated_at": self.escalated_at.isoformat()}


def escalations(conn: Connection, now: datetime, cycle_days: int) -> list[EscalationItem]:
    """The escalation queue, by dollar value: why each item is there and how long it has waited."""
    d = DENIALS.c
    rows = conn.execute(
        select(d.id, d.payer_id, d.denied_cents, d.outcome, d.owner, d.team, d.updated_at)
        .where(d.state == "escalated")
        .order_by(d.denied_cents.desc(), d.id)
    )
    items = []
    for r in rows:
        escalation = (r.outcome or {}).get("escalation", {})
        since = datetime.fromisoformat(escalation["at"]) if "at" in escalation else as_utc(r.updated_at)
        waited = (now - since).days
        items.append(EscalationItem(r.id, r.payer_id, r.denied_cents, escalation.get("rule", "manual"),
                                    escalation.get("detail", {}), since, waited, waited > cycle_days, r.owner,
                                    r.team, sorted((r.outcome or {}).get("flags", {}))))  # fmt: skip
    return items


@dataclass(frozen=True, slots=True)
class StuckItem:
    id: str
    payer_id: str
    team: str | None
    owner: str | None
    state: str
    denied_cents: int
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__} | {"reasons": list(self.reasons)}


#: States in which nothing moves unless someone acts (not waiting on the payer, not done).
_STALLABLE = ("received", "classified", "assigned", "worked", "escalated")


def _stuck_reasons(r: Any, today: date, rules: EscalationRules) -> tuple[str, ...]:
    reasons = []
    if r.state == "escalated":
        rule = ((r.outcome or {}).get("escalation") or {}).get("rule", "manual")
        reasons.append(f"escalated: {rule}")
    if r.touches >= rules.touch_limit:
        reasons.append(f"over the touch limit: {r.touches} touches")
    if r.owner is None:
        reasons.append(f"no owner for {(today - as_utc(r.received_at).date()).days} days")
    elif r.next_action_date is not None and r.next_action_date < today and r.state in ("assigned", "worked"):
        reasons.append(f"past follow-up: next action was {r.next_action_date}")
    near = today + timedelta(days=rules.deadline_lead_days)
    for name in ("filing", "appeal", "retro_auth"):
        deadline = getattr(r, f"{name}_deadline")
        if deadline is not None and deadline <= near and r.state != "escalated":
            reasons.append(f"{name} deadline {'passed' if deadline < today else 'near'}: {deadline}")
    return tuple(reasons)


def stuck(conn: Connection, today: date, rules: EscalationRules, team: str | None = None) -> list[StuckItem]:
    """Denials that will not move without someone acting, each with why, by dollar value:
    escalated, over the touch limit, past their follow-up date, without an owner, or with a
    payer deadline inside the lead time."""
    d = DENIALS.c
    near = today + timedelta(days=rules.deadline_lead_days)
    condition = or_(
        d.state == "escalated",
        d.touches >= rules.touch_limit,
        d.owner.is_(None),
        and_(d.next_action_date < today, d.state.in_(("assigned", "worked"))),
        d.filing_deadline <= near,
        d.appeal_deadline <= near,
        d.retro_auth_deadline <= near,
    )
    query = (
        select(d.id, d.payer_id, d.team, d.owner, d.state, d.denied_cents, d.touches, d.received_at,
               d.next_action_date, d.filing_deadline, d.appeal_deadline, d.retro_auth_deadline, d.outcome)
        .where(d.state.in_(_STALLABLE), condition)
        .order_by(d.denied_cents.desc(), d.id)
    )  # fmt: skip
    if team is not None:
        query = query.where(d.team == team)
    items = []
    for r in conn.execute(query):
        reasons = _stuck_reasons(r, today, rules)
        if reasons:
            items.append(StuckItem(r.id, r.payer_id, r.team, r.owner, r.state, r.denied_cents, reasons))
    return items


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: str
    owner: str | None
    state: str
    priority: str
    denied_cents: int
    touches: int
    next_action_date: date | None
    payer_id: str
    category: str | None

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__} | {
            "next_action_date": self.next_action_date and self.next_action_date.isoformat()
        }


_PRIORITY_ORDER = case(
    {"urgent": 0, "high": 1, "middle": 2, "standard": 3, "batch": 4}, value=DENIALS.c.priority, else_=5
)


def queue(conn: Connection, team: str) -> list[QueueItem]:
    """A team's open work, what to do first on top: priority tier, then value, then the
    oldest next-action date."""
    d = DENIALS.c
    query = (
        select(d.id, d.owner, d.state, d.priority, d.denied_cents, d.touches, d.next_action_date, d.payer_id,
               d.category)
        .where(d.team == team, d.state.in_(_STALLABLE))
        .order_by(_PRIORITY_ORDER, d.denied_cents.desc(), d.next_action_date, d.id)
    )  # fmt: skip
    return [QueueItem(**r._mapping) for r in conn.execute(query)]


def _week_bounds(week_start: date) -> tuple[datetime, datetime]:
    start = datetime(week_start.year, week_start.month, week_start.day, tzinfo=UTC)
    return start, start + timedelta(days=7)


def _money(rows: Any) -> list[dict[str, Any]]:
    return [{"key": k or "-", "count": n, "dollars": round((c or 0) / 100, 2)} for k, n, c in rows]


def weekly_report(conn: Connection, week_start: date, weeks: int = 4) -> dict[str, Any]:
    """DOMAIN.md's weekly numbers for the week starting ``week_start``, with the trend over
    the ``weeks`` before it: new denials by payer, category, owner and site; the top five
    reasons week over week; time to first touch and to close; touches per resolution; aging
    buckets; appeal overturn rate; write-offs by reason; share preventable; never touched."""
    d, a = DENIALS.c, AUDIT.c
    start, end = _week_bounds(week_start)
    in_week = and_(d.received_at >= start, d.received_at < end)

    def by(column: Any) -> list[dict[str, Any]]:
        rows = conn.execute(select(column, func.count(), func.sum(d.denied_cents)).where(in_week)
                            .group_by(column).order_by(func.sum(d.denied_cents).desc()))  # fmt: skip
        return _money(rows)

    trend = []
    for back in range(weeks, -1, -1):
        s, e = _week_bounds(week_start - timedelta(days=7 * back))
        n, cents = conn.execute(select(func.count(), func.sum(d.denied_cents))
                                .where(d.received_at >= s, d.received_at < e)).one()  # fmt: skip
        trend.append({"week": s.date().isoformat(), "count": n, "dollars": round((cents or 0) / 100, 2)})

    def top_reasons(s: datetime, e: datetime) -> list[dict[str, Any]]:
        reason = func.coalesce(d.primary_group, "") + literal("-") + func.coalesce(d.primary_reason, "")
        rows = conn.execute(select(reason, func.count()).where(d.received_at >= s, d.received_at < e)
                            .group_by(reason).order_by(func.count().desc(), reason).limit(5))  # fmt: skip
        return [{"reason": r, "count": n} for r, n in rows]

    first_touch = (
        select(a.denial_id, func.min(a.occurred_at).label("at")).where(a.trigger == "touch").group_by(a.denial_id)
    ).subquery()
    touched = conn.execute(select(d.received_at, first_touch.c.at).join(first_touch, first_touch.c.denial_id == d.id)
                           .where(in_week)).all()  # fmt: skip
    closed = conn.execute(select(d.received_at, d.closed_at, d.touches, d.root_cause)
                          .where(d.closed_at >= start, d.closed_at < end)).all()  # fmt: skip
    week_steps = conn.execute(select(a.trigger, a.from_state, a.payload)
                              .where(a.occurred_at >= start, a.occurred_at < end,
                                     a.trigger.in_(("resolve", "uphold", "write_off")))).all()  # fmt: skip
    appeal_answers = [t for t, f, _ in week_steps if f == "appealed"]
    write_offs: dict[str, float] = {}
    for trigger, _, payload in week_steps:
        if trigger == "write_off":
            kind = payload.get("adjustment_type", "-")
            write_offs[kind] = write_offs.get(kind, 0) + float(payload.get("amount", 0))
    open_rows = conn.execute(select(d.received_at, d.denied_cents, d.touches)
                             .where(d.state.not_in(("closed", "resolved", "written_off")))).all()  # fmt: skip
    buckets: dict[str, list[float]] = {name: [0, 0.0] for _, name in BUCKETS}
    for received, cents, _ in open_rows:
        bucket = buckets[aging_bucket(as_utc(received).date(), end.date())]
        bucket[0] += 1
        bucket[1] += cents / 100
    preventable = [c.root_cause.get("preventable") for c in closed if c.root_cause]
    return {
        "week": start.date().isoformat(),
        "new": {"by_payer": by(d.payer_id), "by_category": by(d.category), "by_owner": by(d.owner),
                "by_site": by(d.site)},
        "trend": trend,
        "top_reasons": {"this_week": top_reasons(start, end),
                        "last_week": top_reasons(start - timedelta(days=7), start)},
        "days_to_first_touch": _avg_days((as_utc(r), as_utc(t)) for r, t in touched),
        "days_to_close": _avg_days((as_utc(c.received_at), as_utc(c.closed_at)) for c in closed),
        "touches_per_resolution": round(sum(c.touches for c in closed) / len(closed), 2) if closed else None,
        "aging": [{"bucket": k, "count": v[0], "dollars": round(v[1], 2)} for k, v in buckets.items()],
        "appeal_overturn_rate": round(appeal_answers.count("resolve") / len(appeal_answers), 3)
        if appeal_answers else None,
        "write_offs_by_reason": [{"reason": k, "dollars": round(v, 2)} for k, v in sorted(write_offs.items())],
        "share_preventable": round(sum(1 for p in preventable if p) / len(preventable), 3) if preventable else None,
        "never_touched": sum(1 for _, _, touches in open_rows if touches == 0),
    }  # fmt: skip


def _avg_days(pairs: Any) -> float | None:
    spans = [(b - a).total_seconds() / 86_400 for a, b in pairs]
    return round(sum(spans) / len(spans), 2) if spans else None
