"""The migrations build exactly the schema the models declare (tables, columns, indexes), on
both databases: a column or index added to a model without a migration fails here. A
migration that fills new columns from old data fills them as the worker would have."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import engine.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from engine.audit.chain import verify
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
