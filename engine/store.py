"""Batched reads and writes for the worker's hot path, and the lookups the CLI needs.

One query loads a batch's denials, one finds which of its events were already
processed, and each table gets one multi-row statement per batch: per-row ORM
round trips cost ~10x on PostgreSQL (STYLE.md).
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from engine.clock import as_utc
from engine.errors import ConcurrencyConflict, NotFound
from engine.models import AuditEntry, Denial, OutboxMessage, ProcessedEvent

DENIALS = Denial.__table__
AUDIT = AuditEntry.__table__
PROCESSED = ProcessedEvent.__table__
OUTBOX = OutboxMessage.__table__

_DATETIMES = ("received_at", "last_touch_at", "closed_at", "updated_at")
_UPDATE_DENIAL = (
    update(DENIALS)
    .where(DENIALS.c.id == bindparam("_id"), DENIALS.c.version == bindparam("_version"))
    .values({c.name: bindparam(c.name) for c in DENIALS.c if c.name != "id"})
)
_INSERT_OUTBOX = insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True)


def to_denial(mapping: Any) -> SimpleNamespace:
    """A loaded row as the plain object the workflow works on (datetimes in UTC)."""
    denial = SimpleNamespace(**mapping)
    for name in _DATETIMES:
        value = getattr(denial, name)
        if value is not None:
            setattr(denial, name, as_utc(value))
    return denial


def denial_row(denial: SimpleNamespace) -> dict[str, Any]:
    return {c.name: getattr(denial, c.name) for c in DENIALS.c}


@dataclass
class BatchWrite:
    """Everything one batch changes, written in one transaction."""

    new_denials: list[dict[str, Any]] = field(default_factory=list)
    changed_denials: list[dict[str, Any]] = field(default_factory=list)  # rows plus _id/_version
    audit: list[dict[str, Any]] = field(default_factory=list)
    processed: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)


def load_denials(conn: Connection, ids: Collection[str]) -> dict[str, SimpleNamespace]:
    if not ids:
        return {}
    rows = conn.execute(select(DENIALS).where(DENIALS.c.id.in_(list(ids))))
    return {row.id: to_denial(row._mapping) for row in rows}


def processed_ids(conn: Connection, keys: Collection[str]) -> set[str]:
    if not keys:
        return set()
    return set(conn.scalars(select(PROCESSED.c.event_id).where(PROCESSED.c.event_id.in_(list(keys)))))


def write_batch(conn: Connection, batch: BatchWrite) -> list[int]:
    """Write a batch; return the outbox ids in the order given. Raises on a lost race."""
    if batch.new_denials:
        conn.execute(insert(DENIALS), batch.new_denials)
    if batch.changed_denials:
        result = conn.execute(_UPDATE_DENIAL, batch.changed_denials)
        if result.rowcount != len(batch.changed_denials):
            raise ConcurrencyConflict("a denial changed under this batch; reloading")
    if batch.audit:
        conn.execute(insert(AUDIT), batch.audit)
    if batch.processed:
        conn.execute(insert(PROCESSED), batch.processed)
    if not batch.outbox:
        return []
    return list(conn.execute(_INSERT_OUTBOX, batch.outbox).scalars())


def pending_outbox(conn: Connection, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(OUTBOX).order_by(OUTBOX.c.id).limit(limit))
    return [dict(r._mapping) for r in rows]


def delete_outbox(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(delete(OUTBOX).where(OUTBOX.c.id.in_(list(ids))))


def get_denial(conn: Connection, denial_id: str) -> SimpleNamespace:
    found = load_denials(conn, [denial_id])
    if denial_id not in found:
        raise NotFound(denial_id)
    return found[denial_id]


def history(conn: Connection, denial_id: str) -> list[dict[str, Any]]:
    """A denial's audit entries in order, timestamps in UTC."""
    rows = conn.execute(select(AUDIT).where(AUDIT.c.denial_id == denial_id).order_by(AUDIT.c.seq))
    return [{**r._mapping, "occurred_at": as_utc(r.occurred_at), "recorded_at": as_utc(r.recorded_at)} for r in rows]


def count_by(conn: Connection, column: str) -> dict[str, int]:
    col = DENIALS.c[column]
    return {str(k): n for k, n in conn.execute(select(col, func.count()).group_by(col).order_by(col))}
