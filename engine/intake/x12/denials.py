"""Decide what in a remittance is a denial or a payer's answer, and write it as events.

DOMAIN.md's rules, applied per claim with the claim around each code
(`workflows.classification`): a service line with a denial adjustment is one denial;
claim-level denial adjustments make one claim-level denial (line 0); a claim the
payer denied outright (status 4) with no such adjustment and nothing left to the
patient is one claim-level denial. A line (or claim) paid without a denial becomes a
`denial.paid` event: the payer's answer to a denial of the same claim line, if there
is one. A predetermination (status 25) yields nothing; a reversal (status 22) one
`denial.reversed` event, and the adjudication that follows it for the same claim is
linked to it.

Identity is the practice's claim line (`engine.intake.events.claim_line_key`): two claims of
one file that resolve to the same claim line are both kept, the later one
disambiguated by its position, and the collision is counted and flagged. Event ids
derive from the remittance's content, so the same file twice yields the same events.
"""

import hashlib
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID, uuid5

import orjson

from engine.intake.claim_identity import CLAIM_LEVEL, claim_line_key, denial_id_for
from engine.intake.x12.claims import Adjustment, Claim, Remittance, ServiceLine
from engine.intake.x12.tokens import X12Error
from workflows.classification import NEVER_DENIED, ClaimContext, denial_adjustments

DENIED = "4"
REVERSAL = "22"
PREDETERMINATION = "25"
ACTOR = "clearinghouse"
_LOW_64 = (1 << 64) - 1
_LOW_32 = (1 << 32) - 1
_EVENT_NAMESPACE = UUID("0b6e51a1-77a4-4f0e-8d52-6f1f3c9a2e71")


@dataclass(slots=True)
class Tally:
    """What a file held, for the ingest summary."""

    claims: int = 0
    paid_lines: int = 0
    denials: int = 0
    answers: int = 0
    reversals: int = 0
    predeterminations: int = 0
    skipped_adjustments: int = 0
    denied_without_reasons: int = 0
    collisions: int = 0
    repeats: int = 0

    def add(self, other: "Tally") -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


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


def _claim_date(claim: Claim) -> date | None:
    dates = [d for d in (line.service_date for line in claim.lines) if d is not None]
    return claim.statement_date or (min(dates) if dates else None)


def _line_keys(claim: Claim) -> list[str]:
    """Each service line's identity within the claim, exact repeats numbered in order; a line
    item control number the claim repeats (masked or reused) cannot tell its lines apart, so
    those lines are numbered too."""
    seen: Counter[tuple[str | None, ...]] = Counter()
    controls = Counter(line.line_control for line in claim.lines if line.line_control)
    keys = []
    for line in claim.lines:
        day = line.service_date or claim.statement_date
        day_text = day.isoformat() if day else None
        procedure = line.billed_procedure or line.procedure
        control = line.line_control if controls[line.line_control] == 1 else None
        repeat = (control, procedure, *line.modifiers, day_text or "") if control is None else (control,)
        seen[repeat] += 1
        keys.append(claim_line_key(line.number, control, procedure, line.modifiers, day_text, seen[repeat]))
    return keys


def _left_to_patient(adjustments: list[Adjustment]) -> bool:
    return any(a.group == "PR" and a.amount > 0 for a in adjustments)


def _denied_without_reason(claim: Claim, line: ServiceLine) -> int:
    """A line of a denied claim (status 4) that got nothing, owed by nobody, whose adjustments
    say nothing in denial terms: still denied, for a person to read (counts all its adjustments)."""
    if claim.status != DENIED or line.paid != 0 or _left_to_patient(line.adjustments):
        return 0
    return len(line.adjustments) if sum(a.amount for a in line.adjustments) > 0 else 0


def _digest(raw: bytes) -> int:
    """64 bits: small enough to keep one per claim line of a large file, wide enough not to clash."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest())


def _identity(data: dict[str, Any]) -> int:
    return _digest(f"{data['payer_id']}|{data['patient_control_number']}|{data['line_key']}".encode())


class RemittanceEvents:
    """Turns one file's claims into events, keeping its claim lines apart.

    One instance per file: it remembers which claim each claim line came from (to
    report two claims resolving to one claim line) and which claims the payer just
    reversed (to link the corrected adjudication that follows)."""

    def __init__(self, now: datetime, capitated_payers: Collection[str] = ()) -> None:
        self.now = now
        self.capitated = frozenset(capitated_payers)
        # a claim line's identity -> the claim that first produced it: position << 96 | patient << 64 | content
        self._first: dict[int, int] = {}
        self._apart: dict[int, dict[str, str]] = {}  # content kept apart -> the identity it was given
        self._reversed: dict[tuple[str, str], str] = {}  # (payer, CLP01) -> reversed claim control number

    def __call__(self, remit: Remittance, claim: Claim) -> tuple[list[dict[str, Any]], Tally]:
        """The events one claim produces, and what it counted."""
        tally = Tally(claims=1, paid_lines=sum(1 for line in claim.lines if line.paid > 0))
        payer_id, _ = _payer(remit, claim)
        if claim.status == REVERSAL:
            tally.reversals = 1
            self._reversed[(payer_id, claim.patient_control_number)] = _ccn(claim)
            return [self._reversal(remit, claim, payer_id)], tally
        if claim.status == PREDETERMINATION:
            tally.predeterminations = 1
            tally.skipped_adjustments = len(claim.adjustments) + sum(len(line.adjustments) for line in claim.lines)
            return [], tally
        after_reversal = self._reversed.pop((payer_id, claim.patient_control_number), None)
        capitated = payer_id in self.capitated
        events: list[dict[str, Any]] = []
        line_remarks = [r for line in claim.lines for r in line.remarks]
        for line, key in zip(claim.lines, _line_keys(claim), strict=True):
            ctx = ClaimContext(claim.status, line.paid, capitated)
            denying = len(denial_adjustments(line.adjustments, ctx)) or _denied_without_reason(claim, line)
            tally.skipped_adjustments += len(line.adjustments) - denying
            if denying:
                events.append(self._line_event(remit, claim, line, key, line.adjustments, line.remarks,
                                               claim.remarks, "denial.received"))  # fmt: skip
            elif line.paid > 0:
                events.append(self._line_event(remit, claim, line, key, line.adjustments, line.remarks, claim.remarks,
                                               "denial.paid"))  # fmt: skip
        claim_ctx = ClaimContext(claim.status, claim.paid, capitated)
        claim_level = len(denial_adjustments(claim.adjustments, claim_ctx))
        tally.skipped_adjustments += len(claim.adjustments) - claim_level
        received = sum(1 for e in events if e["type"] == "denial.received")
        if claim_level:
            events.insert(0, self._line_event(remit, claim, None, CLAIM_LEVEL, claim.adjustments, claim.remarks,
                                              line_remarks, "denial.received"))  # fmt: skip
        elif claim.status == DENIED and not received and claim.paid == 0:
            # denied outright, but no adjustment says why in denial terms: the claim is the
            # denial, carrying whatever was sent (classification sends it to a reviewer),
            # unless what was sent leaves the amount to the patient (a deductible, not a denial)
            sent = claim.adjustments or [a for line in claim.lines for a in line.adjustments]
            if not sent:
                tally.denied_without_reasons = 1
            elif not _left_to_patient(sent):
                events.insert(0, self._line_event(remit, claim, None, CLAIM_LEVEL, sent, claim.remarks,
                                                  line_remarks, "denial.received"))  # fmt: skip
                tally.skipped_adjustments -= len(sent)
        elif claim.paid > 0 and claim.status not in NEVER_DENIED:
            events.insert(0, self._line_event(remit, claim, None, CLAIM_LEVEL, claim.adjustments, claim.remarks,
                                              line_remarks, "denial.paid"))  # fmt: skip
        for event in events:
            if after_reversal:
                event["data"]["after_reversal"] = after_reversal
            collided, repeated = self._keep_apart(event, claim)
            tally.collisions += collided
            tally.repeats += repeated
        tally.denials = sum(1 for e in events if e["type"] == "denial.received")
        tally.answers = len(events) - tally.denials
        return events, tally

    def _keep_apart(self, event: dict[str, Any], claim: Claim) -> tuple[int, int]:
        """Two claims of this file resolving to one claim line: the same adjudication sent again
        (every field alike) is a repeat and gets the same identity and event id (it
        deduplicates downstream); a different one is kept apart, flagged, under its patient
        (a digest of the member id, which a later remittance for it repeats) or, for the same
        patient, its position. Returns (collisions, repeats)."""
        data = event["data"]
        content = _digest(orjson.dumps([event["type"], data], option=orjson.OPT_SORT_KEYS))
        if (moved := self._apart.get(content)) is not None:
            data.update(moved)
            event["event_id"] = self._event_id(event["type"], data)
            return 0, 1
        patient = _digest(f"{claim.member_id}|{claim.patient_name}".encode()) >> 32
        first = self._first.setdefault(_identity(data), claim.position << 96 | patient << 64 | content)
        position, first_patient = first >> 96, first >> 64 & _LOW_32
        if position == claim.position:
            return 0, 0
        if first & _LOW_64 == content:
            return 0, 1
        base, known = data["line_key"], claim.member_id or claim.patient_name
        data["line_key"] = f"{base}@p{patient:08x}"
        taken = self._first.get(_identity(data))
        if not known or patient == first_patient or (taken is not None and taken & _LOW_64 != content):
            data["line_key"] = f"{base}@{claim.position}"
        data["collides_with"] = f"claim at segment {position}"
        event["event_id"] = self._event_id(event["type"], data)
        self._apart[content] = {"line_key": data["line_key"], "collides_with": data["collides_with"]}
        self._first[_identity(data)] = claim.position << 96 | patient << 64 | content
        return 1, 0

    def _event_id(self, kind: str, data: dict[str, Any]) -> str:
        """Deterministic: one payer's payment (trace, date), adjudication and claim line name the event."""
        key = "|".join(str(data.get(k)) for k in ("payer_id", "payment_trace", "remit_date", "claim_control_number",
                                                  "patient_control_number", "line_key"))  # fmt: skip
        return f"835-{uuid5(_EVENT_NAMESPACE, f'{key}|{kind}').hex}"

    def _line_event(
        self, remit: Remittance, claim: Claim, line: ServiceLine | None, key: str, adjustments: list[Adjustment],
        remarks: list[str], related_remarks: list[str], kind: str,
    ) -> dict[str, Any]:  # fmt: skip
        payer_id, payer_name = _payer(remit, claim)
        service_date = (line.service_date if line else None) or _claim_date(claim) or remit.payment_date
        remit_date = remit.payment_date or self.now.date()
        patient = {"name": claim.patient_name, "member_id": claim.member_id}
        data: dict[str, Any] = {
            "payer_id": payer_id,
            "payer_name": payer_name,
            "claim_control_number": _ccn(claim),
            "line": line.number if line else 0,
            "line_key": key,
            "line_control": line.line_control if line else None,
            "patient_control_number": claim.patient_control_number,
            "claim_status": claim.status,
            "procedure_code": line.procedure if line else None,
            "modifiers": list(line.modifiers) if line else [],
            "units": str(line.units) if line and line.units is not None else None,
            "billed_amount": str(line.charge if line else claim.charge),
            "paid_amount": str(line.paid if line else claim.paid),
            "adjustments": _adjustment_docs(adjustments),
            "remarks": list(dict.fromkeys(remarks)),
            "related_remarks": [r for r in dict.fromkeys(related_remarks) if r not in remarks],
            "date_of_service": (service_date or remit_date).isoformat(),
            "remit_date": remit_date.isoformat(),
            "rendering_npi": claim.rendering_npi if claim.rendering_npi and len(claim.rendering_npi) == 10 else None,
            "site": remit.payee_name,
            "payee_id": remit.payee_id,
            "payment_trace": remit.trace,
            "patient": {k: v for k, v in patient.items() if v} or None,
        }
        data = {k: v for k, v in data.items() if v is not None}
        return {
            "event_id": self._event_id(kind, data),
            "type": kind,
            "occurred_at": _occurred(remit, self.now).isoformat(),
            "actor": ACTOR,
            "role": "system",
            "data": data,
        }

    def _reversal(self, remit: Remittance, claim: Claim, payer_id: str) -> dict[str, Any]:
        pcn = claim.patient_control_number
        data = {
            "payer_id": payer_id,
            "claim_control_number": _ccn(claim),
            "patient_control_number": pcn,
            "lines": [0, *(line.number for line in claim.lines)],
            "line_keys": [CLAIM_LEVEL, *_line_keys(claim)],
            "reversed_amount": str(claim.paid),
            "payment_trace": remit.trace,
            "remit_date": (remit.payment_date or self.now.date()).isoformat(),
        }
        return {
            "event_id": self._event_id("denial.reversed", {**data, "line_key": CLAIM_LEVEL}),
            "type": "denial.reversed",
            "denial_id": denial_id_for(payer_id, pcn, CLAIM_LEVEL),
            "occurred_at": _occurred(remit, self.now).isoformat(),
            "actor": ACTOR,
            "role": "system",
            "data": data,
        }
