"""a denial's root cause stored as jsonb on PostgreSQL

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:30:00

The dashboard's closed pass reads ``root_cause ->> 'preventable'`` for every denial closed in
its range, and a ``json`` column is text that PostgreSQL parses again for each read: 40 of the
pass's 60 ms at 1M denials. ``jsonb`` is stored parsed. The change rewrites the table (and the
closed-in-range index that carries the column) once. The values are the same to every reader:
jsonb keeps neither key order nor whitespace, which no reader depends on (the audit log hashes
its own entries, not denial rows). SQLite has one JSON type: nothing changes there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _retype(to: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE denials ALTER COLUMN root_cause TYPE {to} USING root_cause::{to}")


def upgrade() -> None:
    _retype("jsonb")


def downgrade() -> None:
    _retype("json")
