"""Read models over the store: the questions supervisors ask, shared by the CLI and the web app."""

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, func, literal, or_, select

from engine.clock import as_utc
from engine.config import Settings
from engine.read import kpis, prevention
from engine.read.kpis import DIMENSIONS, WORKABLE, Filters, FilterValue
from engine.storage.store import DENIALS
from workflows.classification import NEEDS_REVIEW, carc_rules
from workflows.escalation import EscalationRules, deadline_alerts, describe_alert
from workflows.payers import PayerPolicies
from workflows.routing import Routing

d = DENIALS.c

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
    conn: Connection, today: date, near_days: int, payer: FilterValue = None, limit_per_payer: int | None = None
) -> list[TriageItem]:
    """Open, workable denials ranked within each payer (``payer``: as in `Filters`): a deadline
    still ahead within ``near_days`` first (one already past moves nothing up: the lead decides
    those), then by dollar value."""
    cutoff = today + timedelta(days=near_days)
    d = DENIALS.c
    near = or_(*(c.between(today, cutoff) for c in (d.filing_deadline, d.appeal_deadline, d.retro_auth_deadline)))
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
    inner = inner.where(d.state.in_(WORKABLE), *Filters(payer=payer).where())
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
class UnknownPayer:
    """A payer seen on denials that has no profile in the payer file: its denials are dated
    by the defaults."""

    payer_id: str
    payer_name: str
    denials: int
    denied_cents: int
    open: int
    open_cents: int

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def unknown_payers(conn: Connection, profiled: Collection[str]) -> list[UnknownPayer]:
    """Payers on the denials without a profile among ``profiled``, most denied dollars first."""
    is_open = kpis.OPEN_WORK
    rows = conn.execute(
        select(d.payer_id, func.max(d.payer_name), func.count(), func.sum(d.denied_cents),
               func.sum(case((is_open, 1), else_=0)), func.sum(case((is_open, d.denied_cents), else_=0)))
        .where(d.payer_id.not_in(list(profiled)))
        .group_by(d.payer_id)
        .order_by(func.sum(d.denied_cents).desc(), d.payer_id)
    )  # fmt: skip
    return [UnknownPayer(p, name, n, int(cents or 0), int(n_open or 0), int(open_cents or 0))
            for p, name, n, cents, n_open, open_cents in rows]  # fmt: skip


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
    deadlines: list[str]  # passed or near payer deadlines, soonest first: what a lead sees first

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__} | {"escalated_at": self.escalated_at.isoformat()}


def escalations(
    conn: Connection, now: datetime, cycle_days: int, lead_days: int = EscalationRules().deadline_lead_days
) -> list[EscalationItem]:
    """The escalation queue, by dollar value: why each item is there, how long it has waited,
    and any payer deadline passed or inside ``lead_days``."""
    d = DENIALS.c
    rows = conn.execute(
        select(
            d.id,
            d.payer_id,
            d.denied_cents,
            d.outcome,
            d.owner,
            d.team,
            d.updated_at,
            d.filing_deadline,
            d.appeal_deadline,
            d.retro_auth_deadline,
        )
        .where(d.state == "escalated")
        .order_by(d.denied_cents.desc(), d.id)
    )
    items = []
    for r in rows:
        escalation = (r.outcome or {}).get("escalation", {})
        since = datetime.fromisoformat(escalation["at"]) if "at" in escalation else as_utc(r.updated_at)
        waited = (now - since).days
        alerts = [describe_alert(a) for a in deadline_alerts(r, now.date(), lead_days)]
        items.append(EscalationItem(r.id, r.payer_id, r.denied_cents, escalation.get("rule", "manual"),
                                    escalation.get("detail", {}), since, waited, waited > cycle_days, r.owner,
                                    r.team, sorted((r.outcome or {}).get("flags", {})), alerts))  # fmt: skip
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


def _stuck_reasons(r: Any, today: date, rules: EscalationRules) -> tuple[str, ...]:
    """Why a denial is stuck; a passed or near payer deadline first, whatever its state."""
    reasons = [describe_alert(a) for a in deadline_alerts(r, today, rules.deadline_lead_days)]
    if r.state == "escalated":
        rule = ((r.outcome or {}).get("escalation") or {}).get("rule", "manual")
        reasons.append(f"escalated: {rule}")
    if r.touches >= rules.touch_limit:
        reasons.append(f"over the touch limit: {r.touches} touches")
    if r.owner is None:
        reasons.append(f"no owner for {(today - as_utc(r.received_at).date()).days} days")
    elif r.next_action_date is not None and r.next_action_date < today and r.state in ("assigned", "worked"):
        reasons.append(f"past follow-up: next action was {r.next_action_date}")
    return tuple(reasons)


def stuck(conn: Connection, today: date, rules: EscalationRules, filters: Filters | None = None,
          limit: int | None = None) -> list[StuckItem]:  # fmt: skip
    """Denials that will not move without someone acting, each with why, by dollar value:
    escalated, over the touch limit, past their follow-up date, without an owner, or with a
    payer deadline inside the lead time."""
    query = (
        select(d.id, d.payer_id, d.team, d.owner, d.state, d.denied_cents, d.touches, d.received_at,
               d.next_action_date, d.filing_deadline, d.appeal_deadline, d.retro_auth_deadline, d.outcome)
        .where(kpis.OPEN_WORK, kpis.stuck_condition(today, rules), *(filters or Filters()).where())
        .order_by(d.denied_cents.desc(), d.id.desc())
        .limit(limit)
    )  # fmt: skip
    return [StuckItem(r.id, r.payer_id, r.team, r.owner, r.state, r.denied_cents, _stuck_reasons(r, today, rules))
            for r in conn.execute(query)]  # fmt: skip


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


def queue(conn: Connection, team: FilterValue) -> list[QueueItem]:
    """A team's (or, as in `Filters`, teams') open work, what to do first on top: priority
    tier, then value, then the oldest next-action date."""
    d = DENIALS.c
    query = (
        select(d.id, d.owner, d.state, d.priority, d.denied_cents, d.touches, d.next_action_date, d.payer_id,
               d.category)
        .where(*Filters(team=team).where(), d.state.in_(WORKABLE))
        .order_by(_PRIORITY_ORDER, d.denied_cents.desc(), d.next_action_date, d.id)
    )  # fmt: skip
    return [QueueItem(**r._mapping) for r in conn.execute(query)]


def weekly_report(conn: Connection, week_start: date, weeks: int = 4, filters: Filters | None = None) -> dict[str, Any]:
    """DOMAIN.md's weekly numbers for the week starting ``week_start``, with the trend over
    the ``weeks`` before it: new denials by payer, category, owner and site; the top five
    reasons week over week; time to first touch and to close; touches per resolution; aging
    buckets at the week's end; appeal overturn rate; write-offs by reason; share
    preventable; open denials never touched."""
    filters = filters or Filters()
    week_start -= timedelta(days=week_start.weekday())  # weeks start on Monday, whatever day is given
    week = kpis.Scope(week_start, week_start + timedelta(days=7), filters)
    new = kpis.received(conn, week, "payer", "category", "owner", "site", "reason")
    before = kpis.received(conn, kpis.Scope(week_start - timedelta(days=7), week_start, filters), "reason")
    history = kpis.received(conn, kpis.Scope(week_start - timedelta(days=7 * weeks), week.end, filters))
    done, answers = kpis.closed(conn, week), kpis.payer_answers(conn, week)
    then_open = kpis.open_at(conn, filters, week.end)
    return {
        "week": week_start.isoformat(),
        "new": {"by_payer": new.by("payer"), "by_category": new.by("category"), "by_owner": new.by("owner"),
                "by_site": new.by("site")},
        "trend": history.trend(),
        "top_reasons": {"this_week": new.top_reasons(), "last_week": before.top_reasons()},
        "days_to_first_touch": new.days_to_first_touch(),
        "days_to_close": done["days_to_close"],
        "touches_per_resolution": done["touches_per_resolution"],
        "aging": then_open["aging"],
        "appeal_overturn_rate": answers["appeal_overturn_rate"],
        "write_offs_by_reason": answers["write_offs_by_reason"],
        "share_preventable": done["share_preventable"],
        "never_touched": then_open["never_touched"],
        "prevention": prevention.prevention(conn, week),
        "prevention_actions": prevention.prevention_actions(conn, week),
    }  # fmt: skip


#: The dashboard's passes are independent reads: on their own connections they run side by
#: side (PostgreSQL works each on its own core), so a page costs its slowest pass, not the sum.
_PASSES = ThreadPoolExecutor(max_workers=5, thread_name_prefix="dashboard")


def dashboard(engine: Engine, scope: kpis.Scope, today: date, rules: EscalationRules, stuck_shown: int = 25,
              also: Mapping[str, Collection[str]] | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the supervisors' dashboard shows. Open work (by owner, stuck, aging, never
    touched) is as of ``today`` under the scope's filters, as typed (`match_filters`, with
    ``also``: the `configured` values); flow (trend, reasons, speed, payer answers, write-offs,
    preventable) is over the scope's date range, every week of it on the trend. Each pass reads
    its own snapshot: under live writes two tiles can be a transaction apart."""

    def start(read: Callable[[Connection], Any]) -> Future[Any]:
        def on_own_connection() -> Any:
            with engine.connect() as conn:
                return read(conn)

        return _PASSES.submit(on_own_connection)

    typed = scope.filters
    with engine.connect() as conn:
        matched = match_filters(conn, typed, also)
    scope = replace(scope, filters=matched.filters)
    f = scope.filters
    open_now = start(lambda c: kpis.open_work(c, f, today, rules))
    received = start(lambda c: kpis.received(c, scope, "category", "payer", "reason"))
    closed = start(lambda c: kpis.closed(c, scope))
    answers = start(lambda c: kpis.payer_answers(c, scope))
    top_stuck = start(lambda c: stuck(c, today, rules, f, stuck_shown))
    prevented = start(lambda c: prevention.prevention(c, scope))
    now_open, new, done = open_now.result(), received.result(), closed.result()
    return {
        "scope": {"start": scope.start.isoformat(), "end": scope.end.isoformat(), "payer": typed.payer,
                  "team": typed.team, "category": typed.category, "site": typed.site, "today": today.isoformat(),
                  "matched": matched.named, "unmatched": matched.unmatched},
        "open": now_open["totals"],
        "open_by_owner": now_open["by_owner"],
        "stuck": now_open["stuck"] | {"items": [i.as_dict() for i in top_stuck.result()]},
        "aging": now_open["aging"],
        "trend": {"weeks": [w.isoformat() for w in new.weeks], "by_category": new.trend("category"),
                  "by_payer": new.trend("payer")},
        "reasons": new.recurring_reasons(),
        "flow": {"days_to_first_touch": new.days_to_first_touch(), **done},
        "payer_answers": answers.result(),
        "new_by_category": new.by("category"),
        "prevention": prevented.result(),
    }  # fmt: skip


def configured(settings: Settings) -> dict[str, list[str]]:
    """The payers (with a profile), teams (routed to) and categories (of the CARC table) the
    configuration names: the dashboard's choices, and what a filter may name before any denial has it."""
    categories = {r.category for r in carc_rules().values()} - {"not_a_denial"} | {NEEDS_REVIEW}
    return {"payer": sorted(PayerPolicies.load(settings.payers_file).payers),
            "team": sorted(Routing.load(settings.routing_file).teams()), "category": sorted(categories)}  # fmt: skip


def known_values(conn: Connection, column: str) -> set[str]:
    """The distinct values a denials column holds (teams, payers): an empty answer to an
    unknown name is then said to be unknown, not shown as an empty table."""
    c = DENIALS.c[column]
    return {v for (v,) in conn.execute(select(c).where(c.is_not(None)).distinct())}


def matches(typed: str, known: Collection[str]) -> tuple[str, ...]:
    """The values ``typed`` names whatever its case: those equal to it, else those containing it
    (``aetna`` names AETNA, ``north`` North Clinic)."""
    wanted = typed.strip().casefold()
    equal = [k for k in known if k.casefold() == wanted]
    return tuple(sorted(equal or [k for k in known if wanted and wanted in k.casefold()]))


#: How many known values a "matched nothing" message lists.
LISTED = 20


def unknown(name: str, typed: str, known: Collection[str]) -> str:
    """Why ``typed`` matched nothing, with the values it could have named."""
    ranked = sorted(known)
    listed = ", ".join(ranked[:LISTED]) + (f" and {len(ranked) - LISTED} more" if len(ranked) > LISTED else "")
    return f"unknown {name} {typed!r}; known: {listed or 'none yet'}"


@dataclass(frozen=True, slots=True)
class Matched:
    """Typed filters resolved against the store."""

    filters: Filters  # a typed value not stored as such replaced by the stored values it names
    named: dict[str, list[str]]  # filter -> what a value typed otherwise than stored named
    unmatched: dict[str, str]  # filter -> why its value named nothing (the result is then empty)

    def values(self, name: str) -> tuple[str, ...] | None:
        """The stored values filter ``name`` stands for (``None``: not given)."""
        value = getattr(self.filters, name)
        return value if value is None or isinstance(value, tuple) else (value,)


def match_filters(conn: Connection, filters: Filters, also: Mapping[str, Collection[str]] | None = None) -> Matched:
    """Resolve what a person typed (``Filters`` of strings) to the stored values: a value stored
    as typed costs one index probe; otherwise the column's distinct values (and ``also``'s, e.g.
    the routing table's teams) are matched by `matches`. A value already resolved is kept."""
    resolved: dict[str, tuple[str, ...]] = {}
    named: dict[str, list[str]] = {}
    unmatched: dict[str, str] = {}
    for name, column in DIMENSIONS.items():
        typed = getattr(filters, name)
        c = DENIALS.c[column]
        if not isinstance(typed, str) or not typed or conn.scalar(select(c).where(c == typed).limit(1)) is not None:
            continue
        known = known_values(conn, column) | set((also or {}).get(name, ()))
        resolved[name] = found = matches(typed, known)
        if found == (typed,):
            continue
        if found:
            named[name] = list(found)
        else:
            unmatched[name] = unknown(name, typed, known)
    return Matched(replace(filters, **resolved), named, unmatched)
