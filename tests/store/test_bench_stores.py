"""The benches load their stores in bulk, bypassing the worker: a column made NOT NULL or
renamed must fail here, in CI, not on the next person who runs a benchmark."""

from sqlalchemy import Engine, func, select

from bench import queries, timers, verify
from engine.audit.chain import verify as verify_chains
from engine.storage import store
from workflows.escalation import EscalationRules


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))  # type: ignore[arg-type]


def test_the_dashboard_bench_store_loads_and_answers(engine: Engine) -> None:
    _, audit_rows = queries.fill(engine, 40)
    assert _count(engine, store.DENIALS) == 40
    assert _count(engine, store.AUDIT) == audit_rows
    for name, query in queries.measurements(EscalationRules()).items():
        with engine.connect() as conn:
            assert query(conn) is not None, name


def test_the_timer_bench_store_loads_with_a_pending_timer_each(engine: Engine) -> None:
    timers.fill(engine, 30)
    timers.make_due(engine, 0, 5)
    with engine.connect() as conn:
        due = conn.scalar(select(func.count()).where(store.DENIALS.c.timer_due_at == timers.NOW))
    assert due == 5


def test_the_verify_bench_store_holds_intact_chains(engine: Engine) -> None:
    entries = verify.fill(engine, 20)
    assert entries == 20 * len(verify.PATH)
    with engine.connect() as conn:
        checked, broken = verify_chains(conn)
    assert (checked, broken) == (entries, None)
