"""The migrations build exactly the schema the models declare (tables, columns, indexes), on
both databases: a column or index added to a model without a migration fails here. A
migration that fills new columns from old data fills them as the worker would have."""

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import engine.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from engine.audit.chain import verify
from engine.clock import as_utc
from engine.storage import store
from engine.storage.db import alembic_config
from engine.storage.models.covering import on_database
from tests.store.test_dashboard import _seed


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": on_database(conn.dialect.name)})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_migration_0005_fills_from_the_log_what_the_worker_writes(engine: Engine) -> None:
    _seed(engine)  # answers to appeals, a write-off, touches
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        written = conn.execute(select(store.OUTCOMES).order_by(store.OUTCOMES.c.denial_id, store.OUTCOMES.c.seq)).all()
        touched = conn.execute(
            select(store.DENIALS.c.id, store.DENIALS.c.first_touch_at).order_by(store.DENIALS.c.id)
        ).all()
    assert {r.kind for r in written} == {"overturned", "upheld", "written_off"}
    engine.dispose()
    command.downgrade(alembic_config(url), "0004")
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        assert conn.execute(select(store.OUTCOMES).order_by(store.OUTCOMES.c.denial_id, store.OUTCOMES.c.seq)).all() \
            == written  # fmt: skip
        assert (
            conn.execute(select(store.DENIALS.c.id, store.DENIALS.c.first_touch_at).order_by(store.DENIALS.c.id)).all()
            == touched
        )


def test_migration_0012_keeps_every_audit_entry_and_the_log_append_only(engine: Engine) -> None:
    """On SQLite it rebuilds `audit_entries`: nothing may be lost, and the triggers must come back."""
    _seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        before = conn.execute(select(store.AUDIT).order_by(store.AUDIT.c.id)).all()
    engine.dispose()
    command.downgrade(alembic_config(url), "0011")
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        assert conn.execute(select(store.AUDIT).order_by(store.AUDIT.c.id)).all() == before
        assert verify(conn)[1] is None
    for statement in (update(store.AUDIT).values(reason="rewritten"), delete(store.AUDIT)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)


def _timer_columns(engine: Engine) -> dict[str, tuple[Any, ...]]:
    d = store.DENIALS.c
    with engine.connect() as conn:
        rows = conn.execute(select(d.id, d.timer_rule, d.timer_due_at, d.timer_generation, d.timers_fired)).all()
    return {r.id: (r.timer_rule, r.timer_due_at and as_utc(r.timer_due_at), r.timer_generation, r.timers_fired)
            for r in rows}  # fmt: skip


def test_migration_0016_keeps_each_denials_timer_and_never_reuses_a_generation(engine: Engine) -> None:
    _seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    before = _timer_columns(engine)
    assert {rule for rule, *_ in before.values()} >= {"follow_up", None}  # open and settled denials
    engine.dispose()
    command.downgrade(alembic_config(url), "0015")
    command.upgrade(alembic_config(url), "head")
    after = _timer_columns(engine)
    assert {i: (rule, due, fired) for i, (rule, due, _, fired) in after.items()} == {
        i: (rule, due, fired) for i, (rule, due, _, fired) in before.items()
    }
    # a denial with a timer or a fired one comes back with rows, and a generation above them
    kept = [i for i, (rule, _, _, fired) in before.items() if rule or fired]
    assert kept and all(after[i][2] > before[i][2] for i in kept)


def test_migration_0016_takes_the_soonest_pending_row_and_remembers_the_fired_ones(engine: Engine) -> None:
    ids = _seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    command.downgrade(alembic_config(url), "0015")
    timers = sa.table("timers", *(sa.column(c) for c in ("denial_id", "rule", "generation", "active", "fired_at")),
                      sa.column("due_at", sa.DateTime(timezone=True)), sa.column("detail", sa.JSON))  # fmt: skip
    soon, later = datetime(2026, 10, 8, 9, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)

    def row(rule: str, generation: int, due: datetime, active: bool = True, fired: bool = False) -> dict[str, Any]:
        return {"denial_id": ids["b"], "rule": rule, "generation": generation, "active": active, "due_at": due,
                "fired_at": due if fired else None, "detail": {"rule": rule}}  # fmt: skip

    with engine.begin() as conn:
        conn.execute(timers.delete())
        conn.execute(timers.insert(), [
            row("aging", 1, later),
            row("ownership", 2, soon),
            row("soft_write_off", 1, soon),  # due with the escalation: the flag goes first
            row("follow_up", 4, datetime(2026, 10, 1, tzinfo=UTC), active=False, fired=True),
            row("leadership", 1, datetime(2026, 9, 1, tzinfo=UTC), fired=True),
            {**row("auth_expires_soon", 7, later), "denial_id": "auth-AETNA-A1"},
        ])  # fmt: skip
    command.upgrade(alembic_config(url), "head")
    rule, due, generation, fired = _timer_columns(engine)[ids["b"]]
    assert (rule, due, generation) == ("soft_write_off", soon, 5)  # above every generation its rows had
    assert fired == {"follow_up": "2026-10-01T00:00:00+00:00", "leadership": "2026-09-01T00:00:00+00:00"}
    with engine.connect() as conn:
        assert conn.scalar(select(store.DENIALS.c.timer_detail).where(store.DENIALS.c.id == ids["b"])) == {
            "rule": "soft_write_off"
        }
        assert [r.denial_id for r in conn.execute(select(store.TIMERS))] == ["auth-AETNA-A1"]  # alerts stay rows


def _root_causes(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(store.DENIALS.c.id, store.DENIALS.c.root_cause)).all())


def _root_cause_type(engine: Engine) -> str | None:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT data_type FROM information_schema.columns "
                                   "WHERE table_name = 'denials' AND column_name = 'root_cause'"))  # fmt: skip


def test_migration_0017_keeps_each_root_cause_as_it_retypes_the_column(engine: Engine) -> None:
    _seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    before = _root_causes(engine)
    assert sum(1 for cause in before.values() if cause) == 2  # both closed denials carry one
    engine.dispose()
    command.downgrade(alembic_config(url), "0016")
    assert _root_cause_type(engine) in (None, "json")
    assert _root_causes(engine) == before
    command.upgrade(alembic_config(url), "head")
    assert _root_cause_type(engine) in (None, "jsonb")
    assert _root_causes(engine) == before
