"""Which denial a remittance line is: the practice's claim line (DOMAIN.md).

Payer + the provider's claim id (CLP01) + the line's identity within the claim; the
payer's claim control number (CLP07) changes with each adjudication and is no part of
it. Denials stored before this identity keep their old ids (`legacy_denial_id_for`).
"""

import hashlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

_DENIAL_NAMESPACE = UUID("6f0c1d52-5a43-4c61-9a0e-2f1e8e7d9b10")


CLAIM_LEVEL = "0"


def claim_line_key(
    line: int, line_control: str | None, procedure: str | None, modifiers: Sequence[str], service_date: str | None,
    occurrence: int = 1,
) -> str:  # fmt: skip
    """A claim line's identity within its claim: ``0`` for the claim level, else the line item
    control number (REF*6R) the practice sent, else procedure, modifiers, service date and
    which exact repeat of those this is."""
    if line == 0:
        return CLAIM_LEVEL
    if line_control:
        return f"6R:{line_control}"
    return f"{procedure or ''}:{'-'.join(modifiers)}:{service_date or ''}:{occurrence}"


def _uuid5_hex(name: str) -> str:
    """``uuid5(_DENIAL_NAMESPACE, name).hex`` without building the UUID (RFC 4122 section 4.3:
    the SHA-1's first 16 bytes with the version and variant bits set): a fifth of the time,
    and every receipt derives one (bench/throughput.py, issue 13)."""
    digest = bytearray(hashlib.sha1(_DENIAL_NAMESPACE.bytes + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def denial_id_for(payer_id: str, patient_control_number: str, line_key: str) -> str:
    """The deterministic denial id: one practice claim line at one payer is one denial."""
    return _uuid5_hex(f"{payer_id}|pcn:{patient_control_number}|{line_key}")


def legacy_denial_id_for(payer_id: str, claim_control_number: str, line: int) -> str:
    """The id denials had before claim-line identity (payer claim control number + line
    position): kept so their logs still replay and their reversals still match."""
    return _uuid5_hex(f"{payer_id}|{claim_control_number}|{line}")


def receipt_denial_id(data: dict[str, Any]) -> str:
    """The denial id a receipt's (or paid line's) data resolves to: from a raw document (the
    demo feed, tests) or from a validated event's fields (`vars(event.data)`), alike, since
    each value is read as its stripped text."""
    key = _text(data.get("line_key"))
    if not key:
        modifiers = [_text(m) for m in data.get("modifiers") or ()]
        key = claim_line_key(int(data["line"]), _text(data.get("line_control")), _text(data.get("procedure_code")),
                             modifiers, _text(data.get("date_of_service")))  # fmt: skip
    return denial_id_for(_text(data["payer_id"]), _text(data["patient_control_number"]), key)


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def claim_id_for(payer_id: str, patient_control_number: str) -> str:
    """An outgoing claim's id: the practice's claim (CLP01 on the 835, CLM01 on the 837) at one
    payer, so a replacement or void finds it and a later denial of its lines links back."""
    return f"clm-{_digest(payer_id, patient_control_number)}"


def authorization_id_for(payer_id: str, reference: str) -> str:
    """An authorization's id: its number at its payer."""
    return f"auth-{_digest(payer_id, reference)}"


def patient_key(payer_id: str, member_id: str | None) -> str:
    """The Kafka key of a patient's authorization and claim events, so checks and the units
    they count stay in order on one partition; a digest, so no member id travels as a key."""
    return f"patient-{_digest(payer_id, member_id or '')}"
