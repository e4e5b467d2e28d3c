"""ingest files: one record per 835 file by SHA-256, with its warnings, refusal and release

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00

`denialflow ingest` and the remits consumer record every file they read: what it held,
the envelope warnings it was accepted with, or why it was refused (its bytes are kept in
the quarantine directory under its digest) and who released it with which fixed file.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_files",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("provider_adjustments", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("released_by", sa.String(120), nullable=True),
        sa.Column("release_reason", sa.String(500), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_as", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_ingest_files_last_seen", "ingest_files", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_ingest_files_last_seen", "ingest_files")
    op.drop_table("ingest_files")
