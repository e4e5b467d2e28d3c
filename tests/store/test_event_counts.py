"""`event_counts`, the totals `/metrics` reads, kept by each batch: always what counting the
audit log and the processed-event table would give, through refusals, redeliveries, ids
reclaimed by a corrected re-send and record-by-record commits; and filled by its migration
from a store that had none."""

from alembic import command
from sqlalchemy import Connection, Engine, func, select

from engine.storage import store
from engine.storage.db import alembic_config
from tests.factories import received_doc, received_id, touch
from tests.store.batches import commit, inbound
from tests.store.test_dashboard import _seed

REFUSED_TOUCH = "guard.touched_requires_owner_or_lead"


def _counted(conn: Connection) -> dict[tuple[str, str], int]:
    c = store.COUNTS.c
    return {(k, name): n for k, name, n in conn.execute(select(c.kind, c.name, c.n)) if n}


def _recounted(conn: Connection) -> dict[tuple[str, str], int]:
    """The same figures the slow way, as `/metrics` computed them before the counters."""
    a, p = store.AUDIT.c, store.PROCESSED.c
    applied = select(a.event_type, func.count(func.distinct(a.event_id))).group_by(a.event_type)
    out = {("applied", t): n for t, n in conn.execute(applied)}
    out |= {("transition", t): n for t, n in conn.execute(select(a.trigger, func.count()).group_by(a.trigger))}
    out |= {("outcome", o): n for o, n in conn.execute(select(p.outcome, func.count()).group_by(p.outcome))}
    return out


def test_the_counters_agree_with_the_tables_through_refusals_redeliveries_and_reclaimed_ids(engine: Engine) -> None:
    first, second = received_doc(61), received_doc(62)
    commit(engine, inbound([first, second, b"{not json"]))
    with engine.connect() as conn:
        owner = store.get_denial(conn, received_id(first)).owner
    refused = {**touch(received_id(first), "not.the.owner"), "event_id": "shared-61"}
    corrected = {**touch(received_id(first), owner), "event_id": "shared-61"}
    commit(engine, inbound([refused, first], start=10))  # a refusal and a redelivered receipt
    commit(engine, inbound([corrected, {**touch(received_id(second), "nobody"), "event_id": "t-62"}], start=20))
    with engine.connect() as conn:
        counted = _counted(conn)
        assert counted == _recounted(conn)
    outcomes = {name: n for (kind, name), n in counted.items() if kind == "outcome"}
    # two receipts and the corrected touch applied; the malformed record and the stranger's touch refused
    assert outcomes == {"applied": 3, "schema.malformed_json": 1, REFUSED_TOUCH: 1}
    assert counted[("applied", "denial.touched")] == 1 and counted[("applied", "denial.received")] == 2


def test_the_migration_counts_what_the_store_already_holds(engine: Engine) -> None:
    _seed(engine)  # receipts, touches, appeals and their answers, write-offs
    with engine.connect() as conn:
        kept = _counted(conn)
        assert kept == _recounted(conn) and kept
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    command.downgrade(alembic_config(url), "0013")
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        assert _counted(conn) == kept
