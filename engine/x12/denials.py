"""Decide what in a remittance is a denial, and write it as `denial.received` events.

DOMAIN.md's rules, applied per claim: a service line with a denial adjustment is one
denial; claim-level denial adjustments make one claim-level denial (line 0); a
claim the payer denied outright (status 4) with no such adjustment is one claim-level
denial. Patient cost share (PR-1/2/3), CO-45 on a paid line and the other codes the
mapping marks ``not_a_denial`` are skipped, never counted. A reversal (status 22)
never creates a denial: it becomes one `denial.reversed` event for the claim.
Ids are derived from the remittance's content, so the same file twice yields the
same events.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from engine.events import denial_id_for
from engine.x12.remit import Adjustment, Claim, Remittance, ServiceLine
from engine.x12.tokens import X12Error
from workflows.classification import is_denial_adjustment

DENIED = "4"
REVERSAL = "22"
ACTOR = "clearinghouse"
_EVENT_NAMESPACE = UUID("0b6e51a1-77a4-4f0e-8d52-6f1f3c9a2e71")


@dataclass(slots=True)
class Tally:
    """What a file held, for the ingest summary."""

    claims: int = 0
    paid_lines: int = 0
    denials: int = 0
    reversals: int = 0
    skipped_adjustments: int = 0
    denied_without_reasons: int = 0

    def add(self, other: "Tally") -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def event_id(remit: Remittance, claim: Claim, kind: str, line: int) -> str:
    """Deterministic: one payer's trace number, claim and line name the event."""
    key = f"{remit.payer_id}|{remit.trace}|{claim.claim_control_number}|{claim.patient_control_number}|{kind}|{line}"
    return f"835-{uuid5(_EVENT_NAMESPACE, key).hex}"


def _payer(remit: Remittance, claim: Claim) -> tuple[str, str]:
    if not remit.payer_name and not remit.payer_id:
        raise X12Error(claim.position, "the remittance names no payer (N1*PR)")
    return remit.payer_id or remit.payer_name or "", remit.payer_name or remit.payer_id or ""


def _ccn(claim: Claim) -> str:
    return claim.claim_control_number or f"PCN:{claim.patient_control_number}"


def _occurred(remit: Remittance, fallback: datetime) -> datetime:
    return datetime.combine(remit.payment_date, time(), UTC) if remit.payment_date else fallback


def _adjustment_docs(adjustments: list[Adjustment]) -> list[dict[str, Any]]:
    return [
        {"group": a.group, "reason": a.reason, "amount": str(a.amount)}
        | ({"quantity": str(a.quantity)} if a.quantity is not None else {})
        for a in adjustments
    ]


def _denial_adjustments(adjustments: list[Adjustment], paid: Decimal) -> int:
    return sum(1 for a in adjustments if is_denial_adjustment(a.reason, a.amount, paid))


def _claim_date(claim: Claim) -> date | None:
    dates = [d for d in (line.service_date for line in claim.lines) if d is not None]
    return claim.statement_date or (min(dates) if dates else None)


def _received(
    remit: Remittance, claim: Claim, line: ServiceLine | None, adjustments: list[Adjustment], now: datetime
) -> dict[str, Any]:
    payer_id, payer_name = _payer(remit, claim)
    number = line.number if line else 0
    service_date = (line.service_date if line else None) or _claim_date(claim) or remit.payment_date
    remit_date = remit.payment_date or now.date()
    remarks = line.remarks if line else claim.remarks
    patient = {"name": claim.patient_name, "member_id": claim.member_id}
    data: dict[str, Any] = {
        "payer_id": payer_id,
        "payer_name": payer_name,
        "claim_control_number": _ccn(claim),
        "line": number,
        "patient_control_number": claim.patient_control_number,
        "claim_status": claim.status,
        "procedure_code": line.procedure if line else None,
        "modifiers": list(line.modifiers) if line else [],
        "units": str(line.units) if line and line.units is not None else None,
        "billed_amount": str(line.charge if line else claim.charge),
        "paid_amount": str(line.paid if line else claim.paid),
        "adjustments": _adjustment_docs(adjustments),
        "remarks": list(dict.fromkeys(remarks)),
        "date_of_service": (service_date or remit_date).isoformat(),
        "remit_date": remit_date.isoformat(),
        "rendering_npi": claim.rendering_npi if claim.rendering_npi and len(claim.rendering_npi) == 10 else None,
        "site": remit.payee_name,
        "payee_id": remit.payee_id,
        "payment_trace": remit.trace,
        "patient": {k: v for k, v in patient.items() if v} or None,
    }
    return {
        "event_id": event_id(remit, claim, "received", number),
        "type": "denial.received",
        "occurred_at": _occurred(remit, now).isoformat(),
        "actor": ACTOR,
        "role": "system",
        "data": {k: v for k, v in data.items() if v is not None},
    }


def _reversed(remit: Remittance, claim: Claim, now: datetime) -> dict[str, Any]:
    payer_id, _ = _payer(remit, claim)
    ccn = _ccn(claim)
    return {
        "event_id": event_id(remit, claim, "reversed", 0),
        "type": "denial.reversed",
        "denial_id": denial_id_for(payer_id, ccn, 0),
        "occurred_at": _occurred(remit, now).isoformat(),
        "actor": ACTOR,
        "role": "system",
        "data": {
            "payer_id": payer_id,
            "claim_control_number": ccn,
            "lines": [0, *(line.number for line in claim.lines)],
            "reversed_amount": str(claim.paid),
            "payment_trace": remit.trace,
            "remit_date": (remit.payment_date or now.date()).isoformat(),
        },
    }


def claim_events(remit: Remittance, claim: Claim, now: datetime) -> tuple[list[dict[str, Any]], Tally]:
    """The events one claim produces, and what it counted."""
    tally = Tally(claims=1)
    tally.paid_lines = sum(1 for line in claim.lines if line.paid > 0)
    if claim.status == REVERSAL:
        tally.reversals = 1
        return [_reversed(remit, claim, now)], tally
    events = []
    claim_level = _denial_adjustments(claim.adjustments, claim.paid)
    tally.skipped_adjustments += len(claim.adjustments) - claim_level
    for line in claim.lines:
        denying = _denial_adjustments(line.adjustments, line.paid)
        tally.skipped_adjustments += len(line.adjustments) - denying
        if denying:
            events.append(_received(remit, claim, line, line.adjustments, now))
    if claim_level:
        events.insert(0, _received(remit, claim, None, claim.adjustments, now))
    elif claim.status == DENIED and not events:
        # denied outright, but no adjustment says why in denial terms: the claim is the
        # denial, carrying whatever adjustments were sent (classification sends it to review)
        sent = claim.adjustments or [a for line in claim.lines for a in line.adjustments]
        if sent:
            events.append(_received(remit, claim, None, sent, now))
            tally.skipped_adjustments -= len(sent)
        else:
            tally.denied_without_reasons = 1
    tally.denials = len(events)
    return events, tally
