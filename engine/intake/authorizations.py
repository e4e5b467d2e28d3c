"""Read a practice's authorization records from CSV into `authorization.recorded` events.

One row per authorization. ``procedure_codes`` holds one or more CPT/HCPCS codes
separated by spaces or semicolons. A file with any invalid row publishes nothing
and the error names the row and the field.
"""

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import orjson

from engine.errors import Rejected
from engine.intake.events import Event, parse

COLUMNS = ("payer_id", "reference", "member_id", "auth_type", "procedure_codes", "diagnosis", "rendering_npi",
           "location", "units_approved", "units_used", "obtained_on", "valid_from", "valid_to")  # fmt: skip
REQUIRED = {"payer_id", "reference", "member_id", "procedure_codes", "obtained_on", "valid_from", "valid_to"}
_NAMESPACE = UUID("5d3b8f0e-2a61-4c55-9d7e-0c4b1f6a8e23")


class InvalidFile(ValueError):
    """The CSV cannot be imported; the message names the row and the field."""


def _data(row: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: v.strip() for k, v in row.items() if k in COLUMNS and v and v.strip()}
    data["procedure_codes"] = data.get("procedure_codes", "").replace(";", " ").split()
    data.setdefault("auth_type", "prior")
    return data


def read_authorizations(path: Path, actor: str, now: datetime | None = None) -> list[Event]:
    """Every row as a validated event; the event id covers the row's content, so an
    unchanged row re-imported is a duplicate and an amended one applies."""
    at = (now or datetime.now(UTC)).isoformat()
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = REQUIRED - set(reader.fieldnames or ())
        if missing:
            raise InvalidFile(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected {', '.join(COLUMNS)}")
        events = []
        for number, row in enumerate(reader, 2):
            data = _data(row)
            doc = {
                "event_id": f"auth-{uuid5(_NAMESPACE, orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()).hex}",
                "type": "authorization.recorded", "occurred_at": at, "actor": actor, "role": "system", "data": data,
            }  # fmt: skip
            try:
                events.append(parse(doc))
            except Rejected as exc:
                raise InvalidFile(f"{path}:{number}: {exc.field}: {exc.message}") from None
    return events
