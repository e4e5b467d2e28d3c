"""The authorization checklist (pure), and how a receipt carries its result."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from engine.audit.replay import replay
from engine.errors import Rejected
from tests.factories import authorization_doc, ev, event_doc, received_doc, received_id
from workflows.apply import Context, apply_event
from workflows.authorization import AuthRecord, ClaimLine, check_authorization
from workflows.policy import LivePolicy
from workflows.routing import Routing

POLICY = LivePolicy(Routing.load())
LINE = ClaimLine("90837", "1234567890", "Main St", date(2026, 9, 10), Decimal(1))


def record(**changes: Any) -> AuthRecord:
    fields = {"reference": "A1", "payer_id": "AETNA", "member_id": "M1", "auth_type": "prior",
              "procedure_codes": ("90837",), "rendering_npi": "1234567890", "location": "Main St",
              "units_approved": 10, "units_used": 3, "obtained_on": date(2026, 8, 1),
              "valid_from": date(2026, 8, 15), "valid_to": date(2026, 10, 15), **changes}  # fmt: skip
    return AuthRecord(**fields)


def test_no_record_means_retro_authorization() -> None:
    result = check_authorization(LINE, [])
    assert result["sub_cause"] == "no_authorization_on_file"
    assert "retro-authorization" in result["next_action"]


def test_every_check_passing_means_the_claim_lacked_the_auth_number() -> None:
    result = check_authorization(LINE, [record()])
    assert all(c["ok"] for c in result["checks"]) and len(result["checks"]) == 6
    assert result["sub_cause"] == "auth_on_file_not_on_claim"
    assert result["next_action"] == "correct the claim with authorization number A1 and resubmit"


@pytest.mark.parametrize(
    ("changes", "sub_cause"),
    [
        ({"obtained_on": date(2026, 9, 11)}, "auth_obtained_after_service"),
        ({"procedure_codes": ("90834",)}, "cpt_mismatch"),
        ({"rendering_npi": "9999999999"}, "rendering_provider_mismatch"),
        ({"location": "North Clinic"}, "location_mismatch"),
        ({"valid_to": date(2026, 9, 9)}, "date_outside_window"),
        ({"units_used": 10}, "units_exceeded"),
    ],
)
def test_the_first_failed_check_names_the_sub_cause(changes: dict[str, Any], sub_cause: str) -> None:
    result = check_authorization(LINE, [record(**changes)])
    assert result["sub_cause"] == sub_cause
    failed = [c["check"] for c in result["checks"] if not c["ok"]]
    assert len(failed) == 1


def test_the_best_fitting_record_is_used() -> None:
    stale = record(reference="OLD", valid_from=date(2025, 1, 1), valid_to=date(2025, 6, 30))
    fitting = record(reference="NEW", procedure_codes=("90834",))
    assert check_authorization(LINE, [stale, fitting])["record"] == "NEW"


def _receive(context: Context | None = None, **data: Any) -> Any:
    return apply_event(ev(received_doc(7, **data)), None, POLICY, context)


def test_an_authorization_denial_carries_the_checklist_result_and_replays_it() -> None:
    auth = ev(authorization_doc(location=None)).data
    rec = AuthRecord.from_row(type("Row", (), {**auth.model_dump(), "procedure_codes": "90837,90834"})())
    denial, steps = _receive(Context({("AETNA", "MBR-PHI-778899"): [rec]}))
    assert denial.category == "authorization"
    assert denial.auth_check["sub_cause"] == "auth_on_file_not_on_claim"
    assert steps[1].payload["auth_check"] == denial.auth_check
    # replay takes the recorded result: a later change to the records cannot rewrite history
    entries = [{"seq": i + 1, "event_id": "rcv", "event_type": "denial.received", "denial_id": denial.id,
                "trigger": s.trigger, "from_state": s.from_state, "to_state": s.to_state, "reason": s.reason,
                "payload": s.payload, "actor": "clearinghouse", "role": "system",
                "occurred_at": ev(received_doc(7)).occurred_at} for i, s in enumerate(steps)]  # fmt: skip
    denial.audit_seq = len(steps)
    report = replay(denial, entries)
    assert report.ok, report.mismatches


def test_without_a_record_an_authorization_denial_says_retro_auth() -> None:
    denial, _ = _receive()
    assert denial.auth_check["sub_cause"] == "no_authorization_on_file"


def test_other_categories_get_no_checklist() -> None:
    denial, steps = _receive(adjustments=[("CO", "16", "100.00")])
    assert denial.auth_check is None and "auth_check" not in steps[1].payload


def test_a_reversal_flags_the_denial_without_moving_it_even_when_closed() -> None:
    denial, _ = _receive()
    denial.state = "closed"
    reversal = event_doc("denial.reversed", received_id(received_doc(7)), ("clearinghouse", "system"), {
        "payer_id": "AETNA", "claim_control_number": "CCN000007", "lines": [0, 1], "reversed_amount": "-350.00",
        "remit_date": "2026-10-30"})  # fmt: skip
    flagged, steps = apply_event(ev(reversal), denial, POLICY)
    assert flagged.state == "closed" and steps[0].trigger == "note_reversal"
    assert flagged.outcome["reversal"]["reversed_amount"] == "-350.00"
    with pytest.raises(Rejected, match="requires role system"):
        apply_event(ev({**reversal, "actor": "x", "role": "staff"}), denial, POLICY)


def test_an_authorization_record_with_a_backwards_window_is_refused() -> None:
    with pytest.raises(Rejected) as refused:
        ev(authorization_doc(valid_from="2026-12-01", valid_to="2026-11-01"))
    assert "valid_to is before valid_from" in str(refused.value)
