"""claim-line identity: event body digests, and the new ids of denials stored under the old ones

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 11:00:00

A denial's id is now derived from the practice's claim line (payer + CLP01 + line key)
instead of the payer's claim control number and line position. Stored denials keep their
ids (their audit chains hash them); `denial_keys` maps the id each one's claim line
resolves to now onto it, computed from the stored columns and the receipt's modifiers.
`processed_events.digest` lets a repeat of an event id with a different body be reported.
"""

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# engine/intake/events.py at this revision (a migration is a snapshot)
_DENIAL_NAMESPACE = uuid.UUID("6f0c1d52-5a43-4c61-9a0e-2f1e8e7d9b10")


def _key_id(payer_id: str, pcn: str, line: int, procedure: str | None, modifiers: list[str], dos: str) -> str:
    key = "0" if line == 0 else f"{procedure or ''}:{'-'.join(modifiers)}:{dos}:1"
    return uuid.uuid5(_DENIAL_NAMESPACE, f"{payer_id}|pcn:{pcn}|{key}").hex


def upgrade() -> None:
    with op.batch_alter_table("processed_events") as batch_op:
        batch_op.add_column(sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    keys = op.create_table(
        "denial_keys",
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("denial_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    conn = op.get_bind()
    receipts = conn.execute(sa.text(
        "SELECT d.id, d.payer_id, d.patient_control_number, d.line, d.procedure_code, d.date_of_service, a.payload"
        " FROM denials d JOIN audit_entries a ON a.denial_id = d.id AND a.seq = 1"
    ))  # fmt: skip
    rows: dict[str, str] = {}
    for r in receipts:
        payload = json.loads(r.payload) if isinstance(r.payload, str) else r.payload
        key_id = _key_id(r.payer_id, r.patient_control_number, r.line, r.procedure_code,
                         list(payload.get("modifiers") or []), str(r.date_of_service))  # fmt: skip
        if key_id != r.id:
            rows.setdefault(key_id, r.id)  # two old denials on one claim line: the first keeps the line
    if rows:
        op.bulk_insert(keys, [{"key_id": k, "denial_id": v} for k, v in rows.items()])


def downgrade() -> None:
    op.drop_table("denial_keys")
    with op.batch_alter_table("processed_events") as batch_op:
        batch_op.drop_column("digest")
