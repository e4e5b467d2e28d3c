"""Every path to `closed` and every refusal, on the pure workflow (no I/O)."""

from types import SimpleNamespace
from typing import Any

import pytest

from engine.errors import Rejected
from tests.factories import LEAD, SYSTEM, ev, event_doc, later_remit, received_doc, received_id, touch
from workflows.apply import apply_event
from workflows.policy import LivePolicy
from workflows.routing import Routing

POLICY = LivePolicy(Routing.load())
PAID_EVIDENCE = {"payment_trace": "TRN1", "paid_amount": "350.00"}
CAUSE = {"category": "prior_authorization", "handoff": "scheduling -> billing", "preventable": True,
         "prevention_owner": "front desk lead"}  # fmt: skip


class Flow:
    """One denial driven event by event, the way the processor does it."""

    def __init__(self, **received: Any) -> None:
        self.doc = doc = received_doc(**received)
        self.id = received_id(doc)
        self.denial, steps = apply_event(ev(doc), None, POLICY)
        self.triggers = [s.trigger for s in steps]

    @property
    def owner(self) -> str:
        return self.denial.owner

    def send(self, type_: str, actor: tuple[str, str], data: dict[str, Any] | None = None) -> "Flow":
        self.denial, steps = apply_event(ev(event_doc(type_, self.id, actor, data or {})), self.denial, POLICY)
        self.triggers += [s.trigger for s in steps]
        return self

    def touch(self) -> "Flow":
        self.denial, steps = apply_event(ev(touch(self.id, self.owner)), self.denial, POLICY)
        self.triggers += [s.trigger for s in steps]
        return self

    def staff(self) -> tuple[str, str]:
        return (self.owner, "staff")

    def refused(self, type_: str, actor: tuple[str, str], data: dict[str, Any] | None = None) -> Rejected:
        before = vars(self.denial).copy()
        with pytest.raises(Rejected) as err:
            self.send(type_, actor, data)
        assert vars(self.denial) == before, "a refused event must change nothing"
        return err.value


def closed(flow: Flow, evidence: dict[str, Any], cause: dict[str, Any] = CAUSE) -> Flow:
    flow.send("denial.closed", flow.staff(), {"root_cause": cause, "evidence": evidence})
    assert flow.denial.state == "closed"
    return flow


def test_receipt_classifies_and_assigns_automatically() -> None:
    f = Flow()
    assert f.triggers == ["receive", "classify", "assign"]
    d = f.denial
    assert (d.state, d.category, d.team, d.liability, d.primary_reason) == (
        "assigned", "authorization", "authorization", "provider", "197"
    )  # fmt: skip
    assert d.owner in {"avery.auth", "blake.auth"} and d.next_action_date is not None
    # $350 is the middle layer; Aetna's 14-day retro-auth window closed before receipt, which
    # lifts nothing (a lead decides it); the corrected-claim window (remit + 90) is 89 days off
    assert d.denied_cents == 35000 and d.priority == "middle"
    assert d.retro_auth_deadline.isoformat() == "2026-09-24"


def test_unknown_code_goes_to_the_named_reviewer_and_a_lead_can_reassign_it() -> None:
    f = Flow(adjustments=[("CO", "ZZ9", "80.00")])
    assert (f.denial.state, f.denial.team, f.denial.owner, f.denial.priority) == (
        "assigned", "needs_review", "rowan.review", "batch"
    )  # fmt: skip
    f.send("denial.reassigned", LEAD, {"owner": "harper.billing", "reason": "a claim data edit"})
    assert (f.denial.state, f.owner) == ("assigned", "harper.billing")


def test_path_resubmitted_paid_closed() -> None:
    f = Flow().touch().send("denial.resubmitted", ("x", "lead"), {"claim_reference": "CORR1"})
    f.send("denial.payer_responded", SYSTEM, {"outcome": "paid", "payment_trace": "TRN1", "paid_amount": "350.00"})
    assert (f.denial.state, f.denial.resolution) == ("resolved", "paid")
    closed(f, PAID_EVIDENCE)
    assert f.triggers[3:] == ["touch", "resubmit", "resolve", "close"]
    assert f.denial.root_cause["category"] == "prior_authorization"


def test_path_appeal_overturned_closed() -> None:
    f = Flow().touch()
    f.send("denial.appealed", f.staff(), {"appeal_reference": "APL-9"})
    f.send("denial.payer_responded", SYSTEM, {"outcome": "overturned", "decision_reference": "DEC-1"})
    closed(f, {"appeal_reference": "APL-9", "decision": "overturned"})


def test_path_appeal_upheld_second_level_then_write_off() -> None:
    f = Flow().touch()
    f.send("denial.appealed", f.staff(), {"appeal_reference": "APL-1"})
    f.send("denial.payer_responded", SYSTEM, {"outcome": "upheld"})
    assert f.denial.state == "worked"
    f.send("denial.appealed", f.staff(), {"appeal_reference": "APL-2", "level": 2})
    f.send("denial.payer_responded", SYSTEM, {"outcome": "upheld"})
    f.send("denial.written_off", LEAD, {"adjustment_type": "administrative", "amount": "350.00", "reason": "upheld"})
    closed(f, {"approver": LEAD[0], "reason": "upheld twice"})
    assert f.denial.outcome["write_off"]["approver"] == LEAD[0]


def test_path_escalated_then_each_exit() -> None:
    # write-off approved by the lead
    f = Flow().touch().send("denial.escalated", SYSTEM, {"rule": "touch_limit", "detail": {"touches": 3}})
    f.send("denial.written_off", LEAD, {"adjustment_type": "small_balance", "amount": "20.00", "reason": "small"})
    closed(f, {"approver": LEAD[0], "reason": "small"}, {**CAUSE, "category": "payer_error", "preventable": False})
    # appeal filed by the lead
    g = Flow(claim_control_number="X2").send("denial.escalated", LEAD, {"rule": "aging"})
    g.send("denial.appealed", LEAD, {"appeal_reference": "APL-L"})
    g.send("denial.payer_responded", SYSTEM, {"outcome": "overturned"})
    closed(g, {"appeal_reference": "APL-L", "decision": "overturned"})
    # reassigned, then worked to payment
    h = Flow(claim_control_number="X3").send("denial.escalated", SYSTEM, {"rule": "ownership"})
    h.send("denial.reassigned", LEAD, {"owner": "indy.billing", "reason": "rebalance"})
    assert (h.denial.state, h.owner) == ("assigned", "indy.billing")
    h.touch().send("denial.resubmitted", h.staff(), {"claim_reference": "C"})
    h.send("denial.payer_responded", SYSTEM, {"outcome": "paid"})
    closed(h, PAID_EVIDENCE)


def test_reopen_by_a_lead_then_close_again() -> None:
    f = Flow().touch().send("denial.resubmitted", ("lena.lead", "lead"), {"claim_reference": "C"})
    f.send("denial.payer_responded", SYSTEM, {"outcome": "paid"})
    closed(f, PAID_EVIDENCE)
    f.send("denial.reopened", LEAD, {"reason": "payer recouped the payment"})
    assert (f.denial.state, f.denial.resolution, f.denial.root_cause) == ("assigned", None, None)
    f.touch().send("denial.written_off", LEAD, {"adjustment_type": "bad_debt", "amount": "350.00", "reason": "r"})
    closed(f, {"approver": LEAD[0], "reason": "r"})


@pytest.fixture
def worked() -> Flow:
    return Flow().touch()


def test_touch_by_someone_else_is_refused(worked: Flow) -> None:
    err = worked.refused("denial.touched", ("mallory", "staff"), {"note": "n", "next_action_date": "2026-11-01"})
    assert err.code == "guard.touched_requires_owner_or_lead"


def test_write_off_needs_a_lead(worked: Flow) -> None:
    data = {"adjustment_type": "administrative", "amount": "1.00", "reason": "r"}
    assert worked.refused("denial.written_off", worked.staff(), data).code == "guard.written_off_requires_lead"


def test_auditors_never_write(worked: Flow) -> None:
    err = worked.refused("denial.touched", ("aud", "auditor"), {"note": "n", "next_action_date": "2026-11-01"})
    assert err.code == "guard.auditor_is_read_only"


def test_invalid_transition_names_trigger_and_state(worked: Flow) -> None:
    err = worked.refused("denial.closed", LEAD, {"root_cause": CAUSE, "evidence": PAID_EVIDENCE})
    assert err.code == "workflow.invalid_transition"
    assert "'close'" in err.message and "'worked'" in err.message
    err = Flow(claim_control_number="Y").refused("denial.resubmitted", LEAD, {"claim_reference": "C"})
    assert "'resubmit'" in err.message and "'assigned'" in err.message


@pytest.fixture
def resolved_paid(worked: Flow) -> Flow:
    worked.send("denial.resubmitted", worked.staff(), {"claim_reference": "C"})
    return worked.send("denial.payer_responded", SYSTEM, {"outcome": "paid"})


@pytest.mark.parametrize(
    ("cause", "evidence", "code", "field"),
    [
        (CAUSE, {"paid_amount": "1.00"}, "guard.close_requires_evidence", "data.evidence.payment_trace"),
        (CAUSE, {"icn": "ICN1"}, "guard.close_requires_evidence", "data.evidence.paid_amount"),
        ({**CAUSE, "category": "payer_error"}, PAID_EVIDENCE, "guard.close_payer_error_not_preventable", None),
        ({**CAUSE, "prevention_owner": None}, PAID_EVIDENCE, "guard.close_preventable_needs_prevention_owner", None),
    ],
)
def test_close_needs_root_cause_and_matching_evidence(
    resolved_paid: Flow, cause: dict[str, Any], evidence: dict[str, Any], code: str, field: str | None
) -> None:
    err = resolved_paid.refused("denial.closed", resolved_paid.staff(), {"root_cause": cause, "evidence": evidence})
    assert err.code == code
    if field:
        assert err.field == field


def test_close_with_a_cause_outside_the_taxonomy_is_a_schema_error(resolved_paid: Flow) -> None:
    data = {"root_cause": {**CAUSE, "category": "bad_luck"}, "evidence": PAID_EVIDENCE}
    with pytest.raises(Rejected) as err:
        ev(event_doc("denial.closed", resolved_paid.id, LEAD, data))
    assert err.value.field == "data.root_cause.category"


def test_write_off_evidence_must_name_the_approving_lead(worked: Flow) -> None:
    worked.send("denial.written_off", LEAD, {"adjustment_type": "administrative", "amount": "1.00", "reason": "r"})
    err = worked.refused(
        "denial.closed", LEAD, {"root_cause": CAUSE, "evidence": {"approver": "someone", "reason": "r"}}
    )
    assert (err.code, err.field) == ("guard.close_evidence_mismatch", "data.evidence.approver")


def test_closed_denial_refuses_everything_but_a_lead_reopen(resolved_paid: Flow) -> None:
    closed(resolved_paid, PAID_EVIDENCE)
    err = resolved_paid.refused("denial.appealed", LEAD, {"appeal_reference": "A"})
    assert err.code == "guard.closed_is_final"
    assert resolved_paid.refused("denial.reopened", resolved_paid.staff(), {"reason": "r"}).code.startswith(
        "guard.reopened_requires_lead"
    )
    with pytest.raises(Rejected) as no_reason:
        ev(event_doc("denial.reopened", resolved_paid.id, LEAD, {"reason": " "}))
    assert no_reason.value.field == "data.reason"


def test_escalated_appeal_is_filed_by_a_lead_not_staff(worked: Flow) -> None:
    worked.send("denial.escalated", SYSTEM, {"rule": "touch_limit"})
    err = worked.refused("denial.appealed", worked.staff(), {"appeal_reference": "A"})
    assert err.code == "guard.escalated_appeal_requires_lead"


def later(f: Flow, kind: str, paid: str, adjustments: list[tuple[str, str, str]] | None = None) -> list[str]:
    f.denial, steps = apply_event(ev(later_remit(f.doc, kind, paid, adjustments)), f.denial, POLICY)
    return [s.trigger for s in steps]


def test_a_later_payment_resolves_the_denial_with_the_payment_as_evidence() -> None:
    f = Flow().touch()
    f.send("denial.resubmitted", f.staff(), {"claim_reference": "CORR1"})
    assert later(f, "denial.paid", "350.00") == ["settle"]
    assert (f.denial.state, f.denial.resolution) == ("resolved", "paid")
    answer = f.denial.outcome["payer_response"]
    assert (answer["payment_trace"], answer["icn"], answer["paid_amount"]) == ("TRN-LATER", "CCN000001-R", "350.00")
    closed(f, {"payment_trace": "TRN-LATER", "paid_amount": "350.00"})


def test_a_payment_resolves_a_denial_nobody_worked_yet() -> None:
    f = Flow()
    assert later(f, "denial.paid", "350.00") == ["settle"] and f.denial.state == "resolved"


def test_denied_again_is_upheld_back_to_worked_keeping_owner_and_touches() -> None:
    f = Flow().touch()
    owner = f.owner
    f.send("denial.appealed", f.staff(), {"appeal_reference": "APL-1"})
    assert later(f, "denial.received", "0.00", [("CO", "50", "350.00")]) == ["uphold"]
    assert (f.denial.state, f.denial.owner, f.denial.touches) == ("worked", owner, 1)
    assert f.denial.outcome["remittances"][-1]["reasons"] == ["CO-50"]


def test_a_partial_payment_is_recorded_and_the_rest_stays_open() -> None:
    f = Flow().touch()
    assert later(f, "denial.received", "100.00", [("CO", "197", "250.00")]) == ["note_remit"]
    assert f.denial.state == "worked"
    assert f.denial.outcome["remittances"][-1] | {"outcome": "partial", "paid_amount": "100.00"} == (
        f.denial.outcome["remittances"][-1]
    )  # fmt: skip


def test_a_payment_after_a_write_off_is_recorded_without_moving_the_denial() -> None:
    f = Flow().touch()
    f.send("denial.written_off", LEAD, {"adjustment_type": "administrative", "amount": "350.00", "reason": "old"})
    closed(f, {"approver": LEAD[0], "reason": "old"})
    assert later(f, "denial.paid", "350.00") == ["note_remit"] and f.denial.state == "closed"


def test_events_for_unknown_denials_are_refused() -> None:
    with pytest.raises(Rejected) as unknown:
        apply_event(ev(touch("f" * 32, "x")), None, POLICY)
    assert unknown.value.code == "workflow.unknown_denial"


def test_refusal_leaves_the_input_denial_object_untouched() -> None:
    f = Flow().touch()
    snapshot = SimpleNamespace(**vars(f.denial))
    with pytest.raises(Rejected):
        apply_event(ev(event_doc("denial.closed", f.id, LEAD, {"root_cause": CAUSE, "evidence": {}})), f.denial, POLICY)
    assert vars(f.denial) == vars(snapshot)


@pytest.mark.parametrize(
    ("amount", "extra", "code", "field"),
    [
        ("350.01", {}, "guard.amount_exceeds_open", "data.amount"),
        ("999999.99", {}, "guard.amount_exceeds_open", "data.amount"),
        ("0.00", {}, "guard.zero_write_off_needs_reason_code", "data.reason_code"),
    ],
)
def test_a_write_off_is_bounded_by_the_open_amount(amount: str, extra: dict[str, Any], code: str, field: str) -> None:
    f = Flow().touch()
    data = {"adjustment_type": "administrative", "amount": amount, "reason": "r", **extra}
    err = f.refused("denial.written_off", LEAD, data)
    assert (err.code, err.field) == (code, field)
    assert "$350.00" in err.message or code.startswith("guard.zero")


def test_a_zero_write_off_with_its_reason_code_and_the_whole_open_amount_apply() -> None:
    f = Flow().touch()
    f.send("denial.written_off", LEAD, {"adjustment_type": "administrative", "amount": "0", "reason": "r",
                                        "reason_code": "45"})  # fmt: skip
    assert f.denial.state == "written_off"
    g = Flow().touch()
    g.send("denial.written_off", LEAD, {"adjustment_type": "administrative", "amount": "350.00", "reason": "r"})
    assert g.denial.state == "written_off"


def test_a_partial_payment_lowers_what_may_be_written_off() -> None:
    f = Flow().touch()
    later(f, "denial.received", "100.00", [("CO", "197", "250.00")])
    err = f.refused("denial.written_off", LEAD, {"adjustment_type": "bad_debt", "amount": "250.01", "reason": "r"})
    assert (err.code, "$250.00" in err.message) == ("guard.amount_exceeds_open", True)
    f.send("denial.written_off", LEAD, {"adjustment_type": "bad_debt", "amount": "250.00", "reason": "r"})


def test_a_payer_answer_or_closing_evidence_cannot_claim_more_than_was_open() -> None:
    f = Flow().touch()
    f.send("denial.appealed", f.staff(), {"appeal_reference": "APL-1"})
    data = {"outcome": "paid", "payment_trace": "TRN1", "paid_amount": "1000000.00"}
    assert f.refused("denial.payer_responded", SYSTEM, data).field == "data.paid_amount"
    f.send("denial.payer_responded", SYSTEM, {"outcome": "paid", "payment_trace": "TRN1", "paid_amount": "350.00"})
    evidence = {"payment_trace": "TRN1", "paid_amount": "350.01"}
    err = f.refused("denial.closed", f.staff(), {"root_cause": CAUSE, "evidence": evidence})
    assert (err.code, err.field) == ("guard.amount_exceeds_open", "data.evidence.paid_amount")
