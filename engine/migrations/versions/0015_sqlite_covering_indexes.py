"""the read side's indexes answered from the index alone on SQLite too

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 05:00:00

SQLite has no INCLUDE, so its forms of the dashboard's covering indexes carried only their
keys and every row they matched was read again from the table. Each becomes a SQLite index
with the included columns as trailing keys (`engine.storage.models.covering`); PostgreSQL's
are unchanged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.storage.models import CLOSED_INCLUDE, CLOSED_SQL, OPEN_INCLUDE, OPEN_SQL, RECEIVED_INCLUDE
from engine.storage.models.denials import OUTCOME_INCLUDE

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: name, table, keys, included columns, partial index predicate
INDEXES = [
    ("ix_denials_received", "denials", ["received_at"], RECEIVED_INCLUDE, None),
    ("ix_denials_closed", "denials", ["closed_at"], CLOSED_INCLUDE, CLOSED_SQL),
    ("ix_denials_open", "denials", ["denied_cents", "id"], OPEN_INCLUDE, OPEN_SQL),
    ("ix_outcome_events_occurred", "outcome_events", ["occurred_at"], OUTCOME_INCLUDE, None),
]


def _where(predicate: str | None) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(predicate)} if predicate else {}


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for name, table, keys, include, predicate in INDEXES:
        op.drop_index(name, table)
        op.create_index(f"{name}_sqlite", table, [*keys, *include], **_where(predicate))


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for name, table, keys, _, predicate in INDEXES:
        op.drop_index(f"{name}_sqlite", table)
        op.create_index(name, table, keys, **_where(predicate))
