"""The store, the audit chain and replay on real SQLite and PostgreSQL (one suite, both adapters)."""

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, select, update

from engine.audit.chain import verify
from engine.audit.replay import replay
from engine.demo.feed import demo_events, poison_messages
from engine.errors import ConcurrencyConflict
from engine.intake.records import Inbound
from engine.storage import store
from tests.factories import received_doc, received_id, touch
from tests.store.batches import NOW, commit, inbound


@pytest.fixture
def demo(engine: Engine) -> list[Inbound]:
    messages = inbound([*demo_events(30), *poison_messages()])
    commit(engine, messages[:70])
    commit(engine, messages[70:])
    return messages


def test_a_batch_writes_denials_audit_processed_and_outbox_together(engine: Engine) -> None:
    doc = received_doc(1)
    result, outbox_id = commit(engine, inbound([doc, touch(received_id(doc), "x")]))
    assert (result.applied, result.rejected, result.transitions) == (1, 1, 3)
    with engine.connect() as conn:
        d = store.get_denial(conn, received_id(doc))
        assert (d.state, d.version, d.audit_seq) == ("assigned", 1, 3)
        assert [e["trigger"] for e in store.history(conn, d.id)] == ["receive", "classify", "assign"]
        assert set(store.processed_ids(conn, [doc["event_id"], "nope"])) == {doc["event_id"]}
        [(pending_id, messages)] = store.pending_outbox(conn, 100)
    assert pending_id == outbox_id
    assert [m.topic for m in messages] == ["feed", "feed", "feed", "dlq"]  # in the order they happened
    assert [json.loads(m.value)["seq"] for m in messages[:3]] == [1, 2, 3]


def test_the_same_events_again_change_nothing(engine: Engine, demo: list[Inbound]) -> None:
    with engine.connect() as conn:
        before = verify(conn)[0]
    result, outbox_id = commit(engine, demo)
    assert (result.applied, result.rejected, result.duplicates, outbox_id) == (0, 0, len(demo), None)
    with engine.connect() as conn:
        assert verify(conn) == (before, None)


def test_duplicates_inside_one_batch_apply_once(engine: Engine) -> None:
    doc = received_doc(2)
    result, _ = commit(engine, inbound([doc, doc, doc]))
    assert (result.applied, result.duplicates, result.transitions) == (1, 2, 3)


def test_denials_changed_in_different_columns_are_each_updated_whole(engine: Engine) -> None:
    """SQLite sets only the columns a row changed, one statement per set of them: each
    denial must still come out exactly as the batch left it."""
    docs = [received_doc(n) for n in (11, 12, 13)]
    commit(engine, inbound(docs))
    with engine.connect() as conn:
        before = [store.get_denial(conn, received_id(d)) for d in docs]
    after = [SimpleNamespace(**vars(d)) for d in before]
    after[0].touches, after[0].owner = 7, "someone.else"
    after[1].state, after[1].outcome = "worked", {"note": "moved"}
    for denial in after:  # the third changes nothing but its version
        denial.version += 1
    rows = [store.denial_changes(a, b) for a, b in zip(after, before, strict=True)]
    assert rows[2]["_changed"] == ("version",)
    with engine.begin() as conn:
        store.write_batch(conn, store.BatchWrite(changed_denials=rows), NOW)
    with engine.connect() as conn:
        stored = [store.get_denial(conn, d.id) for d in after]
    assert [{k: getattr(d, k) for k in store.MUTABLE} for d in stored] == [
        {k: getattr(d, k) for k in store.MUTABLE} for d in after
    ]


def test_a_stale_version_is_a_conflict_not_an_overwrite(engine: Engine) -> None:
    doc = received_doc(3)
    commit(engine, inbound([doc]))
    with engine.connect() as conn:
        denial = store.get_denial(conn, received_id(doc))
    row = store.denial_changes(denial, SimpleNamespace(**{**vars(denial), "version": denial.version - 1}))
    with pytest.raises(ConcurrencyConflict), engine.begin() as conn:
        store.write_batch(conn, store.BatchWrite(changed_denials=[row]), NOW)


def test_rejections_are_recorded_dead_lettered_and_keyed(engine: Engine) -> None:
    result, _ = commit(engine, inbound(poison_messages()))
    assert result.rejected == 4 and result.applied == 0
    with engine.connect() as conn:
        [(_, letters)] = store.pending_outbox(conn, 10)
    assert {m.topic for m in letters} == {"dlq"}
    assert [m.value for m in letters] == poison_messages()
    error = json.loads(dict(letters[1].headers)["denialflow.error"])
    assert error["code"] == "schema.unknown_type" and error["field"] == "type"
    source = json.loads(dict(letters[0].headers)["denialflow.source"])
    assert source == {"topic": "events", "partition": 0, "offset": 0}


def test_outbox_rows_are_deleted_by_id(engine: Engine) -> None:
    _, first = commit(engine, inbound([received_doc(4)]))
    _, second = commit(engine, inbound([received_doc(6)], start=1))
    with engine.begin() as conn:
        store.delete_outbox(conn, [first])
    with engine.connect() as conn:
        assert [i for i, _ in store.pending_outbox(conn, 10)] == [second]


def test_phi_never_reaches_the_log(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    doc = received_doc(5)
    bad = {**doc, "data": {**doc["data"], "billed_amount": "999.00"}}  # same id, other body: rejected and logged
    commit(engine, inbound([doc, bad]))
    err = capsys.readouterr().err
    assert "event.conflicting_duplicate" in err
    for phi in ("Ada Q Patient", "MBR-PHI-778899", "1970-01-02"):
        assert phi not in err


def test_audit_verify_passes_on_an_honest_log(engine: Engine, demo: list[Inbound]) -> None:
    with engine.connect() as conn:
        checked, broken = verify(conn)
    assert broken is None and checked > 100


def test_replay_reaches_the_stored_state_for_every_denial(engine: Engine, demo: list[Inbound]) -> None:
    with engine.connect() as conn:
        ids = list(conn.scalars(select(store.DENIALS.c.id)))
        reports = [replay(store.get_denial(conn, i), store.history(conn, i)) for i in ids]
    assert len(reports) == 30
    assert all(r.ok for r in reports), [r.mismatches for r in reports if not r.ok]


def test_replay_reports_a_denial_row_that_disagrees_with_its_log(engine: Engine, demo: list[Inbound]) -> None:
    d = store.DENIALS
    with engine.begin() as conn:
        victim = conn.scalar(select(d.c.id).where(d.c.state == "closed").order_by(d.c.id).limit(1))
        conn.execute(update(d).where(d.c.id == victim).values(state="worked", touches=9))
    with engine.connect() as conn:
        report = replay(store.get_denial(conn, victim), store.history(conn, victim))
    assert not report.ok
    assert any("state" in m for m in report.mismatches) and any("touches" in m for m in report.mismatches)


def test_a_corrected_resend_of_an_invalid_event_is_applied(engine: Engine) -> None:
    good = received_doc(7)
    broken = {**good, "data": {**good["data"], "billed_amount": "lots"}}
    first, _ = commit(engine, inbound([broken]))
    again, _ = commit(engine, inbound([broken], start=0))  # the same record redelivered
    fixed, _ = commit(engine, inbound([good], start=1))  # the sender's correction, same event id
    assert (first.rejected, again.duplicates, fixed.applied) == (1, 1, 1)
