"""Event documents for tests, valid by default; override what a test is about."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.intake.claim_identity import receipt_denial_id
from engine.intake.events import parse

_ids = itertools.count(1)
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
LEAD = ("lena.lead", "lead")
SYSTEM = ("clearinghouse", "system")


def received_doc(
    n: int = 1,
    adjustments: list[tuple[str, str, str]] | None = None,
    remarks: list[str] | None = None,
    payer_id: str = "AETNA",
    **data: Any,
) -> dict[str, Any]:
    adj = adjustments or [("CO", "197", "350.00")]
    doc = {
        "event_id": f"rcv-{n}-{next(_ids)}",
        "type": "denial.received",
        "occurred_at": T0.isoformat(),
        "actor": SYSTEM[0],
        "role": SYSTEM[1],
        "data": {
            "payer_id": payer_id,
            "payer_name": payer_id.title(),
            "claim_control_number": f"CCN{n:06d}",
            "line": 1,
            "patient_control_number": f"PCN{n}",
            "procedure_code": "90837",
            "billed_amount": "400.00",
            "paid_amount": "0.00",
            "adjustments": [{"group": g, "reason": r, "amount": a} for g, r, a in adj],
            "remarks": remarks or [],
            "date_of_service": "2026-09-10",
            "remit_date": "2026-09-30",
            "rendering_npi": "1234567890",
            "patient": {"name": "Ada Q Patient", "member_id": "MBR-PHI-778899", "dob": "1970-01-02"},
            **data,
        },
    }
    return doc


def received_id(doc: dict[str, Any]) -> str:
    return receipt_denial_id(doc["data"])


def later_remit(doc: dict[str, Any], kind: str, paid: str, adjustments: list[tuple[str, str, str]] | None = None,
                trace: str = "TRN-LATER") -> dict[str, Any]:  # fmt: skip
    """The same claim line on a later remittance: re-adjudicated (new ICN and trace), paid or denied."""
    data = {**doc["data"], "claim_control_number": f"{doc['data']['claim_control_number']}-R", "payment_trace": trace,
            "paid_amount": paid, "remit_date": "2026-11-02",
            "adjustments": [{"group": g, "reason": r, "amount": a} for g, r, a in adjustments or []]}  # fmt: skip
    return {**doc, "event_id": f"{kind}-{trace}-{next(_ids)}", "type": kind, "data": data,
            "occurred_at": (T0 + timedelta(days=32)).isoformat()}  # fmt: skip


def event_doc(
    type_: str, denial_id: str, actor: tuple[str, str], data: dict[str, Any], day: int = 1, event_id: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"e-{next(_ids)}",
        "type": type_,
        "denial_id": denial_id,
        "occurred_at": (T0 + timedelta(days=day)).isoformat(),
        "actor": actor[0],
        "role": actor[1],
        "data": data,
    }


def touch(denial_id: str, owner: str, day: int = 1) -> dict[str, Any]:
    return event_doc(
        "denial.touched", denial_id, (owner, "staff"), {"note": "called", "next_action_date": "2026-10-20"}, day
    )


def ev(doc: dict[str, Any]) -> Any:
    """Validate a document into an event object, as the worker would."""
    return parse(doc)


def authorization_doc(reference: str = "AUTH-1", **data: Any) -> dict[str, Any]:
    """An authorization on file for `received_doc`'s patient, matching its line by default."""
    record = {
        "payer_id": "AETNA", "reference": reference, "member_id": "MBR-PHI-778899", "auth_type": "prior",
        "procedure_codes": ["90837", "90834"], "rendering_npi": "1234567890", "units_approved": 12, "units_used": 4,
        "obtained_on": "2026-08-20", "valid_from": "2026-09-01", "valid_to": "2026-11-30", **data,
    }  # fmt: skip
    return {
        "event_id": f"auth-{next(_ids)}", "type": "authorization.recorded", "occurred_at": T0.isoformat(),
        "actor": "front.desk", "role": "staff", "data": record,
    }  # fmt: skip


def claim_doc(pcn: str = "PCN-C1", lines: list[dict[str, Any]] | None = None, frequency: str = "1",
              event_id: str | None = None, **data: Any) -> dict[str, Any]:  # fmt: skip
    """An outgoing claim (`claim.submitted`) for `authorization_doc`'s patient: one 90837 session
    inside its window, by its rendering provider, carrying no authorization number."""
    claim = {
        "payer_id": "AETNA", "billing_npi": "1234567893", "billing_name": "MAIN ST BEHAVIORAL HEALTH",
        "patient_control_number": pcn, "frequency": frequency, "charge": "220.00", "rendering_npi": "1234567890",
        "patient": {"name": "Ada Q Patient", "member_id": "MBR-PHI-778899", "dob": "1970-01-02"},
        "lines": lines or [{"line": 1, "procedure_code": "90837", "units": "1", "charge": "220.00",
                            "date_of_service": "2026-10-02"}],
        **data,
    }  # fmt: skip
    return {
        "event_id": event_id or f"claim-{next(_ids)}", "type": "claim.submitted", "occurred_at": T0.isoformat(),
        "actor": "billing-system", "role": "system", "data": claim,
    }  # fmt: skip
