"""prevention: authorizations as tracked objects, their alerts, and pre-submission checks

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 22:00:00

`authorizations` gains its lifecycle (status, units counted from checked claims, the record
it supersedes or that superseded it) and an audit chain of its own (`authorization_entries`,
append-only like `audit_entries`, hash-chained per authorization; the row keeps the head).
`authorization_alerts` is the authorization team's queue of expiring, low, exhausted and
expired authorizations; `claim_checks` holds each outgoing claim's latest check (clear, hold,
released, void) and what it counts against each authorization. Existing records get their id.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_REFUSED = "authorization_entries is append-only"
_PG_UP = [
    f"""CREATE FUNCTION authorization_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_REFUSED}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$""",
    "CREATE TRIGGER authorization_entries_append_only BEFORE UPDATE OR DELETE ON authorization_entries"
    " FOR EACH ROW EXECUTE FUNCTION authorization_entries_append_only()",
    """DO $$ BEGIN
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'denialflow_app') THEN
            REVOKE UPDATE, DELETE ON authorization_entries FROM denialflow_app;
        END IF;
    END $$""",
]
_PG_DOWN = [
    "DROP TRIGGER authorization_entries_append_only ON authorization_entries",
    "DROP FUNCTION authorization_entries_append_only()",
]
_SQLITE_UP = [
    f"CREATE TRIGGER authorization_entries_no_{op_name.lower()} BEFORE {op_name} ON authorization_entries"
    f" BEGIN SELECT RAISE(ABORT, '{_REFUSED}: {op_name} refused'); END"
    for op_name in ("UPDATE", "DELETE")
]
_SQLITE_DOWN = ["DROP TRIGGER authorization_entries_no_update", "DROP TRIGGER authorization_entries_no_delete"]


def _authorization_id(payer_id: str, reference: str) -> str:
    """As `engine.intake.claim_identity.authorization_id_for` computes it (a migration keeps its own copy)."""
    return "auth-" + hashlib.sha256(f"{payer_id}\x1f{reference}".encode()).hexdigest()[:24]


def upgrade() -> None:
    with op.batch_alter_table("authorizations") as batch:
        batch.add_column(sa.Column("authorization_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("status", sa.String(12), server_default="active", nullable=False))
        batch.add_column(sa.Column("units_claimed", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("supersedes", sa.String(80), nullable=True))
        batch.add_column(sa.Column("superseded_by", sa.String(80), nullable=True))
        batch.add_column(sa.Column("updated_at", _TS, nullable=True))
        batch.add_column(sa.Column("audit_seq", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("audit_head", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_authorizations_authorization_id", ["authorization_id"])
    bind = op.get_bind()
    table = sa.table("authorizations", sa.column("payer_id"), sa.column("reference"), sa.column("authorization_id"))
    rows = bind.execute(sa.select(table.c.payer_id, table.c.reference)).all()
    if rows:
        stmt = table.update().where(table.c.payer_id == sa.bindparam("p"), table.c.reference == sa.bindparam("r"))
        bind.execute(stmt.values(authorization_id=sa.bindparam("a")),
                     [{"p": p, "r": r, "a": _authorization_id(p, r)} for p, r in rows])  # fmt: skip
    op.create_table(
        "authorization_entries",
        sa.Column("id", _SERIAL, nullable=False),
        sa.Column("authorization_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(500), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("occurred_at", _TS, nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("source_topic", sa.String(250), nullable=True),
        sa.Column("source_partition", sa.Integer(), nullable=True),
        sa.Column("source_offset", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("authorization_id", "seq", name="uq_authorization_entries_seq"),
    )
    op.create_table(
        "authorization_alerts",
        sa.Column("id", _SERIAL, nullable=False),
        sa.Column("authorization_id", sa.String(32), nullable=False),
        sa.Column("payer_id", sa.String(80), nullable=False),
        sa.Column("reference", sa.String(80), nullable=False),
        sa.Column("condition", sa.String(20), nullable=False),
        sa.Column("raised_at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_authorization_alerts_open", "authorization_alerts", ["authorization_id", "resolved_at"])
    op.create_table(
        "claim_checks",
        sa.Column("claim_id", sa.String(32), nullable=False),
        sa.Column("payer_id", sa.String(80), nullable=False),
        sa.Column("patient_control_number", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(4), nullable=True),
        sa.Column("frequency", sa.String(5), nullable=True),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("sub_causes", sa.String(400), nullable=False),
        sa.Column("was_held", sa.Boolean(), nullable=False),
        sa.Column("release", sa.String(20), nullable=True),
        sa.Column("released_by", sa.String(500), nullable=True),
        sa.Column("release_reason", sa.String(500), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("patient", sa.JSON(), nullable=True),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("first_checked_at", _TS, nullable=False),
        sa.Column("checked_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("claim_id"),
    )
    op.create_index("ix_claim_checks_verdict", "claim_checks", ["verdict", "checked_at"])
    op.create_index("ix_claim_checks_claim", "claim_checks", ["payer_id", "patient_control_number"])
    for statement in _PG_UP if bind.dialect.name == "postgresql" else _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in _PG_DOWN if op.get_bind().dialect.name == "postgresql" else _SQLITE_DOWN:
        op.execute(statement)
    op.drop_index("ix_claim_checks_claim", "claim_checks")
    op.drop_index("ix_claim_checks_verdict", "claim_checks")
    op.drop_table("claim_checks")
    op.drop_index("ix_authorization_alerts_open", "authorization_alerts")
    op.drop_table("authorization_alerts")
    op.drop_table("authorization_entries")
    with op.batch_alter_table("authorizations") as batch:
        batch.drop_constraint("uq_authorizations_authorization_id", type_="unique")
        for column in ("audit_head", "audit_seq", "updated_at", "superseded_by", "supersedes", "units_claimed",
                       "status", "authorization_id"):  # fmt: skip
            batch.drop_column(column)
