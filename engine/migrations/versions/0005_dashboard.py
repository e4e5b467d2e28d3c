"""dashboard: first touch on the denial, covering indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:45:00

The dashboard reads time to first touch on every load; keeping it on the denial (set by
the first `denial.touched`) avoids scanning the audit log. Existing denials get it from
their audit entries. The indexes let PostgreSQL answer the dashboard's aggregates from
the index alone (see engine/models.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# as engine/models.py declares them today; a migration is a snapshot and must not follow later edits
OPEN_SQL = "state IN ('received', 'classified', 'assigned', 'worked', 'appealed', 'resubmitted', 'escalated')"
OPEN_INCLUDE = ["state", "denied_cents", "received_at", "touches", "next_action_date", "filing_deadline",
                "appeal_deadline", "retro_auth_deadline", "payer_id", "category", "site"]
RECEIVED_INCLUDE = ["payer_id", "category", "owner", "site", "team", "primary_group", "primary_reason", "denied_cents",
                    "first_touch_at"]
CLOSED_INCLUDE = ["received_at", "touches", "root_cause", "payer_id", "category", "site", "team"]

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
    op.create_index("ix_denials_received", "denials", ["received_at"], postgresql_include=RECEIVED_INCLUDE)
    op.create_index("ix_denials_closed", "denials", ["closed_at"], postgresql_include=CLOSED_INCLUDE)
    op.create_index("ix_denials_open", "denials", ["team", "owner"], postgresql_include=OPEN_INCLUDE,
                    postgresql_where=sa.text(OPEN_SQL), sqlite_where=sa.text(OPEN_SQL))  # fmt: skip
    op.create_index("ix_audit_trigger_occurred", "audit_entries", ["trigger", "occurred_at"],
                    postgresql_include=["from_state", "denial_id"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_audit_trigger_occurred", "audit_entries")
    op.drop_index("ix_denials_open", "denials")
    op.drop_index("ix_denials_closed", "denials")
    op.drop_index("ix_denials_received", "denials")
    with op.batch_alter_table("denials") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("first_touch_at")
