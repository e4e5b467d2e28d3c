"""The dashboard's numbers on SQLite and PostgreSQL, against a seeded set whose answers are
worked out here by hand from the seed (not from the engine's own queries).

Range: the three weeks from Monday 2026-09-28 (exclusive end 10-19); today 2026-10-20.
All receipts at 09:00 UTC; dates of service five days before receipt (deadlines far off,
except E's filing deadline and C's retro-authorization window, noted below).
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from engine.read import queries
from engine.read.kpis import Filters, Scope
from tests.factories import LEAD, SYSTEM, event_doc, received_doc, received_id
from tests.store.batches import commit, inbound
from workflows.escalation import EscalationRules

TODAY = date(2026, 10, 20)
SCOPE = Scope(date(2026, 9, 28), date(2026, 10, 19))
RULES = EscalationRules()

#: name: (payer, CARC, dollars, received, site) -> category / team from carc_categories.csv
SEED = {
    "a": ("AETNA", "4", "100.00", date(2026, 9, 29), "Main"),  # coding; appealed, overturned, closed
    "b": ("AETNA", "4", "200.00", date(2026, 10, 6), "North"),  # coding; touched once
    "c": ("UHC", "197", "300.00", date(2026, 10, 6), "Main"),  # authorization; untouched
    "d": ("UHC", "50", "400.00", date(2026, 10, 13), "Main"),  # documentation -> clinical team; untouched
    "e": ("AETNA", "4", "500.00", date(2026, 8, 3), "Main"),  # coding, before the range; three touches
    "f": ("AETNA", "16", "60.00", date(2026, 10, 7), "North"),  # claim_data; upheld, written off, closed
    "g": ("AETNA", "4", "70.00", date(2026, 10, 14), "North"),  # coding; untouched
}


def _at(day: date, hours: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hours, tzinfo=UTC)


def _receipt(n: int, name: str) -> dict[str, Any]:
    payer, carc, amount, received, site = SEED[name]
    doc = received_doc(700 + n, adjustments=[("CO", carc, amount)], payer_id=payer, site=site,
                       date_of_service=(received - timedelta(days=5)).isoformat(),
                       remit_date=(received - timedelta(days=1)).isoformat())  # fmt: skip
    doc["occurred_at"] = _at(received).isoformat()
    return doc


def _event(type_: str, denial_id: str, actor: tuple[str, str], data: dict[str, Any], when: datetime) -> dict:
    doc = event_doc(type_, denial_id, actor, data)
    doc["occurred_at"] = when.isoformat()
    return doc


def _seed(engine: Engine) -> dict[str, str]:
    docs = {name: _receipt(n, name) for n, name in enumerate(SEED)}
    ids = {name: received_id(doc) for name, doc in docs.items()}

    def touch(name: str, when: datetime) -> dict[str, Any]:
        return _event("denial.touched", ids[name], LEAD, {"note": "called", "next_action_date": "2026-10-25"}, when)

    a, f = _at(date(2026, 9, 29)), _at(date(2026, 10, 7))
    cause = {"category": "coding", "handoff": "coder -> billing", "preventable": True,
             "prevention_owner": "coding lead"}  # fmt: skip
    events = [
        *docs.values(),
        touch("a", a + timedelta(days=1)),
        _event("denial.appealed", ids["a"], LEAD, {"appeal_reference": "APL-A"}, a + timedelta(days=2)),
        _event("denial.payer_responded", ids["a"], SYSTEM, {"outcome": "overturned"}, a + timedelta(days=3)),
        _event("denial.closed", ids["a"], LEAD, {"root_cause": cause, "evidence": {"appeal_reference": "APL-A",
               "decision": "overturned"}}, a + timedelta(days=4)),
        touch("b", _at(date(2026, 10, 8))),
        *(touch("e", _at(date(2026, 8, 5 + i))) for i in range(3)),
        touch("f", f + timedelta(days=1)),
        _event("denial.appealed", ids["f"], LEAD, {"appeal_reference": "APL-F"}, f + timedelta(days=2)),
        _event("denial.payer_responded", ids["f"], SYSTEM, {"outcome": "upheld"}, f + timedelta(days=3)),
        _event("denial.written_off", ids["f"], LEAD, {"adjustment_type": "small_balance", "amount": "60.00",
               "reason": "under the small-balance threshold"}, f + timedelta(days=5)),
        _event("denial.closed", ids["f"], LEAD, {"root_cause": {**cause, "category": "payer_error",
               "preventable": False}, "evidence": {"approver": LEAD[0], "reason": "small balance"}},
               f + timedelta(days=6)),
    ]  # fmt: skip
    result, _ = commit(engine, inbound(events))
    assert result.rejected == 0
    return ids


def test_the_dashboard_against_a_seed_worked_out_by_hand(engine: Engine) -> None:
    ids = _seed(engine)
    data = queries.dashboard(engine, SCOPE, TODAY, RULES)
    with engine.connect() as conn:
        all_stuck = queries.stuck(conn, TODAY, RULES)
    # open: b, c, d, e, g (a and f are closed); e escalated on its third touch; c, d, g never touched
    assert data["open"] == {"count": 5, "dollars": 1470.0, "escalated": 1, "never_touched": 3,
                            "payer_limits_unknown": 0}  # both payers have a profile  # fmt: skip
    teams: dict[str, list[float]] = {}
    for row in data["open_by_owner"]:
        teams.setdefault(row["team"], [0, 0.0])
        teams[row["team"]][0] += row["count"]
        teams[row["team"]][1] += row["dollars"]
    assert teams == {"coding": [3, 770.0], "authorization": [1, 300.0], "clinical": [1, 400.0]}
    # aging at 10-20: b, c 14 days, d 7, g 6 -> 0-30; e 78 days -> 61-90
    assert data["aging"] == [{"bucket": "0-30", "count": 4, "dollars": 970.0},
                             {"bucket": "31-60", "count": 0, "dollars": 0.0},
                             {"bucket": "61-90", "count": 1, "dollars": 500.0},
                             {"bucket": "90+", "count": 0, "dollars": 0.0}]  # fmt: skip
    # stuck: e (escalated, 3 touches) and c (next action 10-13 passed; retro-auth 10-01+14 = 10-15 passed)
    assert {i["id"] for i in data["stuck"]["items"]} == {ids["e"], ids["c"]} == {i.id for i in all_stuck}
    assert (data["stuck"]["count"], data["stuck"]["dollars"]) == (2, 800.0)
    by_payer = {(r["week"], r["key"]): r["count"] for r in data["trend"]["by_payer"]}
    assert by_payer == {("2026-09-28", "AETNA"): 1, ("2026-10-05", "AETNA"): 2, ("2026-10-05", "UHC"): 1,
                        ("2026-10-12", "AETNA"): 1, ("2026-10-12", "UHC"): 1}  # fmt: skip
    by_category = {(r["week"], r["key"]): r["count"] for r in data["trend"]["by_category"]}
    assert by_category == {("2026-09-28", "coding"): 1, ("2026-10-05", "coding"): 1,
                           ("2026-10-05", "authorization"): 1, ("2026-10-05", "claim_data"): 1,
                           ("2026-10-12", "coding"): 1, ("2026-10-12", "documentation"): 1}  # fmt: skip
    assert [[r["reason"] for r in w["reasons"]] for w in data["reasons"]["weeks"]] == [
        ["CO-4"], ["CO-16", "CO-197", "CO-4"], ["CO-4", "CO-50"]]  # fmt: skip
    assert data["reasons"]["recurring"] == ["CO-4"]
    # first touch: a 1 day, b 2 days, f 1 day (e was received before the range) -> 4/3
    # closed in range: a after 4 days (1 touch, preventable), f after 6 days (1 touch, not)
    assert data["flow"] == {"days_to_first_touch": 1.33, "days_to_close": 5.0, "closed": 2,
                            "touches_per_resolution": 1.0, "share_preventable": 0.5}  # fmt: skip
    assert data["payer_answers"] == {"appeal_overturn_rate": 0.5, "appeals_answered": 2,
                                     "write_offs_by_reason": [{"reason": "small_balance", "count": 1,
                                                               "dollars": 60.0}]}  # fmt: skip


def test_the_dashboard_filters_narrow_every_figure(engine: Engine) -> None:
    ids = _seed(engine)
    uhc = queries.dashboard(engine, Scope(SCOPE.start, SCOPE.end, Filters(payer="UHC")), TODAY, RULES)
    north = queries.dashboard(engine, Scope(SCOPE.start, SCOPE.end, Filters(site="North")), TODAY, RULES)
    coding = queries.dashboard(engine, Scope(SCOPE.start, SCOPE.end, Filters(team="coding")), TODAY, RULES)
    last_week = queries.dashboard(engine, Scope(date(2026, 10, 12), date(2026, 10, 19)), TODAY, RULES)
    assert uhc["open"] == {"count": 2, "dollars": 700.0, "escalated": 0, "never_touched": 2,
                           "payer_limits_unknown": 0}  # c, d  # fmt: skip
    assert [i["id"] for i in uhc["stuck"]["items"]] == [ids["c"]]
    assert uhc["flow"]["closed"] == 0 and uhc["flow"]["days_to_first_touch"] is None
    assert uhc["payer_answers"]["appeal_overturn_rate"] is None
    assert north["open"]["count"] == 2 and north["open"]["dollars"] == 270.0  # b, g
    assert north["payer_answers"]["write_offs_by_reason"][0]["dollars"] == 60.0  # f is a North denial
    assert coding["open"] == {"count": 3, "dollars": 770.0, "escalated": 1, "never_touched": 1,
                              "payer_limits_unknown": 0}  # b, e, g  # fmt: skip
    assert [i["id"] for i in coding["stuck"]["items"]] == [ids["e"]]
    assert [r["key"] for r in last_week["new_by_category"]] == ["documentation", "coding"]  # d $400, g $70
    assert last_week["flow"]["closed"] == 1 and last_week["flow"]["days_to_close"] == 6.0  # f closed 10-13
