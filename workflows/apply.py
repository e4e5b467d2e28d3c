"""Apply one validated event to one denial: guards, machine moves, field changes.

Pure: no I/O, no clock. The caller passes the denial (or None for a receipt) and a
`Policy` that makes the automatic decisions; it gets back the steps taken, each of
which becomes one audit entry and one change-feed message. A `Rejected` leaves the
denial untouched because every guard runs before the first change.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Protocol

from engine.errors import Rejected
from engine.intake.event_data import ReceivedData
from workflows import guards
from workflows.authorization import AuthRecord, ClaimLine
from workflows.classification import Classification
from workflows.denial import CREATE_TRIGGER, State, fire
from workflows.escalation import FLAGGING, EscalationRules
from workflows.guards import cents
from workflows.payers import DeadlineSet


@dataclass(frozen=True, slots=True)
class Step:
    trigger: str
    from_state: str | None
    to_state: str
    reason: str | None
    payload: dict[str, Any]


@dataclass
class Context:
    """What the batch knows beyond one denial: the authorization records of the patients
    it receives (by payer and member id) and the open work of each named owner."""

    authorizations: dict[tuple[str, str], list[AuthRecord]] = field(default_factory=dict)
    open_work: dict[str, int] = field(default_factory=dict)


class Policy(Protocol):
    """The automatic decisions on receipt; live rules or, in replay, the recorded ones."""

    first_action_days: int
    escalation: EscalationRules

    def classify(self, data: ReceivedData) -> Classification: ...

    def check_authorization(self, line: ClaimLine, records: Sequence[AuthRecord]) -> dict[str, Any]: ...

    def deadlines(self, data: ReceivedData, category: str, received: date) -> DeadlineSet: ...

    def priority(self, denied_cents: int, deadlines: Mapping[str, date], received: date) -> str: ...

    def touch_escalates(self, touches: int) -> bool: ...

    def route(
        self, payer_id: str, category: str, denial_id: str, open_work: Mapping[str, int]
    ) -> tuple[str, str | None]: ...


TIERS = ("batch", "standard", "middle", "high", "urgent")


def priority_band(denied_cents: int, days_to_deadline: int | None = None, urgent_within_days: int = 30) -> str:
    """DOMAIN.md's value tiers (the high-value middle layer is $250-$1,500, sub-$100 is the
    weekly batch), raised one tier when a payer deadline still ahead is near at receipt (one
    already past raises nothing: it is a lead's write-off or proof-of-timely-filing call)."""
    if denied_cents >= 150_000:
        tier = 3
    elif denied_cents >= 25_000:
        tier = 2
    elif denied_cents >= 10_000:
        tier = 1
    else:
        tier = 0
    if days_to_deadline is not None and 0 <= days_to_deadline <= urgent_within_days:
        tier += 1
    return TIERS[min(tier, len(TIERS) - 1)]


def apply_event(
    event: Any, denial: SimpleNamespace | None, policy: Policy, context: Context | None = None
) -> tuple[SimpleNamespace, list[Step]]:
    """Return the denial after the event and the steps taken, or raise `Rejected`."""
    if event.type == "denial.received" and denial is None:
        guards.check_actor(event, None)
        return _receive(event, policy, context or Context())
    if denial is None:
        raise Rejected("workflow.unknown_denial", f"no denial {event.denial_id}", "denial_id")
    guards.check_actor(event, denial)
    if event.type in ("denial.received", "denial.paid"):
        return _remit_answer(event, denial)
    if event.type == "denial.reversed":
        return _reversed(event, denial)
    if event.type == "denial.timer_fired":
        return _timer_fired(event, denial)
    if event.type == "denial.deadline_extended":
        return _deadline_extended(event, denial)
    if event.type == "denial.auth_rechecked":
        return _auth_rechecked(event, denial)
    override = guards.check_deadline(event, denial)
    guards.check_amounts(event, denial)
    trigger, update = _HANDLERS[event.type]
    if event.type == "denial.payer_responded":
        trigger = "uphold" if event.data.outcome == "upheld" else "resolve"
    work = SimpleNamespace(**vars(denial))
    work.outcome = dict(denial.outcome or {})
    source, dest = fire(work, trigger)
    reason = update(event, work, policy)
    if override:
        reason = f"{reason}; {override}" if reason else override
    steps = [Step(trigger, source, dest, reason, event.data.model_dump(mode="json"))]
    if event.type == "denial.touched" and policy.touch_escalates(work.touches):
        detail = {"touches": work.touches}
        steps.append(_escalate(work, "touch_limit", {"rule": "touch_limit", "detail": detail}, event.occurred_at))
    return work, steps


def _escalate(work: SimpleNamespace, rule: str, payload: dict[str, Any], at: datetime) -> Step:
    """Into the escalation queue, naming the rule and the figures behind it."""
    source, dest = fire(work, "escalate")
    work.outcome["escalation"] = {"rule": rule, "detail": payload.get("detail", {}), "at": at.isoformat()}
    return Step("escalate", source, dest, rule, payload)


def _timer_fired(event: Any, denial: SimpleNamespace) -> tuple[SimpleNamespace, list[Step]]:
    work = SimpleNamespace(**vars(denial))
    work.outcome = dict(denial.outcome or {})
    payload = event.data.model_dump(mode="json")
    rule = event.data.rule
    if rule in FLAGGING:
        work.outcome["flags"] = {**work.outcome.get("flags", {}), rule: event.occurred_at.isoformat()}
        return work, [Step("flag", denial.state, denial.state, rule, payload)]
    return work, [_escalate(work, rule, payload, event.occurred_at)]


def _deadline_extended(event: Any, denial: SimpleNamespace) -> tuple[SimpleNamespace, list[Step]]:
    """A payer extension moves the deadline; the processor reschedules its timer."""
    work = SimpleNamespace(**vars(denial))
    name = f"{event.data.deadline}_deadline"
    old = getattr(denial, name)
    setattr(work, name, event.data.until)
    reason = f"{event.data.deadline} deadline {old} -> {event.data.until}: {event.data.reason}"
    return work, [Step("extend_deadline", denial.state, denial.state, reason, event.data.model_dump(mode="json"))]


def _auth_rechecked(event: Any, denial: SimpleNamespace) -> tuple[SimpleNamespace, list[Step]]:
    """An authorization recorded after the denial: the checklist's new answer replaces the old
    (DOMAIN.md: the sub-cause decides the next action), the state stays."""
    if denial.category != "authorization":
        raise Rejected("guard.not_an_authorization_denial", f"denial {denial.id} is {denial.category}", "denial_id")
    work = SimpleNamespace(**vars(denial))
    check = event.data.check
    old = (denial.auth_check or {}).get("sub_cause")
    work.auth_check = check
    reason = f"authorization {event.data.reference} on file now: {old} -> {check.get('sub_cause')}"
    return work, [Step("recheck_auth", denial.state, denial.state, reason, event.data.model_dump(mode="json"))]


def _reversed(event: Any, denial: SimpleNamespace) -> tuple[SimpleNamespace, list[Step]]:
    """A payment reversal changes no state; it is flagged on the denial and logged."""
    work = SimpleNamespace(**vars(denial))
    reversal = event.data.model_dump(mode="json")
    work.outcome = {**(denial.outcome or {}), "reversal": reversal}
    reason = f"payer reversed {event.data.reversed_amount} on claim {event.data.claim_control_number}"
    return work, [Step("note_reversal", denial.state, denial.state, reason, reversal)]


#: Where a later remittance finds the denial already settled: it is recorded, nothing moves.
SETTLED = frozenset({State.RESOLVED, State.WRITTEN_OFF, State.CLOSED})
#: Waiting for the payer's answer to an appeal or a corrected claim.
AWAITING_PAYER = frozenset({State.APPEALED, State.RESUBMITTED})


def _remit_answer(event: Any, denial: SimpleNamespace) -> tuple[SimpleNamespace, list[Step]]:
    """A later remittance for the denial's claim line is the payer's answer (DOMAIN.md): paid
    resolves it with the payment as closure evidence; denied again is upheld (back to
    `worked` from an appeal or resubmission, owner and touches kept); a payment with a
    denial left is partial (recorded, the remainder stays open). On a settled denial the
    answer is recorded and the state stays."""
    data = event.data
    work = SimpleNamespace(**vars(denial))
    work.outcome = dict(denial.outcome or {})
    paid = data.paid_amount
    answer = {
        "outcome": "paid" if event.type == "denial.paid" else ("partial" if paid > 0 else "denied_again"),
        "paid_amount": str(paid), "payment_trace": data.payment_trace, "icn": data.claim_control_number,
        "remit_date": data.remit_date.isoformat(),
        "reasons": [f"{a.group}-{a.reason}" for a in data.adjustments], "remarks": list(data.remarks),
        "file_digest": data.source_file.digest if data.source_file else None, "after_reversal": data.after_reversal,
    }  # fmt: skip
    work.outcome["remittances"] = [*work.outcome.get("remittances", []), answer]
    payload = data.model_dump(mode="json")
    where = f"remittance {data.payment_trace or '-'} of {data.remit_date} (ICN {data.claim_control_number})"
    if denial.state in SETTLED:
        return work, [Step("note_remit", denial.state, denial.state, f"{answer['outcome']} on {where}", payload)]
    if answer["outcome"] == "paid":
        source, dest = fire(work, "settle")
        work.resolution = "paid"
        work.outcome["payer_response"] = {"outcome": "paid", **{k: answer[k] for k in ("paid_amount", "payment_trace",
                                          "icn", "remit_date", "file_digest")}}  # fmt: skip
        return work, [Step("settle", source, dest, f"paid {paid} on {where}", payload)]
    reason = f"denied again on {where}" if paid == 0 else f"partial payment {paid} on {where}; the rest stays open"
    if denial.state in AWAITING_PAYER:
        source, dest = fire(work, "uphold")
        return work, [Step("uphold", source, dest, reason, payload)]
    return work, [Step("note_remit", denial.state, denial.state, reason, payload)]


def _auth_check(data: ReceivedData, policy: Policy, context: Context) -> dict[str, Any]:
    member = data.patient.member_id if data.patient else None
    records = context.authorizations.get((data.payer_id, member), ()) if member else ()
    line = ClaimLine(data.procedure_code, data.rendering_npi, data.site, data.date_of_service, data.units)
    return policy.check_authorization(line, records)


def _receive(event: Any, policy: Policy, context: Context) -> tuple[SimpleNamespace, list[Step]]:
    data: ReceivedData = event.data
    decided = policy.classify(data)
    denied = sum((Decimal(r["amount"]) for r in decided.reasons), Decimal(0))
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
        priority=None,
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
        first_touch_at=None,
        resolution=None,
        outcome={},
        root_cause=None,
        patient=data.patient.model_dump(mode="json") if data.patient else None,
        auth_check=None,
        filing_deadline=None,
        appeal_deadline=None,
        retro_auth_deadline=None,
        closed_at=None,
        version=0,
        audit_seq=0,
        audit_head=None,
        timer_rule=None,  # no timer yet: the processor arms the first (engine/runtime/denial_timer.py)
        timer_due_at=None,
        timer_generation=0,
        timer_detail=None,
        timer_fired_at=None,
        timers_fired={},
    )
    steps = [Step(CREATE_TRIGGER, None, State.RECEIVED.value, None, data.model_dump(mode="json"))]
    for name in ("category", "side", "team", "preventable", "liability", "primary_group", "primary_reason"):
        setattr(denial, name, getattr(decided, name))
    classified = decided.as_dict()
    dated = policy.deadlines(data, decided.category, event.occurred_at.date())
    classified.update(dated.recorded)  # each deadline's kind, basis and basis date; the payer profile
    for name, day in dated.dates.items():
        setattr(denial, f"{name}_deadline", day)
    denial.payer_profile_known = dated.profile_known
    denial.priority = classified["priority"] = policy.priority(denial.denied_cents, dated.dates,
                                                               event.occurred_at.date())  # fmt: skip
    if decided.category == "authorization":
        denial.auth_check = classified["auth_check"] = _auth_check(data, policy, context)
    steps.append(Step("classify", *fire(denial, "classify"), decided.note, classified))
    team, owner = policy.route(data.payer_id, decided.category, denial.id, context.open_work)
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
    d.first_touch_at = d.first_touch_at or event.occurred_at
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


def _escalated(event: Any, d: SimpleNamespace, policy: Policy) -> str | None:  # a lead's manual escalation
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
