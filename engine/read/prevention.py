"""What prevention looks like from the outside: the authorization team's queue (alerts and
held claims), the prevention panel (holds by sub-cause and payer, released or sent anyway,
and whether the payer denied those claims for authorization anyway), and the prevention
actions that closed, preventable denials named. Shared by the CLI, the API and the pages.
"""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, distinct, func, select

from engine.clock import as_utc
from engine.read.kpis import Filters, Scope, midnight
from engine.read.render import mask
from engine.storage.prevention_store import ALERTS, AUTHORIZATIONS, CLAIM_CHECKS, DENIALS
from workflows.presubmission import HOLD

#: Queue order: what blocks care or money first.
URGENCY = {"expired": 0, "exhausted": 1, "hold": 2, "expires_soon": 3, "units_low": 4}


@dataclass(frozen=True, slots=True)
class QueueItem:
    kind: str  # an alert's condition, or "hold"
    subject: str  # authorization id or claim id
    payer_id: str
    reference: str  # the authorization number, or the practice's claim id (CLM01)
    member: str | None  # masked unless the reader works claims
    since: datetime
    what: str  # sub-causes, or the authorization's figures
    next_action: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "since": self.since.isoformat()}


def authorization_queue(conn: Connection, phi: bool, payer: str | None = None, limit: int = 500) -> list[QueueItem]:
    """Open alerts and held claims, most urgent first, then oldest."""
    a, z = ALERTS.c, AUTHORIZATIONS.c
    alerts = select(a.authorization_id, a.payer_id, a.reference, a.condition, a.raised_at, a.detail, z.member_id)
    alerts = alerts.join_from(ALERTS, AUTHORIZATIONS, z.authorization_id == a.authorization_id)
    alerts = alerts.where(a.resolved_at.is_(None), *([a.payer_id == payer] if payer else []))
    c = CLAIM_CHECKS.c
    holds = select(c.claim_id, c.payer_id, c.patient_control_number, c.sub_causes, c.checked_at, c.result, c.patient)
    holds = holds.where(c.verdict == HOLD, *([c.payer_id == payer] if payer else []))
    items = []
    for r in conn.execute(alerts.limit(limit)):
        d = r.detail
        units = d.get("units_remaining")
        left = "" if units is None else f", {units} of {d['units_approved']} units left"
        figures = f"valid to {d.get('valid_to')}{left}"
        member = _member(r.member_id, phi)
        items.append(QueueItem(r.condition, r.authorization_id, r.payer_id, r.reference, member, as_utc(r.raised_at),
                               figures, d.get("next_action", "")))  # fmt: skip
    for r in conn.execute(holds.limit(limit)):
        failed = [f for line in r.result.get("lines", []) for f in line["failed"]]
        member = (r.patient or {}).get("member_id")
        items.append(QueueItem(HOLD, r.claim_id, r.payer_id, r.patient_control_number, _member(member, phi),
                               as_utc(r.checked_at), r.sub_causes.replace(",", ", "),
                               failed[0]["next_action"] if failed else ""))  # fmt: skip
    items.sort(key=lambda i: (URGENCY.get(i.kind, 9), i.since))
    return items[:limit]


def _member(member_id: str | None, phi: bool) -> str | None:
    return member_id if phi else mask(member_id, keep=4)


def _pairs(rows: Any) -> list[dict[str, Any]]:
    return [{"key": k, "count": n} for k, n in sorted(rows, key=lambda r: (-r[1], r[0]))]


def prevention(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Claims first checked in the scope's range: how many, held for what, at which payers,
    what became of the holds; and of the authorization denials received in the range, how
    many were of a claim the check had held (sent anyway, or fixed) or passed."""
    c = CLAIM_CHECKS.c
    in_range = [c.first_checked_at >= midnight(scope.start), c.first_checked_at < midnight(scope.end),
                *Filters(payer=scope.filters.payer).where({"payer_id": c.payer_id})]  # fmt: skip
    totals = conn.execute(select(func.count(), func.count().filter(c.was_held)).where(*in_range)).one()
    held = [*in_range, c.was_held]
    causes: dict[str, int] = {}
    for sub_causes, n in conn.execute(select(c.sub_causes, func.count()).where(*held).group_by(c.sub_causes)):
        for cause in filter(None, sub_causes.split(",")):
            causes[cause] = causes.get(cause, 0) + n
    by_payer = conn.execute(select(c.payer_id, func.count()).where(*held).group_by(c.payer_id)).all()
    outcome = func.coalesce(c.release, c.verdict)
    fates = dict(conn.execute(select(outcome, func.count()).where(*held).group_by(outcome)).all())
    d = DENIALS.c
    fate = _fate(c)
    denied = select(fate, func.count(distinct(c.claim_id)))
    same_claim = and_(c.payer_id == d.payer_id, c.patient_control_number == d.patient_control_number)
    denied = denied.join_from(DENIALS, CLAIM_CHECKS, same_claim)
    denied = denied.where(d.category == "authorization", *scope.between(d.received_at),
                          d.received_at >= c.first_checked_at).group_by(fate)  # fmt: skip
    later = dict(conn.execute(denied).all())
    return {
        "claims_checked": totals[0],
        "held": totals[1],
        "holds_by_sub_cause": _pairs(causes.items()),
        "holds_by_payer": _pairs(by_payer),
        "holds": {"still_held": fates.get(HOLD, 0), "fixed": fates.get("fixed", 0),
                  "submitted_anyway": fates.get("submitted_anyway", 0), "voided": fates.get("void", 0)},
        "denied_for_authorization_later": {"after_a_hold_sent_anyway": later.get("submitted_anyway", 0),
                                           "after_a_hold_fixed": later.get("fixed", 0),
                                           "passed_the_check": later.get("passed", 0)},
    }  # fmt: skip


def _fate(c: Any) -> Any:
    """What the check did with a claim: its hold's release, else whether it passed."""
    return case((c.release.is_not(None), c.release), (c.was_held, "held"), else_="passed")


def prevention_actions(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """The prevention actions closed, preventable denials named in the range, with their owner:
    each action once, with how many denials named it and when last. Open while denials of the
    same root cause keep arriving after it was named; a root cause with none since is done."""
    d = DENIALS.c
    rows = conn.execute(select(d.root_cause, d.closed_at).where(d.preventable.is_(True), *scope.between(d.closed_at)))
    actions: dict[tuple[str, str, str], dict[str, Any]] = {}
    for root, closed_at in rows:
        if not root or not root.get("preventable") or not root.get("prevention_action"):
            continue
        key = (root["category"], root["prevention_action"], root.get("prevention_owner") or "unassigned")
        item = actions.setdefault(key, {"root_cause": key[0], "action": key[1], "owner": key[2], "denials": 0,
                                        "last_named": closed_at})  # fmt: skip
        item["denials"] += 1
        item["last_named"] = max(item["last_named"], closed_at)
    for item in actions.values():
        since = conn.scalar(select(func.count()).where(d.received_at > item["last_named"], d.preventable.is_(True),
                                                       _root_category(d, item["root_cause"])))  # fmt: skip
        item["status"] = "open" if since else "done"
        item["last_named"] = as_utc(item["last_named"]).isoformat()
    return sorted(actions.values(), key=lambda i: (i["status"] != "open", -i["denials"], i["action"]))


#: Which denial categories each root-cause category's prevention addresses.
_ROOT_CATEGORIES = {
    "prior_authorization": ("authorization",), "eligibility_verification": ("eligibility",),
    "intake_registration": ("eligibility",), "coding": ("coding",), "clinical_documentation": ("documentation",),
    "charge_entry": ("claim_data",), "claim_submission": ("claim_data", "timely_filing"),
    "credentialing_enrollment": ("credentialing",), "contract_fee_schedule": ("contract",),
}  # fmt: skip


def _root_category(d: Any, root: str) -> Any:
    return d.category.in_(_ROOT_CATEGORIES.get(root, ()))
