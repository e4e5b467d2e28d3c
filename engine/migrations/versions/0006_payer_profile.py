"""payer profile: whether a denial's deadlines came from its payer's profile or the defaults

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:00:00

`denials.payer_profile_known` is false when the payer had no profile in the payer file on
receipt, so its deadlines are the defaults ("payer limits unknown, defaults used"). It is
in the open-work index so the dashboard counts such open denials in the pass it already
makes. Denials received before this revision are filled from the payer file in force now:
DENIALFLOW_PAYERS_FILE when set, else the payer ids of the packaged file at this revision.
"""

import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# as engine/storage/models/denials.py declares them at this revision; a migration is a snapshot
OPEN_SQL = "state IN ('received', 'classified', 'assigned', 'worked', 'appealed', 'resubmitted', 'escalated')"
OPEN_INCLUDE = ["state", "team", "owner", "received_at", "touches", "next_action_date", "filing_deadline",
                "appeal_deadline", "retro_auth_deadline", "payer_id", "category", "site"]  # fmt: skip
PACKAGED_PAYERS = ("MEDICARE-JL", "BCBS-NC", "AETNA", "UHC", "87726", "MEDICAID-NY")

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _known_payers() -> list[str]:
    path = os.environ.get("DENIALFLOW_PAYERS_FILE")
    return sorted(tomllib.loads(Path(path).read_text()).get("payers", {})) if path else list(PACKAGED_PAYERS)


def _open_index(include: list[str]) -> None:
    op.create_index("ix_denials_open", "denials", ["denied_cents", "id"], postgresql_include=include,
                    postgresql_where=sa.text(OPEN_SQL), sqlite_where=sa.text(OPEN_SQL))  # fmt: skip


def upgrade() -> None:
    op.add_column("denials", sa.Column("payer_profile_known", sa.Boolean(), server_default=sa.true(), nullable=False))
    denials = sa.table("denials", sa.column("payer_id", sa.String), sa.column("payer_profile_known", sa.Boolean))
    op.execute(denials.update().where(denials.c.payer_id.not_in(_known_payers())).values(payer_profile_known=False))
    op.drop_index("ix_denials_open", "denials")
    _open_index([*OPEN_INCLUDE, "payer_profile_known"])


def downgrade() -> None:
    op.drop_index("ix_denials_open", "denials")
    with op.batch_alter_table("denials") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("payer_profile_known")
    _open_index(OPEN_INCLUDE)
