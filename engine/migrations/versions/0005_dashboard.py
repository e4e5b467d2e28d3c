"""dashboard: first touch on the denial, indexes for date-range and audit-trigger queries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:45:00

Time to first touch is read on every dashboard load; keeping it on the denial (set by the
first `denial.touched`) avoids scanning the audit log. Existing denials get it from their
audit entries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("denials", sa.Column("first_touch_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE denials SET first_touch_at = (SELECT min(a.occurred_at) FROM audit_entries a "
        "WHERE a.denial_id = denials.id AND a.trigger = 'touch')"
    )
    op.create_index("ix_denials_received", "denials", ["received_at"])
    op.create_index("ix_denials_closed", "denials", ["closed_at"])
    op.create_index("ix_audit_trigger_occurred", "audit_entries", ["trigger", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_trigger_occurred", "audit_entries")
    op.drop_index("ix_denials_closed", "denials")
    op.drop_index("ix_denials_received", "denials")
    with op.batch_alter_table("denials") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("first_touch_at")
