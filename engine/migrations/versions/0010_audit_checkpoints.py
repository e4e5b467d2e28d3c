"""audit checkpoints, an append-only audit log, and the application role

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 13:15:00

`audit_checkpoints` holds the signed checkpoints of the audit chains' heads (engine/audit/checkpoints.py).
A trigger refuses UPDATE and DELETE on `audit_entries` on both databases (TRUNCATE, which the
tests use to empty a store, is not a row change). On PostgreSQL the role `denialflow_app`
(NOLOGIN; production logs in as a member of it) may read and write every table but only read
and append to `audit_entries` and `audit_checkpoints`; tables made later by the same owner get
the same grants by default. The role is cluster-wide and may serve other databases, so the
downgrade revokes its grants here and leaves it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED = "audit_entries is append-only"
_APPEND_ONLY = ("audit_entries", "audit_checkpoints")

_PG_UP = [
    f"""CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_REFUSED}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$""",
    "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries"
    " FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()",
    """DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'denialflow_app') THEN
            CREATE ROLE denialflow_app NOLOGIN;
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO denialflow_app', current_schema());
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO denialflow_app',
                       current_schema());
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO denialflow_app', current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES'
                       ' TO denialflow_app', current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO denialflow_app',
                       current_schema());
    END $$""",
    *(f"REVOKE UPDATE, DELETE ON {table} FROM denialflow_app" for table in _APPEND_ONLY),
]
_PG_DOWN = [
    """DO $$ BEGIN
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'denialflow_app') THEN
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM denialflow_app',
                           current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM denialflow_app',
                           current_schema());
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM denialflow_app', current_schema());
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM denialflow_app', current_schema());
            EXECUTE format('REVOKE ALL ON SCHEMA %I FROM denialflow_app', current_schema());
        END IF;
    END $$""",
    "DROP TRIGGER audit_entries_append_only ON audit_entries",
    "DROP FUNCTION audit_entries_append_only()",
]
_SQLITE_UP = [
    f"CREATE TRIGGER audit_entries_no_{op_name.lower()} BEFORE {op_name} ON audit_entries"
    f" BEGIN SELECT RAISE(ABORT, '{_REFUSED}: {op_name} refused'); END"
    for op_name in ("UPDATE", "DELETE")
]
_SQLITE_DOWN = ["DROP TRIGGER audit_entries_no_update", "DROP TRIGGER audit_entries_no_delete"]


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("to_entry_id", sa.BigInteger(), nullable=False),
        sa.Column("denials", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("sig", sa.String(64), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    for statement in _PG_UP if op.get_bind().dialect.name == "postgresql" else _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in _PG_DOWN if op.get_bind().dialect.name == "postgresql" else _SQLITE_DOWN:
        op.execute(statement)
    op.drop_table("audit_checkpoints")
