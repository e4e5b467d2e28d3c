"""Batched reads and writes for the worker's hot path, and the lookups the CLI needs.

One query loads a batch's denials, one finds which of its events were already
processed, and each table gets one multi-row statement per batch: per-row ORM
round trips cost ~10x on PostgreSQL (STYLE.md).
"""

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.clock import as_utc
from engine.errors import ConcurrencyConflict, NotFound
from engine.runtime.messages import Message, pack, unpack
from engine.storage import prevention_store
from engine.storage.bulk import BulkTable
from engine.storage.models import (
    AuditEntry,
    Authorization,
    Denial,
    DenialKey,
    EventCount,
    OutboxBatch,
    OutcomeEvent,
    OwnerWorkload,
    ProcessedEvent,
    ReviewItem,
    Timer,
)
from engine.storage.prevention_store import PreventionWrite

DENIALS = Denial.__table__
AUDIT = AuditEntry.__table__
PROCESSED = ProcessedEvent.__table__
OUTBOX = OutboxBatch.__table__
AUTHORIZATIONS = Authorization.__table__
WORKLOAD = OwnerWorkload.__table__
REVIEWS = ReviewItem.__table__
OUTCOMES = OutcomeEvent.__table__
TIMERS = Timer.__table__
KEYS = DenialKey.__table__
COUNTS = EventCount.__table__

_DATETIMES = ("received_at", "last_touch_at", "first_touch_at", "closed_at", "updated_at", "timer_due_at",
              "timer_fired_at")  # fmt: skip
#: What can change after receipt. Everything else is written once, on insert; updating
#: only these keeps the per-batch UPDATE small (`tests/unit/test_store_columns.py` checks
#: that no handler changes anything else).
MUTABLE = ("state", "team", "owner", "touches", "next_action_date", "last_touch_at", "first_touch_at", "resolution",
           "outcome", "root_cause", "closed_at", "updated_at", "version", "audit_seq", "audit_head",
           "filing_deadline", "appeal_deadline", "retro_auth_deadline", "auth_check", "timer_rule", "timer_due_at",
           "timer_generation", "timer_detail", "timer_fired_at", "timers_fired")  # fmt: skip
#: What the workflow reads of a stored denial, and the change feed repeats.
WORKING = ("id", *MUTABLE, "category", "priority", "payer_id", "site", "denied_cents", "received_at")
_INSERT_OUTBOX = insert(OUTBOX).returning(OUTBOX.c.id)


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


def denial_changes(denial: SimpleNamespace, before: SimpleNamespace) -> dict[str, Any]:
    """The update of a stored denial: its ``MUTABLE`` columns, checked against the version
    ``before`` has, and which of them differ from ``before`` (`BulkTable.update`)."""
    values = {name: getattr(denial, name) for name in MUTABLE}
    changed = tuple(name for name, value in values.items() if value != getattr(before, name))
    return {**values, "id": denial.id, "_version": before.version, "_changed": changed}


@dataclass
class BatchWrite:
    """Everything one batch changes, written in one transaction."""

    new_denials: list[dict[str, Any]] = field(default_factory=list)
    changed_denials: list[dict[str, Any]] = field(default_factory=list)  # `denial_changes` rows
    audit: list[dict[str, Any]] = field(default_factory=list)
    processed: list[dict[str, Any]] = field(default_factory=list)
    # replace a refusal's row: its digest in `_was`, its outcome in `_was_outcome`
    reclaimed: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[Message] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    workload: dict[str, int] = field(default_factory=dict)  # owner -> change in open denials
    timers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (authorization, rule) -> row
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # payer answers to appeals, write-offs
    prevention: PreventionWrite = field(default_factory=PreventionWrite)  # authorizations, alerts, claim checks


def load_denials(conn: Connection, ids: Collection[str]) -> dict[str, SimpleNamespace]:
    """Whole denials (for people and replay)."""
    if not ids:
        return {}
    rows = conn.execute(select(DENIALS).where(DENIALS.c.id.in_(list(ids))))
    return {row.id: to_denial(row._mapping) for row in rows}


def load_working(conn: Connection, ids: Collection[str]) -> dict[str, SimpleNamespace]:
    """The ``WORKING`` columns of a batch's denials in one query: what the worker needs."""
    return {d.id: d for d in _bulk(conn.dialect.name).denials.load(conn, list(ids), WORKING)}


TIMER_WORKING = ("denial_id", "rule", "generation", "active", "due_at", "fired_at")


def load_timers(conn: Connection, ids: Collection[str]) -> dict[str, dict[str, SimpleNamespace]]:
    """The batch's authorizations' timer rows (all but ``detail``, which rescheduling rewrites):
    authorization id -> rule -> row."""
    found: dict[str, dict[str, SimpleNamespace]] = {}
    for timer in _bulk(conn.dialect.name).timers.load(conn, list(ids), TIMER_WORKING, key="denial_id"):
        timer.due_at = as_utc(timer.due_at)
        found.setdefault(timer.denial_id, {})[timer.rule] = timer
    return found


def open_work(conn: Connection) -> dict[str, int]:
    """Open denials per named owner (one small table, not a count over the denials)."""
    return {row.owner: row.open for row in conn.execute(select(WORKLOAD))}


def batch_counts(batch: BatchWrite) -> dict[tuple[str, str], int]:
    """What the batch adds to `event_counts`: events applied by type (an event's entries are
    all written in its one batch), transitions by trigger, processed events by outcome (a
    reclaimed refusal moves from its old outcome to its new one)."""
    counts: Counter[tuple[str, str]] = Counter(("transition", e["trigger"]) for e in batch.audit)
    counts.update(("applied", event_type) for event_type, _ in {(e["event_type"], e["event_id"]) for e in batch.audit})
    counts.update(("outcome", r["outcome"]) for r in (*batch.processed, *batch.reclaimed))
    counts.subtract(("outcome", r["_was_outcome"]) for r in batch.reclaimed)
    return {key: n for key, n in counts.items() if n}


def _add_to(conn: Connection, table: Any, keys: Sequence[str], column: str, rows: list[dict[str, Any]]) -> None:
    """Add to counters (not replace them, unlike the bulk upserts), in one lock order for every worker."""
    if not rows:
        return
    stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={column: table.c[column] + stmt.excluded[column]})
    conn.execute(stmt, sorted(rows, key=lambda r: tuple(r[k] for k in keys)))


def _write_side_tables(conn: Connection, batch: BatchWrite) -> None:
    tables = _bulk(conn.dialect.name)
    if batch.reviews:
        conn.execute(insert(REVIEWS), batch.reviews)
    tables.timers.upsert(conn, [batch.timers[k] for k in sorted(batch.timers)], ("denial_id", "rule"))
    _add_to(conn, WORKLOAD, ["owner"], "open", [{"owner": o, "open": n} for o, n in batch.workload.items() if n])
    counts = batch_counts(batch)
    _add_to(conn, COUNTS, ["kind", "name"], "n", [{"kind": k, "name": name, "n": n} for (k, name), n in counts.items()])


def processed_ids(conn: Connection, keys: Collection[str]) -> dict[str, tuple[str | None, str]]:
    """Which of ``keys`` were processed already, each with the digest of the body it had and its outcome."""
    rows = _bulk(conn.dialect.name).processed.fetch(conn, list(keys), ("event_id", "digest", "outcome"), "event_id")
    return {event_id: (digest, outcome) for event_id, digest, outcome in rows}


_RECLAIM = (
    update(PROCESSED)
    .where(PROCESSED.c.event_id == bindparam("_id"), PROCESSED.c.digest == bindparam("_was"))
    .values(outcome=bindparam("_outcome"), processed_at=bindparam("_at"), digest=bindparam("_digest"))
)


def _reclaim_processed(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Replace refusals' rows (one statement for the batch), each only if still the refusal this batch read."""
    if not rows:
        return
    params = [{"_id": r["event_id"], "_was": r["_was"], "_outcome": r["outcome"], "_at": r["processed_at"],
               "_digest": r["digest"]} for r in rows]  # fmt: skip
    if conn.execute(_RECLAIM, params).rowcount != len(rows):
        raise ConcurrencyConflict("an event id was processed under this batch; reloading")


def denial_keys(conn: Connection, ids: Collection[str]) -> dict[str, str]:
    """Claim-line ids -> the stored ids of the denials migrated under older ones."""
    return dict(_bulk(conn.dialect.name).keys.fetch(conn, list(ids), ("key_id", "denial_id"), "key_id"))


@dataclass(frozen=True)
class _BulkTables:
    denials: BulkTable
    audit: BulkTable
    processed: BulkTable
    timers: BulkTable
    outcomes: BulkTable
    keys: BulkTable


@cache
def _bulk(dialect: str) -> _BulkTables:
    return _BulkTables(
        BulkTable(DENIALS, dialect, update_columns=MUTABLE),
        BulkTable(AUDIT, dialect),
        BulkTable(PROCESSED, dialect),
        BulkTable(TIMERS, dialect),
        BulkTable(OUTCOMES, dialect),
        BulkTable(KEYS, dialect),
    )


def write_batch(conn: Connection, batch: BatchWrite, now: datetime) -> int | None:
    """Write a batch; return its outbox row id (None if nothing to publish). Raises on a lost race."""
    tables = _bulk(conn.dialect.name)
    tables.denials.insert(conn, batch.new_denials)
    if tables.denials.update(conn, batch.changed_denials) != len(batch.changed_denials):
        raise ConcurrencyConflict("a denial changed under this batch; reloading")
    tables.audit.insert(conn, batch.audit)
    tables.outcomes.insert(conn, batch.outcomes)
    tables.processed.insert(conn, batch.processed)
    _reclaim_processed(conn, batch.reclaimed)
    _write_side_tables(conn, batch)
    prevention_store.write(conn, batch.prevention)
    if not batch.outbox:
        return None
    return int(conn.execute(_INSERT_OUTBOX, {"created_at": now, "messages": pack(batch.outbox)}).scalar_one())


def pending_outbox(conn: Connection, limit: int) -> list[tuple[int, list[Message]]]:
    """Committed batches not yet confirmed published, oldest first."""
    rows = conn.execute(select(OUTBOX.c.id, OUTBOX.c.messages).order_by(OUTBOX.c.id).limit(limit))
    return [(r.id, unpack(r.messages)) for r in rows]


def delete_outbox(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(delete(OUTBOX).where(OUTBOX.c.id.in_(list(ids))))


#: The shortest id prefix accepted for a denial (the dashboard shows 12 characters).
MIN_PREFIX = 6
_ID_CHARS = frozenset("0123456789abcdef")


def resolve_denial_id(conn: Connection, given: str) -> str:
    """The full id of the denial ``given`` names: the id itself, or a unique prefix of at least
    ``MIN_PREFIX`` characters, like git's short hashes. `NotFound` says which it was."""
    if conn.scalar(select(DENIALS.c.id).where(DENIALS.c.id == given)) is not None:
        return given
    if len(given) < MIN_PREFIX or not set(given.lower()) <= _ID_CHARS:
        raise NotFound(given)
    ids = DENIALS.c.id  # only hex digits reach LIKE, so nothing in the prefix is a wildcard
    prefixed = ids.like(given.lower() + "%")
    matches = conn.scalars(select(ids).where(prefixed).order_by(ids).limit(2)).all()
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(given)
    count = conn.scalar(select(func.count()).select_from(DENIALS).where(prefixed))
    raise NotFound(f"{given} (a prefix of {count} denials, e.g. {', '.join(matches)}: give more characters)")


def get_denial(conn: Connection, denial_id: str) -> SimpleNamespace:
    """The denial with this id or unique id prefix."""
    full = resolve_denial_id(conn, denial_id)
    return load_denials(conn, [full])[full]


def history(conn: Connection, denial_id: str) -> list[dict[str, Any]]:
    """A denial's audit entries in order, timestamps in UTC."""
    rows = conn.execute(select(AUDIT).where(AUDIT.c.denial_id == denial_id).order_by(AUDIT.c.seq))
    return [{**r._mapping, "occurred_at": as_utc(r.occurred_at), "recorded_at": as_utc(r.recorded_at)} for r in rows]


def count_by(conn: Connection, column: str) -> dict[str, int]:
    col = DENIALS.c[column]
    return {str(k): n for k, n in conn.execute(select(col, func.count()).group_by(col).order_by(col))}
