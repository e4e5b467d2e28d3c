"""The one timer a denial waits on (pure): the soonest rule its state wants and has not fired
for that moment, a new generation whenever it moves, and the fired moments remembered."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from engine.runtime.denial_timer import is_current, mark_fired, rearm
from workflows.escalation import EscalationRules, desired_timers, next_timer

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
RULES = EscalationRules()


def received(**changes: Any) -> SimpleNamespace:
    """A denial as the workflow hands it over on receipt: no timer armed, none fired."""
    fields = {"state": "assigned", "received_at": T0, "owner": "o", "next_action_date": date(2026, 10, 8),
              "touches": 0, "denied_cents": 35_000, "filing_deadline": date(2026, 12, 9),
              "appeal_deadline": date(2027, 3, 29), "retro_auth_deadline": None, "timer_rule": None,
              "timer_due_at": None, "timer_generation": 0, "timer_detail": None, "timer_fired_at": None,
              "timers_fired": {}, **changes}  # fmt: skip
    return SimpleNamespace(**fields)


def test_the_soonest_rule_is_the_timer_and_a_flag_due_with_an_escalation_goes_first() -> None:
    at = T0 + timedelta(days=7)
    wanted = {"ownership": (at, {"days_without_owner": 7}), "soft_write_off": (at, {"cycle_days": 7}),
              "aging": (T0 + timedelta(days=61), {})}  # fmt: skip
    assert next_timer(wanted, {}) == ("soft_write_off", at, {"cycle_days": 7})
    assert next_timer(wanted, {"soft_write_off": at.isoformat()}) == ("ownership", at, {"days_without_owner": 7})
    assert next_timer({}, {}) is None


def test_a_rule_fired_for_a_moment_is_wanted_again_only_for_another_moment() -> None:
    at = T0 + timedelta(days=61)
    fired = {"aging": at.astimezone(UTC).isoformat()}
    assert next_timer({"aging": (at, {})}, fired) is None
    later = at + timedelta(days=1)
    assert next_timer({"aging": (later, {})}, fired) == ("aging", later, {})


def test_a_received_denial_waits_on_its_follow_up_and_a_touch_moves_it_to_a_new_generation() -> None:
    d = received()
    rearm(d, desired_timers(d, RULES))
    assert (d.timer_rule, d.timer_due_at, d.timer_generation) == ("follow_up", datetime(2026, 10, 9, tzinfo=UTC), 1)
    rearm(d, desired_timers(d, RULES))  # nothing moved: the same generation, a fire in flight stays valid
    assert d.timer_generation == 1 and is_current(d, "follow_up", 1)
    d.next_action_date, d.touches = date(2026, 10, 20), 1
    rearm(d, desired_timers(d, RULES))
    assert (d.timer_rule, d.timer_generation) == ("follow_up", 2)
    assert not is_current(d, "follow_up", 1)  # the old fire event is stale


def test_once_fired_the_next_timer_is_taken_and_the_fired_mark_is_cleared() -> None:
    d = received(denied_cents=5_000, next_action_date=None)  # small and no next action: soft write-off first
    rearm(d, desired_timers(d, RULES))
    assert d.timer_rule == "soft_write_off"
    d.timer_fired_at = T0 + timedelta(days=7)  # the timer service marked it
    mark_fired(d)
    rearm(d, desired_timers(d, RULES))
    assert d.timers_fired == {"soft_write_off": "2026-10-08T09:00:00+00:00"}
    assert (d.timer_rule, d.timer_generation, d.timer_fired_at) == ("filing_deadline", 2, None)
    d.state = "closed"
    rearm(d, desired_timers(d, RULES))
    assert (d.timer_rule, d.timer_due_at, d.timer_generation) == (None, None, 3)
    assert not is_current(None, "aging", 1)
