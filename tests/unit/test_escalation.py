"""Escalation rules on the pure workflow: which timers a denial wants, and when."""

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from engine.errors import Rejected
from tests.factories import LEAD, ev, event_doc, received_doc, received_id, touch
from workflows.apply import apply_event
from workflows.escalation import EscalationRules, aging_bucket, desired_timers
from workflows.policy import LivePolicy
from workflows.routing import Routing

POLICY = LivePolicy(Routing.load())
RULES = EscalationRules()
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def denial(**changes: Any) -> SimpleNamespace:
    fields = {"state": "assigned", "received_at": T0, "owner": "o", "next_action_date": date(2026, 10, 8),
              "touches": 0, "denied_cents": 35_000, "filing_deadline": date(2026, 12, 9),
              "appeal_deadline": date(2027, 3, 29), "retro_auth_deadline": None, **changes}  # fmt: skip
    return SimpleNamespace(**fields)


def due(d: SimpleNamespace) -> dict[str, str]:
    return {rule: at.isoformat() for rule, (at, _) in desired_timers(d, RULES).items()}


def test_an_assigned_denial_wants_follow_up_aging_leadership_and_its_deadlines() -> None:
    assert due(denial()) == {
        "follow_up": "2026-10-09T00:00:00+00:00",  # the day after the next-action date
        "aging": "2026-12-01T09:00:00+00:00",  # 61 days: into the 61-90 bucket
        "leadership": "2026-12-31T09:00:00+00:00",  # 91 days: 90+
        "filing_deadline": "2026-11-25T00:00:00+00:00",  # 14 days before the deadline
        "appeal_deadline": "2027-03-15T00:00:00+00:00",
    }


def test_no_owner_means_an_ownership_timer_instead_of_follow_up() -> None:
    wanted = due(denial(state="classified", owner=None, next_action_date=None))
    assert wanted["ownership"] == "2026-10-08T09:00:00+00:00" and "follow_up" not in wanted


def test_a_sub_100_item_with_no_progress_is_a_soft_write_off_candidate_after_a_cycle() -> None:
    assert due(denial(denied_cents=4_500))["soft_write_off"] == "2026-10-08T09:00:00+00:00"
    assert "soft_write_off" not in due(denial(denied_cents=4_500, touches=1))


def test_a_deadline_already_inside_the_lead_time_is_due_at_once() -> None:
    assert due(denial(filing_deadline=date(2026, 10, 5)))["filing_deadline"] == T0.isoformat()


OPEN_ONLY = [("escalated", {"leadership"}), ("appealed", {"leadership"}), ("resolved", set()),
             ("written_off", set()), ("closed", set())]  # fmt: skip


@pytest.mark.parametrize(("state", "rules"), OPEN_ONLY)
def test_only_open_work_escalates_and_resolved_work_has_no_timers(state: str, rules: set[str]) -> None:
    assert set(due(denial(state=state))) == rules


@pytest.mark.parametrize(("days", "bucket"), [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"),
                                              (61, "61-90"), (90, "61-90"), (91, "90+"), (400, "90+")])  # fmt: skip
def test_aging_buckets(days: int, bucket: str) -> None:
    assert aging_bucket(date(2026, 1, 1), date.fromordinal(date(2026, 1, 1).toordinal() + days)) == bucket


def _received() -> tuple[str, SimpleNamespace]:
    doc = received_doc(90, adjustments=[("CO", "4", "350.00")])
    return received_id(doc), apply_event(ev(doc), None, POLICY)[0]


def test_the_touch_that_makes_it_three_escalates_at_once() -> None:
    denial_id, d = _received()
    for day in (1, 2):
        d, steps = apply_event(ev(touch(denial_id, d.owner, day)), d, POLICY)
        assert [s.trigger for s in steps] == ["touch"]
    d, steps = apply_event(ev(touch(denial_id, d.owner, 3)), d, POLICY)
    assert [(s.trigger, s.to_state, s.reason) for s in steps] == [("touch", "worked", None),
                                                                  ("escalate", "escalated", "touch_limit")]  # fmt: skip
    assert steps[1].payload == {"rule": "touch_limit", "detail": {"touches": 3}}
    assert d.outcome["escalation"]["rule"] == "touch_limit"


def test_a_fired_timer_escalates_naming_its_rule_and_figures() -> None:
    denial_id, d = _received()
    fired = event_doc("denial.timer_fired", denial_id, ("timer-service", "system"), {
        "rule": "follow_up", "generation": 1, "due_at": "2026-10-09T00:00:00+00:00",
        "detail": {"next_action_date": "2026-10-08", "touches": 0}})  # fmt: skip
    d, steps = apply_event(ev(fired), d, POLICY)
    assert (d.state, steps[0].reason, steps[0].payload["detail"]["next_action_date"]) == (
        "escalated", "follow_up", "2026-10-08")  # fmt: skip
    flag = {**fired, "event_id": "f2", "data": {**fired["data"], "rule": "leadership", "detail": {"age_days": 91}}}
    d, steps = apply_event(ev(flag), d, POLICY)
    assert (d.state, steps[0].trigger, steps[0].from_state, steps[0].to_state) == (
        "escalated", "flag", "escalated", "escalated")  # fmt: skip
    assert "leadership" in d.outcome["flags"]


def test_past_the_deadline_staff_are_refused_and_a_lead_overrides_with_a_reason() -> None:
    denial_id, d = _received()
    d.state, d.owner = "worked", "o.staff"
    late = {"appeal_reference": "APL-1"}
    doc = event_doc("denial.appealed", denial_id, ("o.staff", "staff"), late, day=400)  # after the appeal deadline
    with pytest.raises(Rejected) as refused:
        apply_event(ev(doc), d, POLICY)
    assert refused.value.code == "guard.past_appeal_deadline" and "2027-03-29" in refused.value.message
    staff_override = event_doc("denial.appealed", denial_id, ("o.staff", "staff"),
                               {**late, "override_reason": "payer agreed on the phone"}, day=400)  # fmt: skip
    with pytest.raises(Rejected, match="a lead may override"):
        apply_event(ev(staff_override), d, POLICY)
    lead = event_doc("denial.appealed", denial_id, LEAD, {**late, "override_reason": "payer agreed, ref 55"}, day=400)
    d, steps = apply_event(ev(lead), d, POLICY)
    assert d.state == "appealed"
    assert steps[0].reason == "appeal level 1; past the appeal deadline 2027-03-29, lead override: payer agreed, ref 55"


def test_a_payer_extension_moves_the_deadline() -> None:
    denial_id, d = _received()
    data = {"deadline": "filing", "until": "2027-02-28", "reason": "payer extension", "reference": "X1"}
    ext = event_doc("denial.deadline_extended", denial_id, LEAD, data)
    d, steps = apply_event(ev(ext), d, POLICY)
    assert d.filing_deadline == date(2027, 2, 28)
    assert steps[0].trigger == "extend_deadline" and steps[0].from_state == steps[0].to_state
    assert due(d)["filing_deadline"] == "2027-02-14T00:00:00+00:00"
