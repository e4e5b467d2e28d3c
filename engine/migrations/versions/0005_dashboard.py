"""dashboard: first touch on the denial, covering indexes, outcome_events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:45:00

The dashboard reads time to first touch on every load; keeping it on the denial (set by
the first `denial.touched`) avoids scanning the audit log. Existing denials get it from
their audit entries. The indexes let PostgreSQL answer the dashboard's aggregates from
the index alone (see engine/storage/models/denials.py). `outcome_events` repeats each payer answer to an
appeal and each write-off with its denial's dimensions (filled here from the audit log).
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

# as engine/storage/models/denials.py declares them today; a migration is a snapshot and must not follow later edits
OPEN_SQL = "state IN ('received', 'classified', 'assigned', 'worked', 'appealed', 'resubmitted', 'escalated')"
OPEN_INCLUDE = ["state", "team", "owner", "received_at", "touches", "next_action_date", "filing_deadline",
                "appeal_deadline", "retro_auth_deadline", "payer_id", "category", "site"]
RECEIVED_INCLUDE = ["payer_id", "category", "owner", "site", "team", "primary_group", "primary_reason", "denied_cents",
                    "first_touch_at"]
CLOSED_INCLUDE = ["received_at", "touches", "root_cause", "payer_id", "category", "site", "team"]
CLOSED_SQL = "closed_at IS NOT NULL"

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
    op.create_index("ix_denials_closed", "denials", ["closed_at"], postgresql_include=CLOSED_INCLUDE,
                    postgresql_where=sa.text(CLOSED_SQL), sqlite_where=sa.text(CLOSED_SQL))  # fmt: skip
    op.create_index("ix_denials_open", "denials", ["denied_cents", "id"], postgresql_include=OPEN_INCLUDE,
                    postgresql_where=sa.text(OPEN_SQL), sqlite_where=sa.text(OPEN_SQL))  # fmt: skip
    outcomes = op.create_table(
        "outcome_events",
        sa.Column("denial_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("adjustment_type", sa.String(40), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("payer_id", sa.String(80), nullable=False),
        sa.Column("team", sa.String(60), nullable=True),
        sa.Column("category", sa.String(40), nullable=True),
        sa.Column("site", sa.String(120), nullable=True),
        sa.PrimaryKeyConstraint("denial_id", "seq"),
    )
    op.create_index("ix_outcome_events_occurred", "outcome_events", ["occurred_at"], postgresql_include=[
        "kind", "adjustment_type", "amount_cents", "payer_id", "team", "category", "site"])  # fmt: skip
    _backfill_outcomes(outcomes)


def _backfill_outcomes(outcomes: sa.Table) -> None:
    """Answers to appeals and write-offs already in the audit log, with their denial's dimensions."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT a.denial_id, a.seq, a.occurred_at, a.trigger, a.payload, d.payer_id, d.team, d.category, d.site "
        "FROM audit_entries a JOIN denials d ON d.id = a.denial_id "
        "WHERE a.trigger = 'write_off' OR (a.trigger IN ('resolve', 'uphold') AND a.from_state = 'appealed')"
    ).columns(payload=sa.JSON, occurred_at=sa.DateTime(timezone=True))).all()  # fmt: skip
    kinds = {"write_off": "written_off", "resolve": "overturned", "uphold": "upheld"}
    values = []
    for r in rows:
        written_off = r.trigger == "write_off"
        amount = r.payload.get("amount") if written_off else None
        values.append({"denial_id": r.denial_id, "seq": r.seq, "occurred_at": r.occurred_at, "kind": kinds[r.trigger],
                       "adjustment_type": r.payload.get("adjustment_type") if written_off else None,
                       "amount_cents": int(Decimal(amount) * 100) if amount is not None else None,
                       "payer_id": r.payer_id, "team": r.team, "category": r.category, "site": r.site})  # fmt: skip
    if values:
        op.bulk_insert(outcomes, values)


def downgrade() -> None:
    op.drop_index("ix_outcome_events_occurred", "outcome_events")
    op.drop_table("outcome_events")
    op.drop_index("ix_denials_open", "denials")
    op.drop_index("ix_denials_closed", "denials")
    op.drop_index("ix_denials_received", "denials")
    with op.batch_alter_table("denials") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("first_touch_at")
