"""The payer's later remittances close the loop: through the real processor and database,
on SQLite and PostgreSQL, from 835 text."""

import io
from typing import Any

from alembic import command
from sqlalchemy import Engine, select

from engine.audit.replay import replay
from engine.intake.claim_identity import legacy_denial_id_for
from engine.intake.events import decode
from engine.intake.ingest import read_remittance
from engine.storage import store
from engine.storage.db import alembic_config
from tests.factories import LEAD, event_doc, received_doc, touch
from tests.store.batches import commit, inbound
from tests.x12_text import Claim, Line, remittance

AUTH_DENIED = Line("90837", "200.00", "0.00", [("CO", "197", "200.00")], "LN-1")
DENIED = Claim(
    "PCN-77", "4", [AUTH_DENIED, Line("90785", "50.00", "40.00", [("CO", "45", "10.00")], "LN-2")], icn="ICN-A"
)
_offset = iter(range(10_000, 1_000_000))


def events_of(raw: bytes) -> list[bytes]:
    out: list[bytes] = []
    read_remittance(io.BytesIO(raw), lambda key, value: out.append(value))
    return out


def feed(engine: Engine, raw: bytes) -> Any:
    result, _ = commit(engine, inbound(events_of(raw), start=next(_offset)))
    return result


def only_denial(engine: Engine) -> Any:
    with engine.connect() as conn:
        (denial_id,) = conn.scalars(select(store.DENIALS.c.id)).all()
        return store.get_denial(conn, denial_id), store.history(conn, denial_id)


def test_a_resubmission_paid_on_a_later_remittance_is_resolved_with_its_evidence(engine: Engine) -> None:
    first = feed(engine, remittance([DENIED], trace="TRN-A"))
    # the denied line; the paid line and the claim's payment, for which no denial is open: recorded
    assert (first.applied, first.rejected, first.transitions) == (3, 0, 3)
    denial, _ = only_denial(engine)
    commit(engine, inbound([touch(denial.id, denial.owner),
                            event_doc("denial.resubmitted", denial.id, (denial.owner, "staff"),
                                      {"claim_reference": "CORR-1"})], start=next(_offset)))  # fmt: skip
    paid = Claim("PCN-77", "1", [Line("90837", "200.00", "180.00", [("CO", "45", "20.00")], "LN-1")], icn="ICN-B")
    answer = feed(engine, remittance([paid], trace="TRN-B", paid_on="20261110"))
    assert (answer.applied, answer.transitions) == (2, 1)  # the line settles its denial; the claim has none
    denial, history = only_denial(engine)
    assert (denial.state, denial.resolution) == ("resolved", "paid")
    assert denial.outcome["payer_response"] | {"payment_trace": "TRN-B", "icn": "ICN-B", "paid_amount": "180.00"} == (
        denial.outcome["payer_response"]
    )  # fmt: skip
    assert history[-1]["trigger"] == "settle" and "TRN-B" in history[-1]["reason"]
    assert replay(denial, history).ok
    again = feed(engine, remittance([paid], trace="TRN-B", paid_on="20261110"))  # the same remittance re-delivered
    assert (again.applied, again.duplicates, again.transitions) == (0, 2, 0)


def test_denied_again_is_upheld_and_a_partial_payment_keeps_the_rest_open(engine: Engine) -> None:
    feed(engine, remittance([DENIED], trace="TRN-A"))
    denial, _ = only_denial(engine)
    commit(engine, inbound([touch(denial.id, denial.owner),
                            event_doc("denial.appealed", denial.id, (denial.owner, "staff"),
                                      {"appeal_reference": "APL-1"})], start=next(_offset)))  # fmt: skip
    again = Claim("PCN-77", "4", [Line("90837", "200.00", "0.00", [("CO", "50", "200.00")], "LN-1")], icn="ICN-C")
    feed(engine, remittance([again], trace="TRN-C", paid_on="20261120"))
    denial, history = only_denial(engine)
    assert (denial.state, history[-1]["trigger"], denial.touches) == ("worked", "uphold", 1)
    partial = Claim("PCN-77", "1", [Line("90837", "200.00", "120.00", [("CO", "197", "80.00")], "LN-1")], icn="ICN-D")
    feed(engine, remittance([partial], trace="TRN-D", paid_on="20261201"))
    denial, history = only_denial(engine)
    assert (denial.state, history[-1]["trigger"]) == ("worked", "note_remit")
    assert [r["outcome"] for r in denial.outcome["remittances"]] == ["denied_again", "partial"]
    with engine.connect() as conn:
        outcomes = conn.execute(select(store.OUTCOMES.c.kind)).scalars().all()
    assert outcomes == ["upheld"]  # the payer's answer to the appeal, counted for the overturn rate
    assert replay(denial, history).ok


def test_two_claims_of_one_file_on_one_claim_line_are_kept_apart_and_reviewed(engine: Engine) -> None:
    twin = Claim("PCN-77", "4", [Line("90837", "200.00", "0.00", [("CO", "29", "200.00")], "LN-1")], icn="ICN-X")
    result = feed(engine, remittance([DENIED, twin], trace="TRN-A"))
    assert result.rejected == 0
    with engine.connect() as conn:
        reasons = sorted(conn.scalars(select(store.DENIALS.c.primary_reason)))
        reviews = conn.execute(select(store.REVIEWS.c.kind, store.REVIEWS.c.claim_control_number)).all()
    assert reasons == ["197", "29"]
    assert [tuple(r) for r in reviews] == [("identity_collision", "ICN-X")]


def test_the_same_event_id_with_another_body_is_a_conflict_not_a_duplicate(engine: Engine) -> None:
    doc = received_doc(9)
    forged = {**doc, "data": {**doc["data"], "billed_amount": "9999.00"}}
    commit(engine, inbound([doc], start=next(_offset)))
    result, _ = commit(engine, inbound([doc, forged], start=next(_offset)))
    assert (result.duplicates, result.rejected_by_code) == (1, {"event.conflicting_duplicate": 1})
    assert result.write.outbox[0].headers[0][1].find("conflicting_duplicate") > 0


def test_a_denial_stored_under_its_old_id_is_found_by_its_claim_line_after_migration(engine: Engine) -> None:
    doc = received_doc(5, line_control=None)
    old_id = legacy_denial_id_for("AETNA", "CCN000005", 1)
    commit(engine, inbound([{**doc, "denial_id": old_id}], start=next(_offset)))
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    command.downgrade(alembic_config(url), "0007")
    command.upgrade(alembic_config(url), "head")
    paid = {**doc["data"], "claim_control_number": "NEW-ICN", "paid_amount": "350.00", "adjustments": []}
    later = {**doc, "event_id": "paid-later", "type": "denial.paid", "data": paid}
    assert decode(inbound([later])[0].value).denial_id != old_id
    result, _ = commit(engine, inbound([later], start=next(_offset)))
    assert result.transitions == 1
    denial, history = only_denial(engine)
    assert (denial.id, denial.state) == (old_id, "resolved")
    assert replay(denial, history).ok
    commit(engine, inbound([event_doc("denial.closed", old_id, LEAD, {
        "root_cause": {"category": "payer_error", "handoff": "payer", "preventable": False},
        "evidence": {"payment_trace": "TRN", "paid_amount": "350.00"}})], start=next(_offset)))  # fmt: skip
    assert only_denial(engine)[0].state == "closed"
