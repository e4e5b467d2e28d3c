"""a denial's escalation timer kept on the denial

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:00

A denial's timers were rows of `timers`, about five per receipt, read and written beside
every event. The denial now carries the one timer it waits on (the soonest its state wants
and not yet fired for its moment), its generation and the moments its rules fired for;
`timers` keeps the authorizations' dated alerts. Each denial's rows become its columns:
its pending row due first (a flag before an escalation due with it) is its timer, its
fired rows are what it fired for, and its generation starts above every generation its
rows had, so no fire event id is ever used twice.
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import groupby, islice
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "timer_due_at IS NOT NULL AND timer_fired_at IS NULL"
FLAGGING = ("leadership", "soft_write_off")
CHUNK = 5_000

_TIMERS = sa.table(
    "timers",
    sa.column("denial_id", sa.String),
    sa.column("rule", sa.String),
    sa.column("generation", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("detail", sa.JSON),
    sa.column("fired_at", sa.DateTime(timezone=True)),
)
_DENIALS = sa.table(
    "denials",
    sa.column("id", sa.String),
    sa.column("timer_rule", sa.String),
    sa.column("timer_due_at", sa.DateTime(timezone=True)),
    sa.column("timer_generation", sa.Integer),
    sa.column("timer_detail", sa.JSON),
    sa.column("timers_fired", sa.JSON),
    sa.column("timer_fired_at", sa.DateTime(timezone=True)),
)
_UPDATE = (
    _DENIALS.update()
    .where(_DENIALS.c.id == sa.bindparam("d"))
    .values(timer_rule=sa.bindparam("rule"), timer_due_at=sa.bindparam("due"), timer_generation=sa.bindparam("gen"),
            timer_detail=sa.bindparam("detail"), timers_fired=sa.bindparam("fired"))  # fmt: skip
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _columns(rows: list[Any]) -> dict[str, Any]:
    """One denial's timer rows as its timer columns."""
    fired = {r.rule: _utc(r.due_at).isoformat() for r in rows if r.fired_at is not None}
    pending = [r for r in rows if r.active and r.fired_at is None]
    first = min(pending, key=lambda r: (_utc(r.due_at), r.rule not in FLAGGING), default=None)
    return {"d": rows[0].denial_id, "rule": first and first.rule, "due": first and _utc(first.due_at),
            "detail": first and first.detail, "gen": max(r.generation for r in rows) + 1, "fired": fired}  # fmt: skip


def _by_denial(conn: sa.Connection) -> Iterator[dict[str, Any]]:
    """Streamed (a server-side cursor on PostgreSQL): a store of millions of denials holds
    about five timer rows each, more than a migration should keep in memory at once."""
    rows = conn.execute(
        sa.select(_TIMERS).where(_TIMERS.c.denial_id.not_like("auth-%")).order_by(_TIMERS.c.denial_id)
        .execution_options(yield_per=CHUNK)
    )  # fmt: skip
    for _, grouped in groupby(rows, key=lambda r: r.denial_id):
        yield _columns(list(grouped))


def _in_chunks(conn: sa.Connection, statement: Any, values: Iterable[dict[str, Any]]) -> None:
    """Execute ``statement`` for every set of ``values``, CHUNK at a time."""
    values = iter(values)
    while chunk := list(islice(values, CHUNK)):
        conn.execute(statement, chunk)


def upgrade() -> None:
    op.add_column("denials", sa.Column("timer_rule", sa.String(30), nullable=True))
    op.add_column("denials", sa.Column("timer_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("denials", sa.Column("timer_generation", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("denials", sa.Column("timer_detail", sa.JSON(), nullable=True))
    op.add_column("denials", sa.Column("timer_fired_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("denials", sa.Column("timers_fired", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    conn = op.get_bind()
    _in_chunks(conn, _UPDATE, _by_denial(conn))
    op.execute("DELETE FROM timers WHERE denial_id NOT LIKE 'auth-%'")
    op.create_index(
        "ix_denials_timer_due",
        "denials",
        ["timer_due_at"],
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def _rows(r: Any) -> Iterator[dict[str, Any]]:
    """One denial's timer columns as timer rows: its fired moments, and its pending timer."""
    for rule, moment in (r.timers_fired or {}).items():
        fired = datetime.fromisoformat(moment)
        yield {"denial_id": r.id, "rule": rule, "generation": r.timer_generation, "active": False, "due_at": fired,
               "detail": {}, "fired_at": fired}  # fmt: skip
    if r.timer_rule is not None and r.timer_rule not in (r.timers_fired or {}):
        yield {"denial_id": r.id, "rule": r.timer_rule, "generation": r.timer_generation, "active": True,
               "due_at": _utc(r.timer_due_at), "detail": r.timer_detail or {},
               "fired_at": r.timer_fired_at and _utc(r.timer_fired_at)}  # fmt: skip


def downgrade() -> None:
    """The pending timers return as rows (the next one of each denial; the worker schedules
    the rest at the denial's next change), the fired moments as fired rows. A denial with
    neither (settled, its timers cancelled) keeps no generation."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(_DENIALS).where(_DENIALS.c.timer_generation > 0).execution_options(yield_per=CHUNK))
    _in_chunks(conn, _TIMERS.insert(), (timer for r in rows for timer in _rows(r)))
    op.drop_index("ix_denials_timer_due", "denials")
    with op.batch_alter_table("denials") as batch:
        for name in ("timers_fired", "timer_fired_at", "timer_detail", "timer_generation", "timer_due_at", "timer_rule"):
            batch.drop_column(name)
