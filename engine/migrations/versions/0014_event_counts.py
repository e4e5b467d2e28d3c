"""running totals for /metrics

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:00:00

`event_counts` keeps what `/metrics` used to count over the whole audit log and the
processed-event table at every scrape (events applied by type, transitions by trigger,
processed events by outcome). The worker adds each batch's share in the batch's
transaction; here the totals start from what the store already holds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = [
    "INSERT INTO event_counts (kind, name, n) SELECT 'applied', event_type, COUNT(DISTINCT event_id)"
    " FROM audit_entries GROUP BY event_type",
    "INSERT INTO event_counts (kind, name, n) SELECT 'transition', \"trigger\", COUNT(*)"
    " FROM audit_entries GROUP BY \"trigger\"",
    "INSERT INTO event_counts (kind, name, n) SELECT 'outcome', outcome, COUNT(*) FROM processed_events GROUP BY outcome",
]


def upgrade() -> None:
    op.create_table(
        "event_counts",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    for statement in _BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("event_counts")
