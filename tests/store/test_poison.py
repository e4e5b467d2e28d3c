"""No single record stops the worker: each hostile or broken one, among valid events, is
rejected with a reason (dead-lettered with its bytes) and the rest of the batch is applied
and written, on SQLite and PostgreSQL."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from engine.errors import ConcurrencyConflict
from engine.intake.records import DEAD_LETTER_MAX_BYTES, Inbound, body_digest
from engine.runtime.processor import ACCEPTED, Processor, Topics
from engine.runtime.timers import due_denials, fire_event
from engine.storage import store
from tests.factories import LEAD, event_doc, received_doc, received_id, touch
from tests.store.batches import NOW, PROCESSOR, commit, inbound
from workflows.policy import LivePolicy
from workflows.routing import Routing


def _deep(levels: int) -> bytes:
    return b'{"event_id": "deep", "data": ' + b"[" * levels + b"]" * levels + b"}"


def _with(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    target = out
    *parents, leaf = path.split(".")
    for name in parents:
        target = target[name]
    target[leaf] = value
    tag = hashlib.sha256(repr(value).encode()).hexdigest()[:10]  # the value itself may not be a valid id
    return {**out, "event_id": f"{out['event_id']}-{path}-{tag}"}


def hostile(good: dict[str, Any]) -> list[bytes | dict[str, Any] | None]:
    """Each of issue 10's killers, and then some: none may stop the batch."""
    denial = received_id(good)
    return [
        None,  # a tombstone
        _deep(1000),
        _deep(100_000),
        b'{"event_id": "\\ud800", "type": "denial.touched"}',  # a lone surrogate
        json.dumps({**touch(denial, "x"), "event_id": "\ud800"}).encode(errors="surrogatepass"),
        _with(good, "occurred_at", "9999-12-31T00:00:00+00:00"),
        _with(good, "data.remit_date", "9999-12-31"),
        _with(good, "data.date_of_service", "0001-01-01"),
        {
            **touch(denial, "lena.lead"),
            "event_id": "far-next",
            "role": "lead",
            "data": {"note": "x", "next_action_date": "9999-12-31"},
        },
        event_doc(
            "denial.deadline_extended", denial, LEAD, {"deadline": "appeal", "until": "0001-01-01", "reason": "typo"}
        ),
        _with(good, "data.payment_trace", "TRN\x00NUL"),
        _with(good, "actor", "clearing\x00house"),
        {**touch(denial, "x"), "event_id": "nul\x00id"},
        bytes(range(256)),  # random bytes
        json.dumps(good).encode()[:-40],  # truncated
        json.dumps(
            {
                **touch(denial, "x"),
                "event_id": "huge",
                "data": {"note": "x" * 5_000_000, "next_action_date": "2026-10-09"},
            }
        ).encode(),
    ]


def test_every_hostile_record_is_rejected_and_the_valid_ones_applied(engine: Engine) -> None:
    good, other = received_doc(41), received_doc(42)
    bad = hostile(good)
    messages = [Inbound("events", 0, i, None, m if m is None or isinstance(m, bytes) else json.dumps(m).encode())
                for i, m in enumerate([good, *bad, other])]  # fmt: skip
    result, _ = commit(engine, messages)
    assert (result.applied, result.rejected) == (2, len(bad))
    assert len([m for m in result.write.outbox if m.topic == "dlq"]) == len(bad)
    with engine.connect() as conn:
        assert set(conn.scalars(select(store.DENIALS.c.id))) == {received_id(good), received_id(other)}
        outcomes = conn.execute(select(store.PROCESSED.c.outcome)).scalars().all()
    assert outcomes.count("applied") == 2 and len(outcomes) == 2 + len(bad)


class _Exploding(LivePolicy):
    """A rule that fails in a way nobody foresaw, for one payer only."""

    def classify(self, data: Any) -> Any:
        if data.payer_id == "BOOM":
            raise ZeroDivisionError("unforeseen")
        return super().classify(data)


def test_a_record_that_fails_unforeseen_is_rejected_and_the_batch_worked_again_without_it(engine: Engine) -> None:
    processor = Processor(_Exploding(Routing.load()), Topics("feed", "dlq"), lambda: NOW)
    good, boom, after = received_doc(51), received_doc(52, payer_id="BOOM"), received_doc(53)
    with engine.begin() as conn:
        result = processor.process(conn, inbound([good, boom, after]))
        store.write_batch(conn, result.write, NOW)
    assert (result.applied, result.rejected_by_code) == (2, {"engine.internal_error": 1})
    letter = next(m for m in result.write.outbox if m.topic == "dlq")
    assert "ZeroDivisionError" in dict(letter.headers)["denialflow.error"]
    assert [e["denial_id"] for e in result.write.audit if e["trigger"] == "receive"] == [
        received_id(good), received_id(after)
    ]  # fmt: skip


@pytest.mark.parametrize("field", ["data.remit_date", "data.date_of_service"])
def test_dates_outside_the_window_name_the_field(engine: Engine, field: str) -> None:
    result, _ = commit(engine, inbound([_with(received_doc(61), field, "2101-01-01")]))
    header = json.loads(dict(result.write.outbox[0].headers)["denialflow.error"])
    assert (header["code"], header["field"]) == ("schema.invalid_field", field)


def test_a_huge_record_is_dead_lettered_truncated_with_its_size_and_digest(engine: Engine) -> None:
    raw = json.dumps({**touch(received_id(received_doc(81)), "x"), "data": {"note": "x" * 3_000_000}}).encode()
    result, _ = commit(engine, [Inbound("events", 0, 0, None, raw)])
    letter = result.write.outbox[0]
    truncated = json.loads(dict(letter.headers)["denialflow.truncated"])
    assert len(letter.value) == DEAD_LETTER_MAX_BYTES and raw.startswith(letter.value)
    assert truncated == {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def test_an_escalation_detail_is_bounded_in_size_and_depth(engine: Engine) -> None:
    denial = received_id(received_doc(82))
    wide = event_doc("denial.escalated", denial, LEAD, {"rule": "manual", "detail": {"x": "y" * 1_000_000}})
    deep = event_doc("denial.escalated", denial, LEAD, {"rule": "manual", "detail": {"a": {"b": {"c": {"d": {}}}}}})
    result, _ = commit(engine, inbound([received_doc(82), wide, deep]))
    fields = [json.loads(dict(m.headers)["denialflow.error"])["field"] for m in result.write.outbox if m.topic == "dlq"]
    assert fields == ["data.detail", "data.detail"]


def _codes(result: Any) -> list[str]:
    return [json.loads(dict(m.headers)["denialflow.error"])["code"] for m in result.write.outbox if m.topic == "dlq"]


def _processed(engine: Engine, event_id: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(store.PROCESSED).where(store.PROCESSED.c.event_id == event_id)).one()
    return row.outcome, row.digest


def _received(engine: Engine, n: int) -> tuple[str, str]:
    """A denial on file, and its owner (a touch by anyone else is refused)."""
    doc = received_doc(n)
    commit(engine, inbound([doc]))
    with engine.connect() as conn:
        return received_id(doc), store.get_denial(conn, received_id(doc)).owner


def test_a_refused_event_dedupes_its_redelivery_but_does_not_reserve_its_id(engine: Engine) -> None:
    denial, owner = _received(engine, 91)
    squat = {**touch(denial, "not.the.owner"), "event_id": "shared-7"}
    first, _ = commit(engine, inbound([squat], start=10))
    assert (first.rejected, len(_codes(first))) == (1, 1)
    again, _ = commit(engine, inbound([squat], start=11))  # redelivered: the same bytes
    assert (again.duplicates, again.rejected, again.write.outbox) == (1, 0, [])
    legit = {**touch(denial, owner), "event_id": "shared-7"}
    applied, _ = commit(engine, inbound([legit], start=12))
    assert (applied.applied, applied.rejected) == (1, 0)
    assert _processed(engine, "shared-7") == ("applied", body_digest(json.dumps(legit).encode()))
    with engine.connect() as conn:
        assert store.get_denial(conn, denial).touches == 1
    other = {**touch(denial, owner, day=2), "event_id": "shared-7"}
    conflict, _ = commit(engine, inbound([other], start=13))  # an applied id is kept: another body is a conflict
    assert _codes(conflict) == ["event.conflicting_duplicate"]


def test_a_refusal_and_another_body_under_its_id_in_one_batch_apply_the_second(engine: Engine) -> None:
    denial, owner = _received(engine, 92)
    squat, legit = ({**touch(denial, who), "event_id": "shared-8"} for who in ("not.the.owner", owner))
    result, _ = commit(engine, inbound([squat, legit], start=10))
    assert (result.rejected, result.applied, len(result.write.processed)) == (1, 1, 1)
    assert _processed(engine, "shared-8")[0] == "applied"


def test_an_id_reclaimed_under_a_batch_is_a_conflict_the_batch_retries(engine: Engine) -> None:
    denial, owner = _received(engine, 93)
    commit(engine, inbound([{**touch(denial, "not.the.owner"), "event_id": "shared-9"}], start=10))
    legit = inbound([{**touch(denial, owner), "event_id": "shared-9"}], start=11)
    with engine.connect() as conn:
        result = PROCESSOR.process(conn, legit)
    with engine.begin() as conn:  # meanwhile another worker replaced the refusal
        conn.execute(update(store.PROCESSED).where(store.PROCESSED.c.event_id == "shared-9").values(digest="x"))
    with pytest.raises(ConcurrencyConflict), engine.begin() as conn:
        store.write_batch(conn, result.write, NOW)


def test_timer_and_835_ids_are_refused_from_other_producers_and_stay_theirs(engine: Engine) -> None:
    denial, owner = _received(engine, 94)
    with engine.connect() as conn:  # the denial's timer as the timer service reads it when due
        row = next(
            r for r in conn.execute(due_denials(conn, datetime.max.replace(tzinfo=UTC), 100)) if r.denial_id == denial
        )
    fired = fire_event(row)
    receipt = {**received_doc(95), "event_id": "835-0b6e51a177a4"}
    squats = [{**touch(denial, owner), "event_id": fired["event_id"]},
              {**fired, "actor": "clearinghouse"},
              {**touch(denial, owner), "event_id": receipt["event_id"]}]  # fmt: skip
    result, _ = commit(engine, inbound(squats, start=10))
    assert _codes(result) == ["event.reserved_id"] * 3
    letters = [json.loads(dict(m.headers)["denialflow.error"])["field"] for m in result.write.outbox]
    assert letters == ["event_id"] * 3
    result, _ = commit(engine, inbound([fired, receipt], start=20))
    assert (result.applied, result.rejected) == (2, 0)
    assert _processed(engine, fired["event_id"])[0] in ACCEPTED
    assert _processed(engine, receipt["event_id"])[0] == "applied"
