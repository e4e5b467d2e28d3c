"""The stuck list and a team's queue, on SQLite and PostgreSQL, against a seeded set whose
answers are worked out here by hand."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from engine.read import queries
from engine.read.kpis import Filters
from engine.read.render import denial_json, denial_text
from engine.read.report import render
from engine.storage import store
from tests.factories import LEAD, event_doc, received_doc, received_id
from tests.store.batches import commit, inbound
from workflows.escalation import EscalationRules

RULES = EscalationRules()
TODAY = date(2026, 10, 20)  # receipts are 2026-10-01; next actions 10-08 unless moved


def _touch(denial_id: str, next_action: str, day: int) -> dict:
    return event_doc("denial.touched", denial_id, LEAD, {"note": "n", "next_action_date": next_action}, day)


def test_the_stuck_list_names_why_and_orders_by_dollars(engine: Engine) -> None:
    fresh = received_doc(1, adjustments=[("CO", "4", "100.00")], date_of_service="2026-09-25")  # past follow-up
    moving = received_doc(2, adjustments=[("CO", "4", "900.00")], date_of_service="2026-09-25")  # touched: fine
    unowned = received_doc(3, adjustments=[("CO", "42", "300.00")], date_of_service="2026-09-25")  # needs review
    deadline = received_doc(4, adjustments=[("CO", "4", "500.00")], date_of_service="2026-07-15",
                            remit_date="2026-07-20")  # corrected claim by 10-18  # fmt: skip
    touched3 = received_doc(5, adjustments=[("CO", "4", "700.00")], date_of_service="2026-09-25")  # escalated
    docs = {"fresh": fresh, "moving": moving, "unowned": unowned, "deadline": deadline, "touched3": touched3}
    ids = {name: received_id(doc) for name, doc in docs.items()}
    events = [fresh, moving, unowned, deadline, touched3, _touch(ids["moving"], "2026-10-30", 2),
              _touch(ids["deadline"], "2026-10-30", 2)]  # fmt: skip
    events += [_touch(ids["touched3"], "2026-10-30", day) for day in (2, 3, 4)]
    commit(engine, inbound(events))
    with engine.connect() as conn:
        items = queries.stuck(conn, TODAY, RULES)
        billing_only = queries.stuck(conn, TODAY, RULES, Filters(team="billing"))
    got = {i.id: i.reasons for i in items}
    assert got == {
        ids["touched3"]: ("escalated: touch_limit", "over the touch limit: 3 touches"),
        ids["deadline"]: ("filing deadline passed: 2026-10-18",),  # Aetna: 90 days from the remit, 07-20
        ids["unowned"]: ("past follow-up: next action was 2026-10-08",),  # needs review has a named reviewer
        ids["fresh"]: ("past follow-up: next action was 2026-10-08",),
    }
    assert [i.denied_cents for i in items] == [70_000, 50_000, 30_000, 10_000]
    assert billing_only == []  # coding denials go to the coding team, the deactivated code to review


def test_a_teams_queue_puts_priority_then_value_first(engine: Engine) -> None:
    docs = [received_doc(20 + i, adjustments=[("CO", "4", amount)], date_of_service="2026-09-25")
            for i, amount in enumerate(["90.00", "2000.00", "400.00", "1200.00"])]  # fmt: skip
    commit(engine, inbound(docs))
    with engine.connect() as conn:
        items = queries.queue(conn, "coding")
    assert [(i.priority, i.denied_cents) for i in items] == [
        ("high", 200_000), ("middle", 120_000), ("middle", 40_000), ("batch", 9_000)
    ]  # fmt: skip
    assert {i.owner for i in items} <= {"emery.coding", "finley.coding"}


def test_the_weekly_report_against_a_week_worked_out_by_hand(engine: Engine) -> None:
    # all receipts Thursday 2026-10-01 09:00; everything below happens before Monday 10-05
    d1 = received_doc(31, adjustments=[("CO", "4", "100.00")])
    d2 = received_doc(32, adjustments=[("CO", "197", "300.00")], payer_id="UHC")
    d3 = received_doc(33, adjustments=[("CO", "4", "50.00")])
    d4 = received_doc(34, adjustments=[("CO", "50", "400.00")])
    i1, i2, i4 = received_id(d1), received_id(d2), received_id(d4)
    system = ("clearinghouse", "system")
    cause = {"category": "prior_authorization", "handoff": "scheduling -> billing", "preventable": True,
             "prevention_owner": "front desk lead"}  # fmt: skip
    events = [d1, d2, d3, d4, _touch(i1, "2026-10-09", 1), _touch(i2, "2026-10-09", 1), _touch(i4, "2026-10-09", 1),
              event_doc("denial.appealed", i2, LEAD, {"appeal_reference": "APL-2"}, 2),
              event_doc("denial.appealed", i4, LEAD, {"appeal_reference": "APL-4"}, 2),
              event_doc("denial.payer_responded", i2, system, {"outcome": "overturned", "decision_reference": "D"}, 3),
              event_doc("denial.payer_responded", i4, system, {"outcome": "upheld"}, 3),
              event_doc("denial.closed", i2, LEAD, {"root_cause": cause, "evidence": {
                  "appeal_reference": "APL-2", "decision": "overturned"}}, 3),
              event_doc("denial.written_off", i4, LEAD, {"adjustment_type": "administrative", "amount": "400.00",
                                                         "reason": "upheld on appeal"}, 3)]  # fmt: skip
    # after the week: a receipt the week's aging and untouched count must not see
    events.append({**received_doc(35, adjustments=[("CO", "4", "75.00")]), "occurred_at": "2026-10-09T09:00:00+00:00"})
    result, _ = commit(engine, inbound(events))
    assert result.rejected == 0
    with engine.connect() as conn:
        report = queries.weekly_report(conn, date(2026, 9, 28), weeks=2)
        assert queries.weekly_report(conn, date(2026, 10, 1), weeks=2) == report  # Thursday: the same week
    assert report["new"]["by_payer"] == [{"key": "AETNA", "count": 3, "dollars": 550.0},
                                         {"key": "UHC", "count": 1, "dollars": 300.0}]  # fmt: skip
    assert [t["count"] for t in report["trend"]] == [0, 0, 4]
    assert report["top_reasons"]["this_week"] == [{"reason": "CO-4", "count": 2}, {"reason": "CO-197", "count": 1},
                                                  {"reason": "CO-50", "count": 1}]  # fmt: skip
    assert report["days_to_first_touch"] == 1.0  # d1, d2, d4 each touched a day after receipt
    assert (report["days_to_close"], report["touches_per_resolution"]) == (3.0, 1.0)  # d2 only
    assert report["appeal_overturn_rate"] == 0.5  # d2 overturned, d4 upheld
    assert report["write_offs_by_reason"] == [{"reason": "administrative", "count": 1, "dollars": 400.0}]
    assert report["share_preventable"] == 1.0
    assert report["never_touched"] == 1  # d3, at the week's end
    assert report["aging"][0] == {"bucket": "0-30", "count": 2, "dollars": 150.0}  # d1 and d3 open at the week's end
    text = render(report, "md")
    assert "| AETNA | 3 | $550.00 |" in text and "| administrative | 1 | $400.00 |" in text
    assert "## top reasons last week\n\nnone\n" in text and "| appeal overturn rate | 50.0% |" in text
    assert "top reasons last week,none,," in render(report, "csv")


def test_an_escalated_denial_still_shows_its_passed_deadline_first(engine: Engine) -> None:
    late = received_doc(6, adjustments=[("CO", "4", "500.00")], date_of_service="2026-07-15",
                        remit_date="2026-07-20")  # corrected claim by 10-18  # fmt: skip
    denial_id = received_id(late)
    commit(engine, inbound([late, *(_touch(denial_id, "2026-10-30", day) for day in (2, 3, 4))]))
    with engine.connect() as conn:
        stuck = queries.stuck(conn, TODAY, RULES)
        queue = queries.escalations(conn, datetime(2026, 10, 20, 9, tzinfo=UTC), RULES.cycle_days,
                                    RULES.deadline_lead_days)  # fmt: skip
        denial = store.get_denial(conn, denial_id)
        entries = store.history(conn, denial_id)
    assert stuck[0].reasons[:2] == ("filing deadline passed: 2026-10-18", "escalated: touch_limit")
    assert queue[0].deadlines == ["filing deadline passed: 2026-10-18"]
    text = denial_text(denial, entries, TODAY)
    assert text.splitlines()[1] == "  !! filing deadline passed: 2026-10-18"
    assert denial_json(denial, entries, TODAY)["deadline_alerts"] == ["filing deadline passed: 2026-10-18"]
    # escalated, it waits only on the leadership flag: 91 days after receipt
    leadership = denial.received_at + timedelta(days=RULES.leadership_days)
    expected = {"rule": "leadership", "due_at": leadership.isoformat(), "fired": False}
    assert denial_json(denial, entries, TODAY)["next_timer"] == expected
    assert f"  next timer leadership at {leadership:%Y-%m-%d %H:%M} UTC" in text.splitlines()
