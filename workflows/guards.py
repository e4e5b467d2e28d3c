"""Guards: the business rules a transition must pass, each refusing with its rule's name."""

from decimal import Decimal
from typing import Any

from engine.errors import Rejected
from engine.intake.event_data import ClosedData, Role, RootCauseCategory
from workflows.denial import State

ROLES_BY_EVENT: dict[str, frozenset[Role]] = {
    "denial.received": frozenset({Role.SYSTEM}),
    "denial.assigned": frozenset({Role.SYSTEM, Role.LEAD}),
    "denial.payer_responded": frozenset({Role.SYSTEM, Role.STAFF, Role.LEAD}),
    "denial.escalated": frozenset({Role.SYSTEM, Role.LEAD}),
    "denial.written_off": frozenset({Role.LEAD}),
    "denial.reassigned": frozenset({Role.LEAD}),
    "denial.reopened": frozenset({Role.LEAD}),
    "denial.reversed": frozenset({Role.SYSTEM}),
    "denial.paid": frozenset({Role.SYSTEM}),
    "denial.timer_fired": frozenset({Role.SYSTEM}),
    "denial.deadline_extended": frozenset({Role.SYSTEM, Role.LEAD}),
    "denial.auth_rechecked": frozenset({Role.SYSTEM}),
    "authorization.recorded": frozenset({Role.SYSTEM, Role.STAFF, Role.LEAD, Role.ADMIN}),
    "authorization.updated": frozenset({Role.SYSTEM, Role.STAFF, Role.LEAD, Role.ADMIN}),
    "authorization.alert_fired": frozenset({Role.SYSTEM}),
    "claim.submitted": frozenset({Role.SYSTEM, Role.STAFF, Role.LEAD}),
    "claim.released": frozenset({Role.LEAD}),
}
#: Events that may still land on a closed denial: a lead's reopen, and the payer's own
#: file (money taken back, paid or denied again after closing must show on the record).
_AFTER_CLOSE = frozenset({"denial.reopened", "denial.reversed", "denial.received", "denial.paid"})
#: Events only the denial's named owner (as staff) or a lead may send.
OWNER_OR_LEAD = frozenset({"denial.touched", "denial.appealed", "denial.resubmitted", "denial.closed"})


def _short(event_type: str) -> str:
    return event_type.removeprefix("denial.")


def check_actor(event: Any, denial: Any | None) -> None:
    """Who may send this event: auditors never write; some events are lead-only."""
    if event.role == Role.AUDITOR:
        raise Rejected("guard.auditor_is_read_only", "auditors may read and replay, never change a denial", "role")
    if denial is not None and denial.state == State.CLOSED and event.type not in _AFTER_CLOSE:
        raise Rejected(
            "guard.closed_is_final",
            f"{event.type} refused: the denial is closed; only denial.reopened by a lead with a reason applies",
        )
    allowed = ROLES_BY_EVENT.get(event.type)
    if allowed is not None and event.role not in allowed:
        roles = " or ".join(sorted(allowed))
        raise Rejected(
            f"guard.{_short(event.type)}_requires_{'_or_'.join(sorted(allowed))}",
            f"{event.type} requires role {roles}; got {event.role.value}",
            "role",
        )
    if event.type in OWNER_OR_LEAD:
        if event.role == Role.LEAD:
            return
        if event.role != Role.STAFF or denial is None or event.actor != denial.owner:
            raise Rejected(
                f"guard.{_short(event.type)}_requires_owner_or_lead",
                f"{event.type} may be sent only by the assigned owner ({denial.owner if denial else None}) or a lead",
                "actor",
            )
    if (
        event.type == "denial.appealed"
        and denial is not None
        and denial.state == State.ESCALATED
        and event.role != Role.LEAD
    ):
        raise Rejected(
            "guard.escalated_appeal_requires_lead", "an escalated denial's appeal is filed by a lead", "role"
        )


_DEADLINE_OF = {"denial.appealed": "appeal", "denial.resubmitted": "filing"}
RETRO_AUTH_REQUEST = "retro_auth_request"


def check_deadline(event: Any, denial: Any) -> str | None:
    """Past the payer's deadline, the matching action is refused unless a lead overrides
    with a reason; returns the override's note for the audit entry."""
    name = _DEADLINE_OF.get(event.type)
    if event.type == "denial.touched" and event.data.action == RETRO_AUTH_REQUEST:
        name = "retro_auth"
    deadline = getattr(denial, f"{name}_deadline", None) if name else None
    if deadline is None or event.occurred_at.date() <= deadline:
        return None
    if event.role == Role.LEAD and event.data.override_reason:
        return f"past the {name} deadline {deadline}, lead override: {event.data.override_reason}"
    raise Rejected(
        f"guard.past_{name}_deadline",
        f"{event.type} refused: the payer's {name} deadline was {deadline}; a lead may override with override_reason",
        "data.override_reason",
    )


def check_close(data: ClosedData, denial: Any) -> None:
    """Close needs a root cause from the taxonomy and evidence matching the outcome."""
    cause = data.root_cause
    if cause.category == RootCauseCategory.PAYER_ERROR and cause.preventable:
        raise Rejected(
            "guard.close_payer_error_not_preventable",
            "a payer error is never preventable",
            "data.root_cause.preventable",
        )
    if cause.preventable and not cause.prevention_owner:
        raise Rejected(
            "guard.close_preventable_needs_prevention_owner",
            "a preventable root cause names the prevention owner",
            "data.root_cause.prevention_owner",
        )
    check_evidence_amount(data, denial)
    ev = data.evidence
    outcome = denial.outcome or {}
    if denial.resolution == "paid":
        _need(ev.payment_trace or ev.icn, "payment_trace", "a paid denial closes with the payment trace or ICN")
        _need(ev.paid_amount, "paid_amount", "a paid denial closes with the amount paid")
    elif denial.resolution == "overturned":
        _need(ev.appeal_reference, "appeal_reference", "an overturned appeal closes with the appeal reference")
        _need(ev.decision, "decision", "an overturned appeal closes with the payer's decision")
        filed = (outcome.get("appeal") or {}).get("appeal_reference")
        if filed and ev.appeal_reference != filed:
            raise Rejected(
                "guard.close_evidence_mismatch",
                f"appeal reference {ev.appeal_reference!r} does not match the appeal filed ({filed!r})",
                "data.evidence.appeal_reference",
            )
    elif denial.resolution == "written_off":
        _need(ev.approver, "approver", "a write-off closes with the approving lead")
        _need(ev.reason, "reason", "a write-off closes with its reason")
        approver = (outcome.get("write_off") or {}).get("approver")
        if ev.approver != approver:
            raise Rejected(
                "guard.close_evidence_mismatch",
                f"approver {ev.approver!r} is not the lead who approved the write-off ({approver!r})",
                "data.evidence.approver",
            )


def opencents(denial: Any) -> int:
    """What is still open on the denial: the denied amount less what later remittances paid
    on it (a partial payment leaves the rest open)."""
    paid = sum(
        cents(Decimal(r["paid_amount"]))
        for r in (denial.outcome or {}).get("remittances", ())
        if r.get("outcome") == "partial"
    )
    return max(denial.denied_cents - paid, 0)


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


#: Each money field a person may send, and the ceiling it may not pass.
_MONEY_FIELDS = {
    "denial.written_off": ("amount", "written off"),
    "denial.payer_responded": ("paid_amount", "recorded as paid"),
}


def check_amounts(event: Any, denial: Any) -> None:
    """No amount beyond what is open on the denial, whatever the role: a write-off or a
    recorded payment larger than the open amount is refused, and so is a $0 write-off
    without the reason code that explains it."""
    spec = _MONEY_FIELDS.get(event.type)
    if spec is None:
        return
    name, verb = spec
    amount = getattr(event.data, name)
    if amount is None:
        return
    ceiling = opencents(denial)
    if cents(amount) > ceiling:
        raise Rejected(
            "guard.amount_exceeds_open",
            f"{_dollars(cents(amount))} cannot be {verb}: only {_dollars(ceiling)} is open on the denial",
            f"data.{name}",
        )
    if event.type == "denial.written_off" and amount == 0 and not event.data.reason_code:
        raise Rejected(
            "guard.zero_write_off_needs_reason_code",
            "a $0 write-off names the adjustment reason code (data.reason_code) that explains it",
            "data.reason_code",
        )


def check_evidence_amount(data: ClosedData, denial: Any) -> None:
    """Closure evidence cannot claim more was paid than was denied."""
    paid = data.evidence.paid_amount
    if paid is not None and cents(paid) > denial.denied_cents:
        raise Rejected(
            "guard.amount_exceeds_open",
            f"evidence of {_dollars(cents(paid))} paid exceeds the {_dollars(denial.denied_cents)} denied",
            "data.evidence.paid_amount",
        )


def _need(value: object, field: str, message: str) -> None:
    if value is None:
        raise Rejected("guard.close_requires_evidence", message, f"data.evidence.{field}")
