"""Tampering with the audit log, on real SQLite and PostgreSQL stores built by the processor.

The insider has the owner's rights: lifts the append-only trigger, then edits, deletes,
reorders or inserts entries, rewrites a chain consistently (every later hash recomputed, the
denial's head fixed) or deletes a whole denial. The plain chain check catches the careless
cases; verification against signed checkpoints catches them all, and a forged or removed
checkpoint too."""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from engine.audit import checkpoints
from engine.audit.chain import entry_hash, verify
from engine.audit.checkpoints import AuditKey, Checkpointer, Verdict, verify_with_checkpoints
from engine.cli.app import app
from engine.config import Settings
from engine.demo.feed import demo_events, poison_messages
from engine.runtime.outbox import build_relay
from engine.storage import store
from engine.storage.bulk import streamed_rows
from tests.factories import received_doc, received_id, touch
from tests.helpers import tampering
from tests.store.batches import NOW, PROCESSOR, commit, inbound

KEY = AuditKey(b"an audit key kept far from the database")
A, D = store.AUDIT, store.DENIALS


def _checkpoint(engine: Engine, reason: str = "interval") -> list[bytes]:
    made = Checkpointer(engine, KEY, "checkpoints").checkpoint(reason)
    return [orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in made]


@pytest.fixture
def signed(engine: Engine) -> list[bytes]:
    """Thirty demo denials in two batches, each batch then checkpointed."""
    messages = inbound([*demo_events(30), *poison_messages()])
    commit(engine, messages[:70])
    lines = _checkpoint(engine)
    commit(engine, messages[70:])
    return lines + _checkpoint(engine)


def _verdict(engine: Engine, lines: list[bytes]) -> Verdict:
    with engine.connect() as conn:
        return verify_with_checkpoints(conn, lines, KEY)


def _victim(conn: Connection) -> str:
    """A denial with a fifth entry, so its fourth is in the middle of the chain."""
    return conn.scalar(select(A.c.denial_id).where(A.c.seq == 5).order_by(A.c.denial_id).limit(1))


def _entry(conn: Connection, denial_id: str, seq: int) -> dict[str, Any]:
    return dict(conn.execute(select(A).where(A.c.denial_id == denial_id, A.c.seq == seq)).mappings().one())


def _make_room(conn: Connection, denial_id: str, seq: int) -> None:
    """Move the entries from ``seq`` on up by one, in two steps (seq is unique per denial)."""
    later = (A.c.denial_id == denial_id, A.c.seq >= seq)
    conn.execute(update(A).where(*later).values(seq=A.c.seq + 1000))
    conn.execute(update(A).where(*later).values(seq=A.c.seq - 999))


def _edit(conn: Connection, victim: str) -> None:
    conn.execute(update(A).where(A.c.denial_id == victim, A.c.seq == 4).values(actor="someone.else"))


def _delete(conn: Connection, victim: str) -> None:
    conn.execute(delete(A).where(A.c.denial_id == victim, A.c.seq == 4))


def _delete_last(conn: Connection, victim: str) -> None:
    last = conn.scalar(select(A.c.id).where(A.c.denial_id == victim).order_by(A.c.seq.desc()).limit(1))
    conn.execute(delete(A).where(A.c.id == last))


def _reorder(conn: Connection, victim: str) -> None:
    third, fourth = _entry(conn, victim, 3)["id"], _entry(conn, victim, 4)["id"]
    conn.execute(update(A).where(A.c.id == third).values(seq=1003))
    conn.execute(update(A).where(A.c.id == fourth).values(seq=3))
    conn.execute(update(A).where(A.c.id == third).values(seq=4))


def _insert(conn: Connection, victim: str) -> None:
    forged = {k: v for k, v in _entry(conn, victim, 4).items() if k != "id"} | {"reason": "forged"}
    forged["hash"] = entry_hash(forged)  # a careful forger re-hashes the row it inserts
    _make_room(conn, victim, 4)
    conn.execute(insert(A).values(forged))


def _rehash(conn: Connection, victim: str) -> None:
    """Make the chain consistent again: seqs 1..n, every hash recomputed, the denial's head fixed."""
    rows = conn.execute(select(A).where(A.c.denial_id == victim).order_by(A.c.seq)).mappings().all()
    prev = None
    for seq, row in enumerate(rows, 1):
        digest = entry_hash({**row, "seq": seq, "prev_hash": prev})
        conn.execute(update(A).where(A.c.id == row["id"]).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    conn.execute(update(D).where(D.c.id == victim).values(audit_seq=len(rows), audit_head=prev))


def _vanish(conn: Connection, victim: str) -> None:
    for table, column in ((A, A.c.denial_id), (D, D.c.id), (store.OUTCOMES, store.OUTCOMES.c.denial_id),
                          (store.TIMERS, store.TIMERS.c.denial_id)):  # fmt: skip
        conn.execute(delete(table).where(column == victim))


ACTIONS: dict[str, Callable[[Connection, str], None]] = {
    "edit": _edit, "delete": _delete, "delete_last": _delete_last, "reorder": _reorder, "insert": _insert,
}  # fmt: skip


def _tamper(engine: Engine, action: str, consistent: bool = False) -> str:
    with tampering(engine) as conn:
        victim = _victim(conn)
        (ACTIONS | {"vanish": _vanish})[action](conn, victim)
        if consistent:
            _rehash(conn, victim)
    return victim


@pytest.mark.parametrize(
    ("action", "problem"),
    [("edit", "altered"), ("delete", "sequence gap"), ("delete_last", "head seq"), ("reorder", "prev_hash"),
     ("insert", "prev_hash")],
)  # fmt: skip
def test_the_plain_check_names_the_first_broken_entry(
    engine: Engine, signed: list[bytes], action: str, problem: str
) -> None:
    denial_id = _tamper(engine, action)
    with engine.connect() as conn:
        _, broken = verify(conn)
    assert broken is not None and broken.denial_id == denial_id
    assert problem in broken.problem
    assert not _verdict(engine, signed).ok


@pytest.mark.parametrize(
    ("action", "consistent", "problem"),
    [
        ("edit", True, "the chain was rewritten before the checkpoint"),
        ("reorder", True, "the chain was rewritten before the checkpoint"),
        ("insert", True, "the chain was rewritten before the checkpoint"),
        ("delete", True, "its chain has no entry"),
        ("delete_last", True, "its chain has no entry"),
        ("vanish", False, "the denial is gone with its audit entries"),
    ],
)
def test_a_rewrite_the_chain_hides_is_caught_by_the_checkpoints(
    engine: Engine, signed: list[bytes], action: str, consistent: bool, problem: str
) -> None:
    victim = _tamper(engine, action, consistent)
    with engine.connect() as conn:
        assert verify(conn)[1] is None  # the chains hold: only the signed heads show it
    verdict = _verdict(engine, signed)
    assert [(f.denial_id, problem in f.problem) for f in verdict.findings] == [(victim, True)], verdict.findings


def test_an_honest_log_matches_its_checkpoints_and_later_entries_are_chain_checked(
    engine: Engine, signed: list[bytes]
) -> None:
    doc = received_doc(1)
    commit(engine, inbound([doc, touch(received_id(doc), "x")], start=500))  # after the last checkpoint
    verdict = _verdict(engine, signed)
    assert verdict.ok and verdict.checkpoints == 2 and verdict.signed_denials == 30
    with engine.connect() as conn:
        assert verdict.entries_checked == verify(conn)[0]


def test_a_forged_or_removed_checkpoint_in_the_file_is_caught(engine: Engine, signed: list[bytes]) -> None:
    first, second = (orjson.loads(line) for line in signed)
    second["delta"][0][2] = "0" * 64  # a head "re-signed" without the key
    assert "signature does not match" in str(_verdict(engine, [signed[0], orjson.dumps(second)]).findings[0])
    assert "does not follow the start" in str(_verdict(engine, signed[1:]).findings[0])
    assert first["seq"] == 1


def test_a_large_change_is_signed_in_consecutive_checkpoints(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoints, "MAX_ENTRIES", 40)
    commit(engine, inbound(list(demo_events(30))))
    lines = _checkpoint(engine)
    records = [orjson.loads(line) for line in lines]
    assert len(records) > 2 and all(r["entries"] <= 40 for r in records)
    assert records[-1]["total_denials"] == 30 and _verdict(engine, lines).ok


def test_the_timer_tick_checkpoints_at_once_after_a_close_else_on_the_interval(engine: Engine) -> None:
    hourly = Checkpointer(engine, KEY, "checkpoints", every_s=3600)
    commit(engine, inbound(list(demo_events(30))))  # the demo closes some denials
    assert hourly.maybe_checkpoint() == 1 and hourly.maybe_checkpoint() == 0  # nothing changed since
    doc = received_doc(2)
    commit(engine, inbound([doc], start=500))
    assert hourly.maybe_checkpoint() == 0  # a change, no close: it waits for the interval
    hourly.every_s = 0
    assert hourly.maybe_checkpoint() == 1
    with engine.connect() as conn:
        reasons = list(conn.scalars(select(checkpoints.CHECKPOINTS.c.reason).order_by(checkpoints.CHECKPOINTS.c.seq)))
        [(_, [message])] = store.pending_outbox(conn, 10)[-1:]
    assert reasons == ["close", "interval"] and message.topic == "checkpoints"  # published by the relay
    assert Checkpointer(engine, None, "checkpoints").maybe_checkpoint() == 0  # no key: checkpointing is off


@pytest.mark.parametrize("statement", ["UPDATE audit_entries SET actor = 'x'", "DELETE FROM audit_entries"])
def test_the_database_refuses_to_change_or_remove_an_audit_entry(
    engine: Engine, signed: list[bytes], statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))


def test_a_checkpoint_waits_for_the_batch_in_flight_on_postgresql(engine: Engine) -> None:
    """A batch still uncommitted when a checkpoint starts is waited for and covered, not skipped.
    (A later batch cannot commit before it here: both update the same open-work counter row.)"""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite commits one writer at a time")
    made: list[bytes] = []
    commit(engine, inbound([received_doc(4)], start=1))
    with engine.connect() as slow:
        batch = PROCESSOR.process(slow, inbound([received_doc(3)]))
        store.write_batch(slow, batch.write, NOW)  # holds its entry ids, uncommitted
        worker = threading.Thread(target=lambda: made.extend(_checkpoint(engine)))
        worker.start()
        with engine.connect() as probe:  # ready: the checkpointer waits on the denials lock
            while not probe.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'ShareLock'"
                    " AND relation = 'denials'::regclass"
                )
            ):
                probe.rollback()
        slow.commit()
        worker.join()
    [record] = [orjson.loads(line) for line in made]
    assert {d for d, _, _ in record["delta"]} == {received_id(received_doc(3)), received_id(received_doc(4))}


def _cli(args: list[str], settings: Settings, key_file: Path | None) -> Any:
    env = {"DENIALFLOW_DATABASE_URL": settings.database_url, "DENIALFLOW_AUDIT_KEY": None,
           "DENIALFLOW_AUDIT_KEY_FILE": str(key_file) if key_file else None,
           "DENIALFLOW_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "DENIALFLOW_CHECKPOINTS_TOPIC": settings.checkpoints_topic}  # fmt: skip
    return CliRunner().invoke(app, args, env=env)


def test_the_cli_exports_checkpoints_and_verifies_against_a_file_or_the_topic(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY.secret)
    commit(engine, inbound(list(demo_events(10))))
    exported = tmp_path / "checkpoints.jsonl"
    made = _cli(["audit", "checkpoint", "--export", str(exported)], settings, key_file)
    assert made.exit_code == 0 and "checkpoint 1: 10 denials" in made.output, made.output
    assert len(exported.read_bytes().splitlines()) == 1
    relay = build_relay(settings)
    relay.drain()
    relay.producer.close()
    for source in (str(exported), "topic"):
        honest = _cli(["audit", "verify", "--checkpoints", source], settings, key_file)
        assert honest.exit_code == 0 and "matches every signed checkpoint" in honest.output, honest.output
    _tamper(engine, "vanish")
    caught = _cli(["audit", "verify", "--checkpoints", "topic"], settings, key_file)
    assert caught.exit_code == 1 and "FINDING denial " in caught.output and "is gone" in caught.output
    assert _cli(["audit", "verify"], settings, key_file).exit_code == 0  # what the plain check cannot see


@pytest.mark.parametrize("args", [["audit", "checkpoint"], ["audit", "verify", "--checkpoints", "x.jsonl"]])
def test_no_key_is_one_line_naming_the_setting(settings: Settings, args: list[str]) -> None:
    result = _cli(args, settings, None)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip() == "no audit key: set " + checkpoints.KEY_SETTINGS


def test_an_entry_timed_to_the_microsecond_in_another_zone_verifies_as_it_was_hashed(engine: Engine) -> None:
    """Verify reads the times as text (PostgreSQL formats them itself): that text must be
    exactly the canonical form the worker hashed, fractions and offsets included."""
    doc = {**received_doc(7), "occurred_at": "2026-10-01T09:30:15.123456-05:00"}
    commit(engine, inbound([doc, touch(received_id(doc), "ana@example.org")]))
    with engine.connect() as conn:
        stored = conn.execute(select(A).where(A.c.denial_id == received_id(doc)).order_by(A.c.seq)).mappings().all()
        assert stored[0]["occurred_at"].microsecond == 123456
        assert [entry_hash(e) for e in stored] == [e["hash"] for e in stored]
        assert verify(conn) == (len(stored), None)


def test_a_read_stopped_at_a_break_leaves_the_connection_usable(engine: Engine) -> None:
    """verify stops at the first break; on PostgreSQL the driver then cancels the streamed read,
    which would abort the caller's transaction (the checkpoints are proved after it)."""
    endless = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000) SELECT i FROM n")
    with engine.connect() as conn:
        assert conn.execute(select(1)).scalar() == 1  # a transaction is open, as verify's head query opens one
        rows = streamed_rows(conn, endless)
        assert next(rows) == (1,)
        rows.close()
        assert conn.execute(select(2)).scalar() == 2
