"""Apply one validated event to one denial: guards, machine moves, field changes.

Pure: no I/O, no clock. The caller passes the denial (or None for a receipt) and a
`Policy` that makes the automatic decisions; it gets back the steps taken, each of
which becomes one audit entry and one change-feed message. A `Rejected` leaves the
denial untouched because every guard runs before the first change.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Protocol

from engine.errors import Rejected
from engine.events import ReceivedData
from workflows import guards
from workflows.classification import Classification, is_denial_adjustment
from workflows.denial import CREATE_TRIGGER, State, fire


@dataclass(frozen=True, slots=True)
class Step:
    trigger: str
    from_state: str | None
    to_state: str
    reason: str | None
    payload: dict[str, Any]


class Policy(Protocol):
    """The automatic decisions on receipt; live rules or, in replay, the recorded ones."""

    first_action_days: int

    def classify(self, data: ReceivedData) -> Classification: ...

    def route(self, payer_id: str, category: str, denial_id: str) -> tuple[str, str | None]: ...


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def priority_band(denied_cents: int) -> str:
    """DOMAIN.md's value tiers: the high-value middle layer is $250-$1,500, sub-$100 is batched."""
    if denied_cents >= 150_000:
        return "high"
    if denied_cents >= 25_000:
        return "middle"
    if denied_cents >= 10_000:
        return "standard"
    return "batch"


def apply_event(event: Any, denial: SimpleNamespace | None, policy: Policy) -> tuple[SimpleNamespace, list[Step]]:
    """Return the denial after the event and the steps taken, or raise `Rejected`."""
    if event.type == "denial.received":
        if denial is not None:
            raise Rejected("workflow.denial_exists", f"denial {event.denial_id} was already received", "denial_id")
        guards.check_actor(event, None)
        return _receive(event, policy)
    if denial is None:
        raise Rejected("workflow.unknown_denial", f"no denial {event.denial_id}", "denial_id")
    guards.check_actor(event, denial)
    trigger, update = _HANDLERS[event.type]
    if event.type == "denial.payer_responded":
        trigger = "uphold" if event.data.outcome == "upheld" else "resolve"
    work = SimpleNamespace(**vars(denial))
    work.outcome = dict(denial.outcome or {})
    source, dest = fire(work, trigger)
    reason = update(event, work, policy)
    payload = event.data.model_dump(mode="json")
    return work, [Step(trigger, source, dest, reason, payload)]


def _receive(event: Any, policy: Policy) -> tuple[SimpleNamespace, list[Step]]:
    data: ReceivedData = event.data
    decided = policy.classify(data)
    denied = sum((a.amount for a in data.adjustments if is_denial_adjustment(a.group, a.reason)), Decimal(0))
    denied = denied or max(data.billed_amount - data.paid_amount, Decimal(0))
    denial = SimpleNamespace(
        id=event.denial_id,
        state=State.RECEIVED.value,
        category=None,
        side=None,
        team=None,
        owner=None,
        preventable=None,
        liability=None,
        priority=priority_band(cents(denied)),
        touches=0,
        payer_id=data.payer_id,
        payer_name=data.payer_name,
        claim_control_number=data.claim_control_number,
        line=data.line,
        patient_control_number=data.patient_control_number,
        procedure_code=data.procedure_code,
        site=data.site,
        rendering_npi=data.rendering_npi,
        primary_group=None,
        primary_reason=None,
        carc_codes=",".join(f"{a.group}-{a.reason}" for a in data.adjustments),
        rarc_codes=",".join(data.remarks),
        billed_cents=cents(data.billed_amount),
        paid_cents=cents(data.paid_amount),
        denied_cents=cents(denied),
        date_of_service=data.date_of_service,
        remit_date=data.remit_date,
        received_at=event.occurred_at,
        next_action_date=None,
        last_touch_at=None,
        resolution=None,
        outcome={},
        root_cause=None,
        patient=data.patient.model_dump(mode="json") if data.patient else None,
        closed_at=None,
        version=0,
        audit_seq=0,
        audit_head=None,
    )
    steps = [Step(CREATE_TRIGGER, None, State.RECEIVED.value, None, data.model_dump(mode="json"))]
    for name in ("category", "side", "team", "preventable", "liability", "primary_group", "primary_reason"):
        setattr(denial, name, getattr(decided, name))
    steps.append(Step("classify", *fire(denial, "classify"), decided.note, decided.as_dict()))
    team, owner = policy.route(data.payer_id, decided.category, denial.id)
    denial.team = team
    if owner is not None:
        denial.owner = owner
        denial.next_action_date = event.occurred_at.date() + timedelta(days=policy.first_action_days)
        route = {"team": team, "owner": owner, "next_action_date": denial.next_action_date.isoformat()}
        steps.append(Step("assign", *fire(denial, "assign"), "routing table", route))
    return denial, steps


# Field changes per event type; each returns the audit entry's reason (or None).
def _assigned(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.owner = event.data.owner
    d.next_action_date = event.data.next_action_date or event.occurred_at.date() + timedelta(
        days=policy.first_action_days
    )
    return None


def _touched(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.touches += 1
    d.next_action_date = event.data.next_action_date
    d.last_touch_at = event.occurred_at
    return event.data.action


def _appealed(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.outcome["appeal"] = event.data.model_dump(mode="json")
    return f"appeal level {event.data.level}"


def _resubmitted(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.outcome["resubmission"] = event.data.model_dump(mode="json")
    return None


def _written_off(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.resolution = "written_off"
    d.outcome["write_off"] = {**event.data.model_dump(mode="json"), "approver": event.actor}
    return event.data.reason


def _payer_responded(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.outcome["payer_response"] = event.data.model_dump(mode="json")
    if event.data.outcome != "upheld":
        d.resolution = event.data.outcome
    return f"payer {event.data.outcome}"


def _escalated(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.outcome["escalation"] = {
        "rule": event.data.rule,
        "detail": event.data.detail,
        "at": event.occurred_at.isoformat(),
    }
    return event.data.rule


def _reassigned(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.owner = event.data.owner
    d.next_action_date = event.data.next_action_date or event.occurred_at.date() + timedelta(
        days=policy.first_action_days
    )
    return event.data.reason


def _closed(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    guards.check_close(event.data, d)
    d.root_cause = event.data.root_cause.model_dump(mode="json")
    d.outcome["evidence"] = event.data.evidence.model_dump(mode="json", exclude_none=True)
    d.closed_at = event.occurred_at
    return event.data.root_cause.category.value


def _reopened(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:
    d.resolution = None
    d.root_cause = None
    d.closed_at = None
    d.outcome = {"reopened_from": d.outcome}
    return event.data.reason


_HANDLERS = {
    "denial.assigned": ("assign", _assigned),
    "denial.touched": ("touch", _touched),
    "denial.appealed": ("appeal", _appealed),
    "denial.resubmitted": ("resubmit", _resubmitted),
    "denial.written_off": ("write_off", _written_off),
    "denial.payer_responded": ("resolve", _payer_responded),
    "denial.escalated": ("escalate", _escalated),
    "denial.reassigned": ("reassign", _reassigned),
    "denial.closed": ("close", _closed),
    "denial.reopened": ("reopen", _reopened),
}
