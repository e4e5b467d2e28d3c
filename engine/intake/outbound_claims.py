"""Outgoing claims from X12 837 files into `claim.submitted` events.

One event per claim (CLM), its id naming the file's SHA-256 and the claim's segment
position, dated when the file says the claim was made (BHT04/BHT05): the same file read
twice is the same events, which the engine skips, the same claim in a
later file is checked again (its units are not counted twice: the claim's identity is the
payer and CLM01, see `engine.intake.claim_identity.claim_id_for`). A file the reader
refuses publishes nothing and the error names the segment and the problem.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from engine.clock import Clock
from engine.errors import Rejected
from engine.intake.claim_identity import claim_id_for
from engine.intake.events import parse
from engine.intake.x12.submitted import ReadReport837, SubmittedClaim, read_837
from engine.intake.x12.tokens import X12Error

ACTOR = "claims-837"


@dataclass(slots=True)
class ClaimFile:
    """What one 837 file gave: its digest, each claim's event as the bytes to send (kept small:
    a file of 100,000 claims is ~100 MB of them, not a gigabyte of models), or why it was
    refused, and its warnings."""

    name: str
    digest: str | None = None
    messages: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value)
    claims: dict[str, str] = field(default_factory=dict)  # claim id -> the event id checking it
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


class _Hashing:
    """Reads through to the stream and hashes what it read (one pass over a large file)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.sha = stream, hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.stream.read(size)
        self.sha.update(chunk)
        return chunk


def claim_doc(claim: SubmittedClaim, digest: str, occurred_at: str, warning_codes: list[str]) -> dict[str, Any]:
    """The `claim.submitted` event document for one claim of the file ``digest``."""

    def day(line: Any) -> str | None:
        dos = line.date_of_service or claim.statement_from
        return dos.isoformat() if dos else None

    lines = [
        {
            "line": line.number, "procedure_code": line.procedure_code, "revenue_code": line.revenue_code,
            "modifiers": list(line.modifiers)[:4], "units": str(line.units) if line.units is not None else None,
            "charge": str(line.charge), "date_of_service": day(line),
            "rendering_npi": line.rendering_npi, "line_control": line.line_control,
            "prior_authorization": line.prior_authorization, "referral": line.referral,
        }
        for line in claim.lines
    ]  # fmt: skip
    name = ", ".join(p for p in (claim.patient_last_name, claim.patient_first_name) if p) or None
    data = {
        "payer_id": claim.payer_id, "payer_name": claim.payer_name, "billing_npi": claim.billing_npi,
        "billing_name": claim.billing_name, "patient_control_number": claim.patient_control_number,
        "frequency": claim.frequency, "payer_claim_control_number": claim.payer_claim_control_number,
        "place_of_service": claim.place_of_service, "prior_authorization": claim.prior_authorization,
        "referral": claim.referral, "rendering_npi": claim.rendering_npi,
        "service_facility_npi": claim.service_facility_npi, "service_facility_name": claim.service_facility_name,
        "charge": str(claim.charge), "kind": claim.kind, "lines": lines,
        "patient": {"name": name, "member_id": claim.member_id,
                    "dob": claim.patient_birth_date.isoformat() if claim.patient_birth_date else None},
        "source_file": {"digest": digest, "warnings": warning_codes[:200]},
    }  # fmt: skip
    return {"event_id": f"837-{digest[:32]}-{claim.position}", "type": "claim.submitted",
            "occurred_at": occurred_at, "actor": ACTOR, "role": "system", "data": _without_none(data)}  # fmt: skip


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def read_claim_file(stream: BinaryIO, name: str, clock: Clock) -> ClaimFile:
    """Every claim of one 837 as a validated event, or the file refused as a whole: a claim the
    event schema refuses refuses the file too, naming the claim's segment and the field."""
    result = ClaimFile(name)
    hashing, report = _Hashing(stream), ReadReport837()
    try:
        claims = list(read_837(hashing, report))
    except X12Error as exc:
        result.error = str(exc)
        return result
    while hashing.read(1 << 20):  # the digest covers the whole file, trailing bytes too
        pass
    result.digest = hashing.sha.hexdigest()
    result.warnings = [f"{w.code} (segment {w.segment}): {w.message}" for w in report.warnings]
    now = clock().isoformat()  # only for a claim whose file says not when it was made
    codes = list(report.codes)  # the codes travel with each claim, as an 835's do; the messages stay here
    for claim in claims:
        try:
            at = claim.created_at.isoformat() if claim.created_at else now
            event = parse(claim_doc(claim, result.digest, at, codes))
        except Rejected as exc:
            result.error = f"segment {claim.position} (CLM): {exc.field}: {exc.message}"
            result.messages, result.claims = [], {}
            return result
        result.messages.append((event.key.encode(), event.model_dump_json(exclude_none=True).encode()))
        result.claims[claim_id_for(claim.payer_id, claim.patient_control_number)] = event.event_id
    return result


def publish_file(result: ClaimFile, send: Callable[[bytes, bytes], Any]) -> int:
    """Send a read file's events keyed by patient (`Event.key`); return how many."""
    for key, value in result.messages:
        send(key, value)
    return len(result.messages)
