"""Escalation timers with the real broker and both databases: the timer service fires due
timers as events, the worker applies them; crashes and a second service change nothing."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine.audit.chain import verify
from engine.audit.replay import replay
from engine.clock import ManualClock
from engine.config import Settings
from engine.read import queries
from engine.runtime.timers import TIMER_PENDING, build_timer_service
from engine.storage import store
from engine.storage.db import make_engine
from tests.factories import LEAD, event_doc, received_doc, received_id
from tests.helpers import publish, read_topic, run_worker, settings_env


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def tick(settings: Settings, now: str) -> int:
    service = build_timer_service(settings, ManualClock(at(now)))
    try:
        return service.tick()
    finally:
        service.producer.close()
        service.engine.dispose()


def history(settings: Settings, denial_id: str) -> list[tuple[str, str | None]]:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        entries = store.history(conn, denial_id)
    engine.dispose()
    return [(e["trigger"], e["reason"]) for e in entries if e["trigger"] in ("escalate", "flag")]


def state(settings: Settings, denial_id: str) -> str:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        found = store.get_denial(conn, denial_id).state
    engine.dispose()
    return found


EXTENSION = {"deadline": "filing", "until": "2026-12-03", "reason": "payer extension"}


def _without_reviewers(settings: Settings, tmp_path: Path) -> Settings:
    """The packaged routing, but codes nobody can read wait for a lead to assign them."""
    routing = tmp_path / "routing.toml"
    packaged = (Path(__file__).parents[2] / "workflows/data/routing.toml").read_text()
    routing.write_text(packaged.replace('owners = ["rowan.review"]', "owners = []"))
    return settings.model_copy(update={"routing_file": routing})


def test_each_rule_fires_at_its_moment_and_not_before(settings: Settings, tmp_path: Path) -> None:
    settings = _without_reviewers(settings, tmp_path)
    docs = {
        "assigned": received_doc(1, adjustments=[("CO", "4", "350.00")]),  # follow-up due 10-09 00:00
        "unowned": received_doc(2, adjustments=[("CO", "Z9", "350.00")]),  # needs review: ownership 10-08 09:00
        "small": received_doc(3, adjustments=[("CO", "4", "50.00")]),  # soft write-off 10-08 09:00
        # a corrected claim within 90 days of the 09-01 remit: 11-30, extended to 12-03
        "extended": received_doc(
            4, adjustments=[("CO", "4", "350.00")], date_of_service="2026-08-20", remit_date="2026-09-01"
        ),
        "resolved": received_doc(5, adjustments=[("CO", "4", "350.00")]),
        # Medicare: a year to file, 120 days to appeal: aging (61 days: 12-01 09:00) comes first
        "aged": received_doc(6, adjustments=[("CO", "4", "350.00")], payer_id="MEDICARE-JL"),
    }
    ids = {name: received_id(doc) for name, doc in docs.items()}
    follow_ups = [
        event_doc("denial.touched", ids["extended"], LEAD, {"note": "n", "next_action_date": "2027-06-01"}),
        event_doc("denial.deadline_extended", ids["extended"], LEAD, EXTENSION),
        event_doc("denial.touched", ids["aged"], LEAD, {"note": "n", "next_action_date": "2027-06-01"}),
        event_doc("denial.touched", ids["resolved"], LEAD, {"note": "n", "next_action_date": "2026-10-05"}),
        event_doc("denial.resubmitted", ids["resolved"], LEAD, {"claim_reference": "C-1"}),
        event_doc("denial.payer_responded", ids["resolved"], ("clearinghouse", "system"), {"outcome": "paid"}),
    ]
    run_worker(settings, publish(settings, [*docs.values(), *follow_ups]))

    assert tick(settings, "2026-10-08T08:59:59") == 0
    assert tick(settings, "2026-10-08T09:00:00") == 2
    run_worker(settings, 2)
    assert history(settings, ids["unowned"]) == [("escalate", "ownership")]
    assert history(settings, ids["small"]) == [("flag", "soft_write_off")]
    assert tick(settings, "2026-10-08T23:59:59") == 0
    assert tick(settings, "2026-10-09T00:00:00") == 2  # assigned and small: the next-action date passed
    run_worker(settings, 2)
    assert history(settings, ids["assigned"]) == [("escalate", "follow_up")]
    assert state(settings, ids["small"]) == "escalated"
    # the filing deadline was 11-30 (timer 11-16); the extension to 12-03 moved it to 11-19
    assert tick(settings, "2026-11-18T23:59:59") == 0
    assert history(settings, ids["extended"]) == []
    assert tick(settings, "2026-11-19T00:00:00") == 1
    run_worker(settings, 1)
    assert history(settings, ids["extended"]) == [("escalate", "filing_deadline")]
    assert tick(settings, "2026-12-01T08:59:59") == 0
    assert tick(settings, "2026-12-01T09:00:00") == 1
    run_worker(settings, 1)
    assert history(settings, ids["aged"]) == [("escalate", "aging")]
    # 90+ days: every open denial is flagged for leadership; the resolved one never fires anything
    assert tick(settings, "2027-12-31T00:00:00") == 5
    run_worker(settings, 5)
    assert history(settings, ids["resolved"]) == []
    assert history(settings, ids["assigned"]) == [("escalate", "follow_up"), ("flag", "leadership")]
    fired = [r for r in read_topic(settings, settings.events_topic) if r.value and b"denial.timer_fired" in r.value]
    assert len(fired) == 11
    feed = [json.loads(r.value) for r in read_topic(settings, settings.transitions_topic)]
    escalations = {(m["denial_id"], m["reason"]): m for m in feed if m["trigger"] == "escalate"}
    extended = escalations[(ids["extended"], "filing_deadline")]
    assert extended["figures"] == {"deadline": "filing", "date": "2026-12-03", "lead_days": 14}
    assert escalations[(ids["assigned"], "follow_up")]["figures"]["next_action_date"] == "2026-10-08"
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:  # escalations, flags and the extension replay like any transition
        assert verify(conn)[1] is None
        for denial_id in ids.values():
            report = replay(store.get_denial(conn, denial_id), store.history(conn, denial_id))
            assert report.ok, report.mismatches
    engine.dispose()


def test_deadlines_past_at_receipt_escalate_once_to_the_lead_and_lift_no_priority(settings: Settings) -> None:
    # timely-filing denials of services a year old: the filing limit (90 days) passed long ago
    # the first one's appeal window (180 days from its 02-01 remit) closed on 07-31 too
    gone = received_doc(11, adjustments=[("CO", "29", "350.00")], date_of_service="2025-09-10", remit_date="2026-02-01")
    appealable = received_doc(12, adjustments=[("CO", "29", "2000.00")], date_of_service="2025-09-10")
    ids = {"gone": received_id(gone), "appealable": received_id(appealable)}
    run_worker(settings, publish(settings, [gone, appealable]))
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        stored = {name: store.get_denial(conn, i) for name, i in ids.items()}
        classified = next(e for e in store.history(conn, ids["gone"]) if e["trigger"] == "classify")["payload"]
    assert classified["deadlines"]["filing"]["past_at_receipt"] and classified["deadlines"]["appeal"]["past_at_receipt"]
    assert (stored["gone"].priority, stored["appealable"].priority) == ("middle", "high")  # the value tiers alone

    assert tick(settings, "2026-10-01T09:00:00") == 2  # one timer each, due at receipt, not one per deadline
    run_worker(settings, 2)
    assert history(settings, ids["gone"]) == [("escalate", "deadlines_passed")]
    assert history(settings, ids["appealable"]) == [("escalate", "deadline_past_at_receipt")]
    with engine.connect() as conn:
        queue = {i.id: i for i in queries.escalations(conn, at("2026-10-02T00:00:00"), 7)}
    assert queue[ids["gone"]].detail == {"passed_at_receipt": "filing 2025-12-09, appeal 2026-07-31",
                                         "candidate": "write-off or proof-of-timely-filing candidate"}  # fmt: skip
    assert queue[ids["appealable"]].detail["still_open"] == "appeal 2027-03-29"

    # the lead sends both back to be worked: the passed deadlines never escalate them again
    back = [event_doc("denial.reassigned", i, LEAD, {"owner": "harper.billing", "reason": "appeal with proof"})
            for i in ids.values()]  # fmt: skip
    run_worker(settings, publish(settings, back))
    assert tick(settings, "2026-10-08T00:00:00") == 0
    assert {state(settings, i) for i in ids.values()} == {"assigned"}
    assert history(settings, ids["gone"]) == [("escalate", "deadlines_passed")]
    with engine.connect() as conn:
        assert verify(conn)[1] is None
        for denial_id in ids.values():
            report = replay(store.get_denial(conn, denial_id), store.history(conn, denial_id))
            assert report.ok, report.mismatches
    engine.dispose()


def _receipts(n: int) -> list[dict[str, Any]]:
    return [received_doc(1000 + i, adjustments=[("CO", "4", "350.00")]) for i in range(n)]


def _fired_counts(settings: Settings) -> tuple[int, int]:
    """Denials whose timer the service marked fired (the worker has not applied it yet), and
    those whose timer waits to fire."""
    engine = make_engine(settings.database_url)
    d = store.DENIALS.c
    with engine.connect() as conn:
        fired = conn.scalar(select(func.count()).where(d.timer_fired_at.is_not(None)))
        pending = conn.scalar(select(func.count()).select_from(store.DENIALS).where(TIMER_PENDING))
    engine.dispose()
    return fired or 0, pending or 0


def _apply_then_fire_the_next(settings: Settings, applying: int, denials: int) -> None:
    """The worker applies the follow-up escalations; each denial's next timer, leadership
    (90 days after receipt), is then due: one tick fires it, the worker applies it."""
    run_worker(settings, applying)
    assert _fired_counts(settings) == (0, denials)
    assert tick(settings, "2028-01-01T00:00:00") == denials
    run_worker(settings, denials)
    assert _fired_counts(settings) == (0, 0)


def _exactly_once(settings: Settings, denials: int) -> None:
    """Each denial: its follow-up escalated it once, leadership flagged it once."""
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        steps = Counter(
            (e.denial_id, e.trigger, e.reason)
            for e in conn.execute(select(store.AUDIT).where(store.AUDIT.c.trigger.in_(["escalate", "flag"])))
        )
    engine.dispose()
    assert len(steps) == 2 * denials and set(steps.values()) == {1}
    assert {(t, r) for _, t, r in steps} == {("escalate", "follow_up"), ("flag", "leadership")}


def test_sigkill_mid_tick_then_restart_fires_every_timer_exactly_once(settings: Settings, tmp_path: Path) -> None:
    denials = 150
    run_worker(settings, publish(settings, _receipts(denials)))
    due = _fired_counts(settings)[1]
    assert due == denials  # one timer each, the soonest: the follow-up
    env = {**os.environ, **settings_env(settings), "DENIALFLOW_NOW": "2028-01-01T00:00:00+00:00",
           "DENIALFLOW_TIMER_BATCH": "20", "DENIALFLOW_TIMER_INTERVAL_MS": "50"}  # fmt: skip
    log = tmp_path / "timers.log"
    for attempt in range(3):
        with log.open("ab") as sink:
            proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "timers"], env=env, stderr=sink)
        deadline = time.monotonic() + 60
        target = due * (attempt + 1) // 4
        while _fired_counts(settings)[0] < target and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with log.open("ab") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "timers"], env=env, stderr=sink)
    # the last run must be up (its first tick done, so its SIGTERM handler is in) even when the
    # killed runs left nothing pending: a SIGTERM during its imports would end it with -15
    running = f':{proc.pid}", "state": "running"'
    deadline = time.monotonic() + 60
    while (running not in log.read_text() or _fired_counts(settings)[1]) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()[-2000:]
    published = [r for r in read_topic(settings, settings.events_topic) if b"denial.timer_fired" in r.value]
    assert len({r.value for r in published}) == due  # every timer published, some of them twice
    _apply_then_fire_the_next(settings, len(published), denials)
    _exactly_once(settings, denials)


def test_two_timer_services_on_postgresql_never_fire_the_same_timer(pg_settings: Settings) -> None:
    denials = 200
    run_worker(pg_settings, publish(pg_settings, _receipts(denials)))
    due = _fired_counts(pg_settings)[1]
    assert due == denials
    services = [build_timer_service(pg_settings, ManualClock(at("2028-01-01T00:00:00"))) for _ in range(2)]
    for service in services:
        service.batch = 25
    counts = [0, 0]

    def work(i: int) -> None:
        counts[i] = services[i].tick()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for service in services:
        service.producer.close()
        service.engine.dispose()
    assert sum(counts) == due and min(counts) > 0, counts  # both worked, neither took the other's rows
    published = [r.value for r in read_topic(pg_settings, pg_settings.events_topic) if b"timer_fired" in r.value]
    assert len(published) == len(set(published)) == due
    _apply_then_fire_the_next(pg_settings, due, denials)
    _exactly_once(pg_settings, denials)


def test_past_the_deadline_staff_are_refused_and_a_lead_override_is_audited(settings: Settings) -> None:
    doc = received_doc(7, adjustments=[("CO", "4", "350.00")])  # Aetna: appeal deadline 2027-03-29
    denial_id = received_id(doc)
    worked = event_doc("denial.touched", denial_id, LEAD, {"note": "n", "next_action_date": "2027-06-01"})
    run_worker(settings, publish(settings, [doc, worked]))
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        owner = store.get_denial(conn, denial_id).owner
    late = {"appeal_reference": "APL-7", "override_reason": "payer agreed by phone, ref 12"}
    staff = event_doc("denial.appealed", denial_id, (owner, "staff"), late, day=200)
    lead = event_doc("denial.appealed", denial_id, LEAD, late, day=200)
    run_worker(settings, publish(settings, [staff, lead]))
    letters = read_topic(settings, settings.dlq_topic)
    assert [json.loads(dict(r.headers)["denialflow.error"])["code"] for r in letters] == ["guard.past_appeal_deadline"]
    with engine.connect() as conn:
        last = store.history(conn, denial_id)[-1]
    engine.dispose()
    assert (last["trigger"], last["actor"]) == ("appeal", LEAD[0])
    assert (
        last["reason"]
        == "appeal level 1; past the appeal deadline 2027-03-29, lead override: payer agreed by phone, ref 12"
    )
