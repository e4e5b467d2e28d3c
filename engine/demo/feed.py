"""A realistic, deterministic demo set: denials across payers, categories and outcomes.

Used by `denialflow run` and by the benchmark (scaled up). Patients are invented.
Each scenario is a receipt (CARC/RARC as a payer sends them) and the path the
back office then walks; a few poison messages show the dead-letter topic at work.
"""

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.intake.claim_identity import receipt_denial_id
from engine.intake.event_data import Adjustment
from workflows.classification import ClaimContext, classify
from workflows.routing import Routing

PAYERS = [
    ("MEDICARE-JL", "Novitas Solutions (Medicare JL)"),
    ("BCBS-NC", "Blue Cross Blue Shield of North Carolina"),
    ("AETNA", "Aetna"),
    ("UHC", "UnitedHealthcare"),
    ("MEDICAID-NY", "New York State Medicaid (eMedNY)"),
]
SITES = ["Main St Behavioral Health", "Riverside Outpatient", "North Clinic"]
PROCEDURES = ["90837", "90834", "90791", "99214", "H0031", "96130"]
LEAD = "morgan.lead"
REASSIGNED_TO = "indy.billing"
DEMO_START = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Scenario:
    name: str
    adjustments: tuple[tuple[str, str], ...]  # (group, reason); the first carries the denied amount
    remarks: tuple[str, ...]
    path: tuple[str, ...]
    root_cause: str
    preventable: bool = True


SCENARIOS = [
    Scenario("auth absent, appeal overturned", (("CO", "197"),), ("N54",), ("touch", "appeal", "overturned", "close"),
             "prior_authorization"),
    Scenario("eligibility, corrected and paid", (("CO", "27"), ("PR", "2")), (), ("touch", "resubmit", "paid", "close"),
             "eligibility_verification"),
    Scenario("coding, corrected and paid", (("CO", "4"),), ("M51",), ("touch", "resubmit", "paid", "close"), "coding"),
    Scenario("medical necessity, upheld then written off", (("CO", "50"),), (),
             ("touch", "appeal", "upheld", "write_off", "close"), "clinical_documentation"),
    Scenario("missing info, escalated and reassigned", (("CO", "16"),), ("MA130",),
             ("touch", "touch", "escalate", "reassign", "touch"), "claim_submission"),
    Scenario("timely filing, written off", (("CO", "29"),), (), ("touch", "write_off", "close"), "claim_submission"),
    Scenario("credentialing, being worked", (("CO", "185"),), (), ("touch",), "credentialing_enrollment"),
    Scenario("fee schedule short pay, waiting", (("CO", "45"),), (), (), "contract_fee_schedule", False),
    Scenario("duplicate claim, payer error", (("OA", "18"),), (), ("touch", "resubmit", "paid", "close"), "payer_error",
             False),
    Scenario("unreadable reason, needs review", (("CO", "ZZ9"),), (), (), "payer_error", False),
    Scenario("frequency limit, appeal awaiting the payer", (("CO", "151"),), (), ("touch", "appeal"),
             "clinical_documentation"),
    Scenario("rendering NPI missing, escalated to a lead", (("CO", "16"),), ("N290",), ("touch", "escalate"),
             "credentialing_enrollment"),
]  # fmt: skip


def _envelope(event_id: str, type_: str, at: datetime, actor: str, role: str, data: dict[str, Any], **kw: Any) -> dict:
    return {"event_id": event_id, "type": type_, "occurred_at": at.isoformat(), "actor": actor, "role": role,
            "data": data, **kw}  # fmt: skip


def _receipt(n: int, sc: Scenario, rng: random.Random, at: datetime) -> dict[str, Any]:
    payer_id, payer_name = PAYERS[n % len(PAYERS)]
    small = n % 7 == 0
    denied = round(rng.uniform(20, 99), 2) if small else round(rng.uniform(120, 2400), 2)
    billed = denied + 15 * (len(sc.adjustments) - 1)  # denied outright: every cent adjusted, nothing paid
    adjustments = [{"group": sc.adjustments[0][0], "reason": sc.adjustments[0][1], "amount": f"{denied:.2f}"}]
    adjustments += [{"group": g, "reason": r, "amount": "15.00"} for g, r in sc.adjustments[1:]]
    dos = (at - timedelta(days=rng.randint(20, 50))).date()
    data = {
        "payer_id": payer_id, "payer_name": payer_name,
        "claim_control_number": f"{payer_id[:3]}{240000 + n:08d}", "line": 1 + n % 3,
        "patient_control_number": f"PCN{100000 + n}", "procedure_code": PROCEDURES[n % len(PROCEDURES)],
        "billed_amount": f"{billed:.2f}", "paid_amount": "0.00", "claim_status": "4",
        "adjustments": adjustments, "remarks": list(sc.remarks),
        "date_of_service": dos.isoformat(), "remit_date": at.date().isoformat(),
        "rendering_npi": f"{1234567890 + n % 50}", "site": SITES[n % len(SITES)],
        "payment_trace": f"EFT{at:%Y%m%d}{n % 97:03d}",
        "patient": {"name": f"Demo Patient {n:05d}", "member_id": f"MBR{n:09d}", "dob": "1984-03-02"},
    }  # fmt: skip
    return _envelope(f"rcv-{n}", "denial.received", at, "clearinghouse", "system", data)


def _follow_up(step: str, i: int, n: int, denial_id: str, owner: str, sc: Scenario, at: datetime, denied: str
               ) -> dict[str, Any]:  # fmt: skip
    eid, nxt = f"evt-{n}-{i}", (at + timedelta(days=5)).date().isoformat()
    kw = {"denial_id": denial_id}
    # routing balances open work, so who owns a denial is known only once it is applied:
    # the billing lead works the demo's denials, and the reassigned owner works hers
    staff = (owner, "lead" if owner == LEAD else "staff")
    match step:
        case "touch":
            return _envelope(eid, "denial.touched", at, *staff, {"note": "called payer", "next_action_date": nxt}, **kw)
        case "appeal":
            return _envelope(eid, "denial.appealed", at, *staff, {"appeal_reference": f"APL-{n}", "level": 1}, **kw)
        case "resubmit":
            return _envelope(eid, "denial.resubmitted", at, *staff, {"claim_reference": f"CORR-{n}"}, **kw)
        case "paid" | "overturned" | "upheld":
            data = {"outcome": step, "payment_trace": f"TRN-{n}", "icn": f"ICN{n:010d}", "decision_reference": f"D-{n}"}
            return _envelope(eid, "denial.payer_responded", at, "clearinghouse", "system", data, **kw)
        case "write_off":
            data = {"adjustment_type": "administrative", "amount": denied, "reason": "payer upheld; not collectible"}
            return _envelope(eid, "denial.written_off", at, LEAD, "lead", data, **kw)
        case "escalate":
            # a lead's own call, not a rule's: the demo's denial has not reached the touch limit
            data = {"rule": "lead_review", "detail": {"why": "payer unresponsive; the lead takes it"}}
            return _envelope(eid, "denial.escalated", at, LEAD, "lead", data, **kw)
        case "reassign":
            data = {"owner": REASSIGNED_TO, "reason": "second pair of eyes", "next_action_date": nxt}
            return _envelope(eid, "denial.reassigned", at, LEAD, "lead", data, **kw)
        case "close":
            evidence = {
                "payment_trace": f"TRN-{n}", "paid_amount": denied, "appeal_reference": f"APL-{n}",
                "decision": "overturned on appeal", "approver": LEAD, "reason": "payer upheld; not collectible",
            }  # fmt: skip
            cause = {"category": sc.root_cause, "handoff": "front desk -> billing", "preventable": sc.preventable,
                     "prevention_owner": "revenue cycle lead" if sc.preventable else None}  # fmt: skip
            return _envelope(eid, "denial.closed", at, *staff, {"root_cause": cause, "evidence": evidence}, **kw)
    raise ValueError(step)


def demo_events(
    denials: int = 60, start: datetime | None = None, seed: int = 7, extra_touches: int = 0
) -> Iterator[dict[str, Any]]:
    """Every denial's receipt then its path, one denial after another (keys keep order per denial).
    ``extra_touches`` adds follow-up calls before each routed denial's path (benchmark volume)."""

    rng = random.Random(seed)
    routing = Routing.load()
    base = start or DEMO_START
    for n in range(denials):
        sc = SCENARIOS[n % len(SCENARIOS)]
        at = base + timedelta(minutes=7 * n)
        receipt = _receipt(n, sc, rng, at)
        yield receipt
        d = receipt["data"]
        denial_id = receipt_denial_id(d)
        category = classify(
            [Adjustment(**a) for a in d["adjustments"]], d["remarks"], ClaimContext(paid=Decimal(d["paid_amount"]))
        ).category
        routed = routing.route(d["payer_id"], category, denial_id, {})[1] is not None
        path = ("touch",) * (extra_touches if routed else 0) + sc.path
        for i, step in enumerate(path):
            at += timedelta(days=2, hours=i)
            owner = REASSIGNED_TO if "reassign" in path[:i] else LEAD
            yield _follow_up(step, i, n, denial_id, owner, sc, at, d["adjustments"][0]["amount"])


def poison_messages() -> list[bytes]:
    """What a real feed eventually sends: each must land in the dead-letter topic, nothing else."""
    at = datetime(2026, 9, 2, 9, 0, tzinfo=UTC).isoformat()
    return [
        b'{"event_id": "bad-1", "type": "denial.touched", ',
        json.dumps({"event_id": "bad-2", "type": "denial.teleported", "denial_id": "x", "occurred_at": at,
                    "actor": "a", "role": "staff", "data": {}}).encode(),
        json.dumps({"event_id": "bad-3", "type": "denial.touched", "denial_id": "nope", "occurred_at": at,
                    "actor": "a", "role": "staff", "data": {"note": "n"}}).encode(),
        json.dumps({"event_id": "bad-4", "type": "denial.touched", "denial_id": "0" * 32, "occurred_at": at,
                    "actor": "a", "role": "staff", "data": {"note": "n", "next_action_date": "2026-09-09"}}).encode(),
    ]  # fmt: skip


def dump_jsonl(events: Iterator[dict[str, Any]]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)
