"""Authorizations as tracked objects and the pre-submission check, through the processor on
real SQLite and PostgreSQL: units counted once per claim (repeats, replacements, voids),
holds and their release, alerts raised and resolved, dated alerts on the timer rows, the
authorization's own audit chain, and a late authorization re-running a denial's checklist."""

from typing import Any

import orjson
from sqlalchemy import Engine, select

from engine.audit.chain import AUTHORIZATION_CHAINS, verify
from engine.audit.replay import replay
from engine.intake.claim_identity import authorization_id_for, claim_id_for
from engine.runtime.timers import fire_event
from engine.storage import prevention_store as ps
from engine.storage import store
from tests.factories import LEAD, authorization_doc, claim_doc, received_doc, received_id
from tests.store.batches import commit, inbound

AUTH = authorization_id_for("AETNA", "AUTH-1")


def _auth(conn: Any, auth_id: str = AUTH) -> Any:
    return conn.execute(select(ps.AUTHORIZATIONS).where(ps.AUTHORIZATIONS.c.authorization_id == auth_id)).one()


def _claim(conn: Any, pcn: str = "PCN-C1") -> Any:
    return conn.execute(select(ps.CLAIM_CHECKS).where(ps.CLAIM_CHECKS.c.claim_id == claim_id_for("AETNA", pcn))).one()


def _checked(result: Any) -> list[dict[str, Any]]:
    return [orjson.loads(m.value) for m in result.write.outbox if m.topic == "claims.checked"]


def _open_alerts(conn: Any) -> list[str]:
    rows = conn.execute(select(ps.ALERTS.c.condition).where(ps.ALERTS.c.resolved_at.is_(None)))
    return sorted(r.condition for r in rows)


def test_a_clear_claim_counts_its_units_once_however_often_it_arrives(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1", units_approved=12, units_used=4)]))
    first = claim_doc(prior_authorization="AUTH-1")
    result, _ = commit(engine, inbound([first, first]))
    assert (result.applied, result.duplicates) == (1, 1)
    assert [(m["verdict"], m["sub_causes"]) for m in _checked(result)] == [("clear", [])]
    again = {**first, "event_id": "claim-from-a-second-file"}  # the same claim in another 837
    commit(engine, inbound([again]))
    with engine.connect() as conn:
        assert (_auth(conn).units_claimed, _claim(conn).submissions, _claim(conn).verdict) == (1, 2, "clear")


def test_a_replacement_recounts_and_a_void_gives_the_units_back(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1", units_approved=12, units_used=4)]))
    commit(engine, inbound([claim_doc(prior_authorization="AUTH-1")]))
    two = [{"line": 1, "procedure_code": "90837", "units": "2", "charge": "440.00", "date_of_service": "2026-10-02"}]
    commit(engine, inbound([claim_doc(prior_authorization="AUTH-1", frequency="7", lines=two)]))
    with engine.connect() as conn:
        assert _auth(conn).units_claimed == 2
    commit(engine, inbound([claim_doc(prior_authorization="AUTH-1", frequency="8")]))
    with engine.connect() as conn:
        assert (_auth(conn).units_claimed, _claim(conn).verdict) == (0, "void")
        checked, broken = verify(conn, chains=AUTHORIZATION_CHAINS)
        assert broken is None and checked == 4  # recorded, +1, +1, -2


def test_a_hold_names_what_failed_and_counts_nothing_until_a_lead_releases_it(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1", units_approved=12, units_used=4)]))
    result, _ = commit(engine, inbound([claim_doc()]))  # no REF*G1 on the claim
    [checked] = _checked(result)
    assert checked["verdict"] == "hold" and checked["sub_causes"] == ["auth_on_file_not_on_claim"]
    assert "AUTH-1" in checked["lines"][0]["failed"][0]["next_action"]
    with engine.connect() as conn:
        assert _auth(conn).units_claimed == 0
        claim_id = _claim(conn).claim_id
    staff = {
        "event_id": "rel-staff",
        "type": "claim.released",
        "occurred_at": "2026-10-03T09:00:00+00:00",
        "actor": "sam.staff",
        "role": "staff",
        "data": {"claim_id": claim_id, "payer_id": "AETNA", "member_id": "MBR-PHI-778899", "reason": "payer ok"},
    }
    lead = {**staff, "event_id": "rel-lead", "actor": LEAD[0], "role": LEAD[1]}
    result, _ = commit(engine, inbound([staff, lead]))
    assert result.rejected_by_code == {"guard.claim.released_requires_lead": 1}
    with engine.connect() as conn:
        row = _claim(conn)
        assert (row.verdict, row.release, row.was_held, _auth(conn).units_claimed) == ("released", "submitted_anyway",
                                                                                      True, 1)  # fmt: skip


def test_a_held_claim_corrected_and_sent_again_is_released_as_fixed(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1")]))
    commit(engine, inbound([claim_doc()]))
    commit(engine, inbound([claim_doc(prior_authorization="AUTH-1", frequency="7")]))
    with engine.connect() as conn:
        row = _claim(conn)
        assert (row.verdict, row.release, row.was_held, _auth(conn).units_claimed) == ("clear", "fixed", True, 1)


def test_units_running_low_raise_an_alert_and_more_units_resolve_it(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1", units_approved=6, units_used=3)]))
    commit(engine, inbound([claim_doc(prior_authorization="AUTH-1")]))  # 2 left: AETNA warns at 2
    with engine.connect() as conn:
        assert (_auth(conn).status, _open_alerts(conn)) == ("expiring", ["units_low"])
    more = {"event_id": "upd-1", "type": "authorization.updated", "occurred_at": "2026-10-04T09:00:00+00:00",
            "actor": "front.desk", "role": "staff",
            "data": {"payer_id": "AETNA", "reference": "AUTH-1", "member_id": "MBR-PHI-778899", "units_approved": 20,
                     "reason": "payer approved 14 more sessions"}}  # fmt: skip
    result, _ = commit(engine, inbound([more]))
    assert result.applied == 1
    with engine.connect() as conn:
        assert (_auth(conn).status, _open_alerts(conn)) == ("active", [])


def test_the_dated_alerts_are_timer_rows_and_a_moved_window_makes_the_old_fire_stale(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1", valid_to="2026-10-12")]))  # the batch's clock: 2026-10-05
    with engine.connect() as conn:
        rows = {r.rule: r for r in conn.execute(select(store.TIMERS).where(store.TIMERS.c.denial_id == AUTH))}
        assert _auth(conn).status == "expiring" and _open_alerts(conn) == ["expires_soon"]  # inside 14 days already
    assert sorted(rows) == ["auth_expired", "auth_expires_soon"]
    assert rows["auth_expired"].due_at.isoformat()[:10] == "2026-10-13"
    fire = fire_event(rows["auth_expired"])
    longer = {"event_id": "upd-2", "type": "authorization.updated", "occurred_at": "2026-10-05T09:00:00+00:00",
              "actor": "front.desk", "role": "staff",
              "data": {"payer_id": "AETNA", "reference": "AUTH-1", "member_id": "MBR-PHI-778899",
                       "valid_to": "2026-12-31", "reason": "extended"}}  # fmt: skip
    result, _ = commit(engine, inbound([longer, fire]))
    assert result.applied == 2
    with engine.connect() as conn:
        assert (_auth(conn).status, _open_alerts(conn)) == ("active", [])  # the old fire was stale
        outcome = select(store.PROCESSED.c.outcome).where(store.PROCESSED.c.event_id == fire["event_id"])
        processed = conn.execute(outcome)
        assert processed.scalar_one() == "timer.stale"


def test_an_authorization_recorded_after_the_denial_reruns_its_checklist(engine: Engine) -> None:
    doc = received_doc(1)  # CO-197 authorization denial, nothing on file
    commit(engine, inbound([doc]))
    with engine.connect() as conn:
        assert store.get_denial(conn, received_id(doc)).auth_check["sub_cause"] == "no_authorization_on_file"
    result, _ = commit(engine, inbound([authorization_doc("AUTH-LATE", obtained_on="2026-09-20")]))
    [recheck] = [orjson.loads(m.value) for m in result.write.outbox if m.topic == "denials.events"]
    assert recheck["type"] == "denial.auth_rechecked" and recheck["denial_id"] == received_id(doc)
    assert recheck["data"]["check"]["sub_cause"] == "auth_obtained_after_service"
    commit(engine, inbound([recheck]))
    with engine.connect() as conn:
        denial = store.get_denial(conn, received_id(doc))
        assert denial.auth_check["sub_cause"] == "auth_obtained_after_service"
        assert store.history(conn, denial.id)[-1]["trigger"] == "recheck_auth"
        assert replay(denial, store.history(conn, denial.id)).ok


def test_a_superseded_authorization_stops_alerting_and_is_not_checked_against(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1", units_approved=3, units_used=3)]))  # exhausted
    commit(engine, inbound([authorization_doc("AUTH-2", supersedes="AUTH-1", units_approved=10, units_used=0)]))
    result, _ = commit(engine, inbound([claim_doc(prior_authorization="AUTH-2")]))
    assert _checked(result)[0]["verdict"] == "clear"
    with engine.connect() as conn:
        old, new = _auth(conn), _auth(conn, authorization_id_for("AETNA", "AUTH-2"))
        assert (old.status, old.superseded_by, new.units_claimed) == ("superseded", "AUTH-2", 1)
        assert _open_alerts(conn) == []


def test_the_authorization_log_is_tamper_evident(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-1")]))
    commit(engine, inbound([claim_doc(prior_authorization="AUTH-1")]))
    with engine.begin() as conn:
        conn.execute(ps.AUTHORIZATIONS.update().values(audit_seq=1))  # a forger hides the units entry's head
        _, broken = verify(conn, chains=AUTHORIZATION_CHAINS)
    assert broken is not None and broken.noun == "authorization" and "head seq 1" in str(broken)


def test_the_queue_and_the_prevention_panel_count_holds_and_the_denials_that_followed(engine: Engine) -> None:
    from datetime import date

    from engine.read.kpis import Scope
    from engine.read.prevention import authorization_queue, prevention

    commit(engine, inbound([authorization_doc("AUTH-1", units_approved=5, units_used=4)]))
    commit(engine, inbound([claim_doc(pcn="PCN1", prior_authorization="AUTH-1")]))  # clear: the last unit
    commit(engine, inbound([claim_doc(pcn="PCN2", prior_authorization="AUTH-1")]))  # hold: units exceeded
    with engine.connect() as conn:
        queue = authorization_queue(conn, phi=False)
        claim_id = _claim(conn, "PCN2").claim_id
    assert [(i.kind, i.reference) for i in queue] == [("exhausted", "AUTH-1"), ("hold", "PCN2")]
    assert queue[0].member == "**********8899" and "request" in queue[1].next_action
    release = {
        "event_id": "rel-1",
        "type": "claim.released",
        "occurred_at": "2026-10-03T09:00:00+00:00",
        "actor": LEAD[0],
        "role": LEAD[1],
        "data": {"claim_id": claim_id, "payer_id": "AETNA", "member_id": "MBR-PHI-778899", "reason": "urgent"},
    }
    denied = {**received_doc(2, patient_control_number="PCN2"), "occurred_at": "2026-10-06T09:00:00+00:00"}
    commit(engine, inbound([release, denied]))  # the payer denied it all the same
    with engine.connect() as conn:
        panel = prevention(conn, Scope(date(2026, 10, 1), date(2026, 10, 8)))
    assert (panel["claims_checked"], panel["held"]) == (2, 1)
    assert panel["holds_by_sub_cause"] == [{"key": "units_exceeded", "count": 1}]
    assert panel["holds"]["submitted_anyway"] == 1
    assert panel["denied_for_authorization_later"]["after_a_hold_sent_anyway"] == 1


def test_a_dated_alert_is_due_at_its_moment_and_not_a_second_before(engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    from engine.runtime.timers import due_alerts

    commit(engine, inbound([authorization_doc("AUTH-1", valid_to="2026-11-30")]))  # warned 14 days before
    moment = datetime(2026, 11, 16, tzinfo=UTC)
    with engine.connect() as conn:
        assert _auth(conn).status == "active" and _open_alerts(conn) == []

        def due(at: datetime) -> list[Any]:
            return [r for r in conn.execute(due_alerts(conn, at, 100)) if r.denial_id == AUTH]

        assert due(moment - timedelta(seconds=1)) == []
        [row] = due(moment)
    assert row.rule == "auth_expires_soon"
    result, _ = commit(engine, inbound([fire_event(row)]))
    assert result.applied == 1
    with engine.connect() as conn:
        assert (_auth(conn).status, _open_alerts(conn)) == ("expiring", ["expires_soon"])
        entry = ps.authorization_history(conn, AUTH)[-1]
    assert (entry["trigger"], entry["to_state"], entry["payload"]["alerts_raised"]) == ("alert", "expiring",
                                                                                       ["expires_soon"])  # fmt: skip
