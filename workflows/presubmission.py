"""The pre-submission check: a claim against the patient's authorizations, before the payer
sees it (pure).

Each service line that needs an authorization (the payer's rules say so, the practice holds
one that covers the code, or the claim carries one) walks the seeds' checklist against the
record that fits it best: one on file, obtained before the date of service, CPT/HCPCS,
rendering provider, location, date window, units within what is left (after every other
claim checked against it and the lines before on this claim), and the record's number on
the claim. A payer that wants a referral wants its number on every claim. Every failed item
is named with its next action; any failure holds the claim.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from workflows.auth_rules import PayerAuthRules
from workflows.authorization import AuthRecord, ClaimLine, best_record, line_units

CLEAR, HOLD, VOID = "clear", "hold", "void"
REFERRAL = "referral"
#: (check, sub-cause when it fails, next action when it fails), in the order they are reported.
PRE_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("authorization_on_file", "no_authorization_on_file",
     "obtain the authorization from the payer before submitting; hold the claim until it is on file"),
    ("obtained_before_service", "auth_obtained_after_service",
     "the authorization starts after the date of service: ask the payer for retro-authorization first"),
    ("procedure_matches", "cpt_mismatch",
     "correct the claim's procedure code, or have the payer amend the authorization to it, before submitting"),
    ("rendering_provider_matches", "rendering_provider_mismatch",
     "correct the rendering NPI, or have the payer amend the authorized provider, before submitting"),
    ("location_matches", "location_mismatch",
     "correct the service location, or have the payer amend the authorized location, before submitting"),
    ("within_date_window", "date_outside_window",
     "ask the payer to extend the authorization to the date of service, or obtain a new one"),
    ("units_within_approved", "units_exceeded",
     "request a unit increase (concurrent review) before submitting"),
    ("auth_number_on_claim", "auth_on_file_not_on_claim",
     "put authorization number {reference} on the claim (REF*G1) before submitting"),
    ("referral_present", "referral_missing",
     "obtain the referral and put its number on the claim (REF*9F) before submitting"),
)  # fmt: skip
_FAILURE = {name: (cause, action) for name, cause, action in PRE_CHECKS}


@dataclass(frozen=True, slots=True)
class Line:
    """One service line as the check reads it."""

    number: int
    claim_line: ClaimLine
    prior_authorization: str | None
    referral: str | None


def counted(units: Decimal) -> int:
    """Units as an authorization counts them: whole sessions, a part counting as one."""
    return int(units.to_integral_value(ROUND_CEILING))


def _failure(check: str, reference: str | None) -> dict[str, str]:
    cause, action = _FAILURE[check]
    return {"check": check, "sub_cause": cause, "next_action": action.format(reference=reference or "-")}


def _referral(line: Line, claim_referral: str | None, records: Sequence[AuthRecord]) -> dict[str, str] | None:
    if claim_referral or line.referral:
        return None
    failure = _failure("referral_present", None)
    dos = line.claim_line.date_of_service
    on_file = next((r for r in records if r.auth_type == REFERRAL and r.status != "superseded"
                    and r.valid_from <= dos <= r.valid_to), None)  # fmt: skip
    if on_file is not None:
        failure["next_action"] = f"put referral number {on_file.reference} on the claim (REF*9F) before submitting"
    return failure


def check_claim(
    lines: Sequence[Line],
    claim_authorization: str | None,
    claim_referral: str | None,
    records: Sequence[AuthRecord],
    rules: PayerAuthRules,
) -> dict[str, Any]:
    """The claim's verdict, each line's, and the units each record would give the claim.
    ``records``: the patient's authorizations at this payer, their ``units_claimed`` not
    counting this claim (a replacement's earlier version already taken out)."""
    auths = [r for r in records if r.auth_type != REFERRAL]
    pending: dict[str, Decimal] = {}  # units this claim's earlier lines take from each record
    results, usage = [], {}
    for line in lines:
        code = line.claim_line.procedure_code
        carried = line.prior_authorization or claim_authorization
        failed: list[dict[str, str]] = []
        record = None
        needed = rules.needs_prior_auth(code) or carried is not None or any(code in r.procedure_codes for r in auths)
        if needed:

            def taken(r: AuthRecord) -> Decimal:
                return r.units_used + r.units_claimed + pending.get(r.reference, Decimal(0))

            # the record the claim names, when on file, is the one the payer will look at
            named = [r for r in auths if r.reference == carried]
            best = best_record(line.claim_line, named, taken) or best_record(line.claim_line, auths, taken)
            if best is None:
                failed.append(_failure("authorization_on_file", None))
            else:
                record, checks = best
                failed += [_failure(name, record.reference) for name, ok in checks.items() if not ok]
                if carried != record.reference:
                    failed.append(_failure("auth_number_on_claim", record.reference))
                units = line_units(line.claim_line)
                pending[record.reference] = pending.get(record.reference, Decimal(0)) + units
                usage[record.reference] = usage.get(record.reference, 0) + counted(units)
        if rules.referral and (missing := _referral(line, claim_referral, records)):
            failed.append(missing)
        results.append({
            "line": line.number, "procedure_code": code, "units": str(line_units(line.claim_line)),
            "needs_authorization": needed, "record": record.reference if record else None,
            "verdict": HOLD if failed else CLEAR, "failed": failed,
        })  # fmt: skip
    held = [f for r in results for f in r["failed"]]
    return {
        "verdict": HOLD if held else CLEAR,
        "sub_causes": sorted({f["sub_cause"] for f in held}),
        "lines": results,
        "usage": usage,
    }


def usage_change(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Units to add to (or, negative, give back to) each record when a claim's counted usage
    goes from ``before`` to ``after`` (a replacement, a void, a released hold)."""
    refs = set(before) | set(after)
    return {r: d for r in sorted(refs) if (d := after.get(r, 0) - before.get(r, 0))}
