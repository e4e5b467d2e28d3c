"""audit entries' reason as wide as what a step can write

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:20:00

A step's reason joins texts the schema bounds at 500 characters each (a touch's reason and a
lead's override, a deadline extension's figures and its reason): 500 refused such a step on
PostgreSQL with the whole batch. SQLite does not enforce a VARCHAR's length, but its schema
says what the models say: the table is rebuilt there (a copy; its DROP fires no trigger) and
the append-only triggers of 0010, which go with the old table, are made again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_REFUSED = "audit_entries is append-only"  # as 0010 words it
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_entries_no_{op_name.lower()} BEFORE {op_name} ON audit_entries"
    f" BEGIN SELECT RAISE(ABORT, '{_REFUSED}: {op_name} refused'); END"
    for op_name in ("UPDATE", "DELETE")
]


def _widen(old: int, new: int) -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.alter_column("reason", type_=sa.String(new), existing_type=sa.String(old), existing_nullable=True)
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    _widen(500, 2000)


def downgrade() -> None:
    _widen(2000, 500)
