"""The authorization checklist from the seeds, run on an authorization denial.

Given the practice's authorization records for the patient at that payer, pick the
record that fits the claim line best and walk the checklist in the seeds' order:
obtained before the date of service, CPT/HCPCS, rendering provider, location, date
window, units. The first failed check is the sub-cause and decides the next action;
with no record on file the path is retro-authorization. Pure: no I/O.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class AuthRecord:
    reference: str
    payer_id: str
    member_id: str
    auth_type: str
    procedure_codes: tuple[str, ...]
    rendering_npi: str | None
    location: str | None
    units_approved: int | None
    units_used: int
    obtained_on: date
    valid_from: date
    valid_to: date
    units_claimed: int = 0  # counted from the claims checked against it (`workflows.presubmission`)
    status: str = "active"  # see `workflows.auth_lifecycle`

    @classmethod
    def from_row(cls, row: Any) -> "AuthRecord":
        return cls(
            row.reference, row.payer_id, row.member_id, row.auth_type, tuple(row.procedure_codes.split(",")),
            row.rendering_npi, row.location, row.units_approved, row.units_used, row.obtained_on, row.valid_from,
            row.valid_to, getattr(row, "units_claimed", 0) or 0, getattr(row, "status", None) or "active",
        )  # fmt: skip

    @property
    def units_remaining(self) -> int | None:
        """Approved units not yet used by the practice's own count or by checked claims."""
        if self.units_approved is None:
            return None
        return self.units_approved - self.units_used - self.units_claimed


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """What the checklist needs of the denied line."""

    procedure_code: str | None
    rendering_npi: str | None
    site: str | None
    date_of_service: date
    units: Decimal | None
    places: tuple[str, ...] = ()  # other names of where the service was (an 837's facility NPI, billing name)


def same_place(authorized: str, line: ClaimLine) -> bool:
    """The authorization's location is the line's site or any other name the claim gives it."""
    want = authorized.strip().casefold()
    return any(p is not None and p.strip().casefold() == want for p in (line.site, *line.places))


# (check, sub-cause when it fails, next action when it fails)
CHECKS: tuple[tuple[str, str, str], ...] = (
    ("obtained_before_service", "auth_obtained_after_service",
     "ask the payer for retro-authorization inside its window; if refused, escalate to the provider"),
    ("procedure_matches", "cpt_mismatch",
     "have the payer amend the authorization to the billed code, or correct the claim's code; then resubmit"),
    ("rendering_provider_matches", "rendering_provider_mismatch",
     "have the payer amend the authorized provider, or correct the rendering NPI; then resubmit"),
    ("location_matches", "location_mismatch",
     "have the payer amend the authorized location, or correct the service location; then resubmit"),
    ("within_date_window", "date_outside_window",
     "ask the payer to extend the authorization to the date of service (retro-authorization)"),
    ("units_within_approved", "units_exceeded",
     "request additional units (concurrent review); write off or bill the units the payer will not approve"),
)  # fmt: skip
NO_RECORD = {
    "record": None,
    "sub_cause": "no_authorization_on_file",
    "next_action": "request retro-authorization from the payer inside its retro-authorization window",
    "checks": [],
}


def line_units(line: ClaimLine) -> Decimal:
    """What a line takes from an authorization: its units, one when it gives none."""
    return line.units if line.units is not None else Decimal(1)


def checklist(line: ClaimLine, auth: AuthRecord, used: Decimal | int | None = None) -> dict[str, bool]:
    """Each check of `CHECKS` on one record; ``used``: the units already taken from it
    (the record's own count when None)."""
    billed = line_units(line)
    taken = auth.units_used if used is None else used
    return {
        "obtained_before_service": auth.obtained_on <= line.date_of_service,
        "procedure_matches": line.procedure_code is not None and line.procedure_code in auth.procedure_codes,
        "rendering_provider_matches": auth.rendering_npi is None or auth.rendering_npi == line.rendering_npi,
        "location_matches": auth.location is None or same_place(auth.location, line),
        "within_date_window": auth.valid_from <= line.date_of_service <= auth.valid_to,
        # units_used counts what earlier claims consumed; this line's units must still fit
        "units_within_approved": auth.units_approved is None or taken + billed <= auth.units_approved,
    }


def best_record(
    line: ClaimLine, records: Sequence[AuthRecord], used: Callable[[AuthRecord], Decimal | int | None] = lambda _: None
) -> tuple[AuthRecord, dict[str, bool]] | None:
    """The record that fits the line best (most checks passed, then the window nearest the
    date of service) and its checks; superseded records are not considered."""
    scored = [(sum(r.values()), -abs((a.valid_from - line.date_of_service).days), a.reference, a, r)
              for a in records if a.status != "superseded" for r in [checklist(line, a, used(a))]]  # fmt: skip
    if not scored:
        return None
    *_, auth, results = max(scored, key=lambda s: s[:3])
    return auth, results


def check_authorization(line: ClaimLine, records: Sequence[AuthRecord]) -> dict[str, Any]:
    """The checklist's outcome: the record used, each check, the sub-cause and the next action."""
    best = best_record(line, records)
    if best is None:
        return dict(NO_RECORD)
    auth, results = best
    checks = [{"check": name, "ok": results[name]} for name, _, _ in CHECKS]
    failed = next(((cause, action) for name, cause, action in CHECKS if not results[name]), None)
    sub_cause, next_action = failed or (
        "auth_on_file_not_on_claim",
        f"correct the claim with authorization number {auth.reference} and resubmit",
    )
    return {"record": auth.reference, "sub_cause": sub_cause, "next_action": next_action, "checks": checks}
