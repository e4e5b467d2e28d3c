"""What prevention publishes, as the bytes its readers take: the authorization change feed's
record and the `claims.checked` verdict the billing system acts on. Neither carries PHI."""

from types import SimpleNamespace
from typing import Any

import orjson

from engine.intake.events import SCHEMA_VERSION
from workflows.authorization import AuthRecord


def feed_message(row: SimpleNamespace, entry: dict[str, Any], raised: list[str]) -> bytes:
    """The authorization change feed's record: the change and where the record stands, no PHI."""
    remaining = AuthRecord.from_row(row).units_remaining
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "authorization_id": row.authorization_id,
            "seq": entry["seq"],
            "event_id": entry["event_id"],
            "event_type": entry["event_type"],
            "trigger": entry["trigger"],
            "from_state": entry["from_state"],
            "to_state": entry["to_state"],
            "reason": entry["reason"],
            "occurred_at": entry["occurred_at"],
            "recorded_at": entry["recorded_at"],
            "hash": entry["hash"],
            "authorization": {
                "payer_id": row.payer_id,
                "reference": row.reference,
                "auth_type": row.auth_type,
                "status": row.status,
                "valid_to": row.valid_to,
                "units_approved": row.units_approved,
                "units_remaining": remaining,
            },
            "alerts_raised": raised,
        }
    )


def checked_message(row: SimpleNamespace) -> bytes:
    """The `claims.checked` record the billing system reads to stop or send a claim; no PHI."""
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "claim_id": row.claim_id,
            "payer_id": row.payer_id,
            "patient_control_number": row.patient_control_number,
            "frequency": row.frequency,
            "verdict": row.verdict,
            "release": row.release,
            "sub_causes": row.result["sub_causes"],
            "checked_at": row.checked_at,
            "lines": [
                {k: line[k] for k in ("line", "procedure_code", "units", "record", "verdict", "failed")}
                for line in row.result["lines"]
            ],
        }
    )
