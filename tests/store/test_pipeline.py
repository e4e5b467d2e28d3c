"""A batch worked ahead, while the batch before it is still unwritten (the pipelined worker),
ends exactly as the two worked one after the other: same denials, same audit chain (hashes
and all), same processed ids and open-work counts, on SQLite and PostgreSQL."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from engine.demo.feed import demo_events
from engine.runtime.processor import BatchResult
from engine.storage import store
from engine.storage.db import make_engine
from tests.conftest import _truncate, sqlite_copy
from tests.factories import authorization_doc, received_id
from tests.store.batches import NOW, PROCESSOR, commit, inbound


def _batches() -> list[list[dict[str, Any]]]:
    """Three batches whose denials run across them, with what a batch in flight must be seen
    through: a touch refused in the second batch (its denial arrives in the third) and sent
    again corrected in the third, and a redelivery in the third of a record of the second."""
    events = list(demo_events(30))
    third = len(events) // 3
    first, second, last = events[:third], events[third : 2 * third], events[2 * third :]
    arriving = {received_id(e) for e in last if e["type"] == "denial.received"}
    early = next(e for e in last if e["type"] == "denial.touched" and e["denial_id"] in arriving)
    second.append({**early, "event_id": "touch-before-its-denial"})
    after_receipt = next(
        i for i, e in enumerate(last) if e["type"] == "denial.received" and received_id(e) == early["denial_id"]
    )
    last.insert(
        after_receipt + 1, {**early, "event_id": "touch-before-its-denial", "data": {**early["data"], "note": "again"}}
    )
    last.append(second[0])
    return [first, second, last]


def _stored(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    tables = {"denials": (store.DENIALS, "id"), "audit": (store.AUDIT, "denial_id, seq"),
              "processed": (store.PROCESSED, "event_id"), "workload": (store.WORKLOAD, "owner")}  # fmt: skip
    with engine.connect() as conn:
        return {
            name: [{k: v for k, v in r._mapping.items() if k != "id" or name == "denials"}
                   for r in conn.execute(select(table).order_by(*(table.c[c.strip()] for c in order.split(","))))]
            for name, (table, order) in tables.items()
        }  # fmt: skip


def _written(engine: Engine, result: BatchResult) -> None:
    with engine.begin() as conn:
        store.write_batch(conn, result.write, NOW)


def _second_store(engine: Engine, template: Path, tmp_path: Path) -> Engine:
    """An empty store beside ``engine``'s: a fresh SQLite file, or the same PostgreSQL
    database truncated (the audit log refuses DELETE)."""
    if engine.dialect.name == "sqlite":
        return make_engine(sqlite_copy(template, tmp_path / "pipelined.db"))
    _truncate(engine.url.render_as_string(hide_password=False))
    return engine


@pytest.mark.parametrize("landed_first", [False, True], ids=["write-in-flight", "write-committed-before-the-read"])
def test_batches_worked_ahead_of_their_writes_end_as_worked_in_turn(
    engine: Engine, sqlite_template: Path, tmp_path: Path, landed_first: bool
) -> None:
    """``landed_first``: the write in flight commits before the next batch reads the store (the
    writer can finish at any moment), so what is laid over is in the store already."""
    batches = [inbound(b, start=100 * n) for n, b in enumerate(_batches())]
    counts = [commit(engine, batch)[0].open_work for batch in batches]
    in_turn = _stored(engine)
    engine = _second_store(engine, sqlite_template, tmp_path)

    in_flight: BatchResult | None = None
    counts_ahead = []
    for batch in batches:  # batch N+1 is worked over batch N, written after it or before it reads
        if landed_first and in_flight is not None:
            _written(engine, in_flight)
        with engine.connect() as conn:
            ahead = PROCESSOR.process_ahead(conn, batch, in_flight)
        assert ahead is not None
        counts_ahead.append(ahead.open_work)
        if not landed_first and in_flight is not None:
            _written(engine, in_flight)
        in_flight = ahead
    assert in_flight is not None
    _written(engine, in_flight)

    pipelined = _stored(engine)
    assert pipelined == in_turn
    assert counts_ahead == counts and any(counts), "each batch saw the open work the one before it left"
    processed = {r["event_id"]: r["outcome"] for r in pipelined["processed"]}
    assert processed["touch-before-its-denial"] == "applied"  # the refusal in flight was reclaimed
    assert len(processed) == sum(len(b) for b in batches) - 2  # two ids came twice: the resend and the redelivery
    assert pipelined["workload"], "the batches routed work to named owners"


def test_a_batch_with_prevention_events_is_not_worked_ahead(engine: Engine) -> None:
    receipts = [e for e in demo_events(3) if e["type"] == "denial.received"]
    with engine.connect() as conn:
        assert PROCESSOR.process_ahead(conn, inbound(receipts), None) is not None
        assert PROCESSOR.process_ahead(conn, inbound([*receipts, authorization_doc()]), None) is None
