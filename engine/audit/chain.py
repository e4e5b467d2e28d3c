"""The tamper-evident audit log: canonical serialization, hashing and verification.

Each denial's entries form a hash chain: ``hash = sha256(canonical(entry))`` where
the canonical form includes ``prev_hash``. The denial row keeps the chain's head
(``audit_seq``, ``audit_head``), so a deleted tail is as visible as an edited,
inserted or deleted middle entry. Authorizations keep chains of the same form in their
own table (`AUTHORIZATION_CHAINS`), checked the same way.
"""

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, DateTime, Select, Table, Text, cast, func, literal, select

from engine.clock import as_utc
from engine.storage.bulk import from_stored_time, streamed_rows
from engine.storage.models import AuditEntry, Authorization, AuthorizationEntry, Denial

#: What a chain's entry hashes besides the chain's own id (``denial_id``, ``authorization_id``).
CHAINED_FIELDS = (
    "seq", "event_id", "event_type", "trigger", "from_state", "to_state",
    "actor", "role", "occurred_at", "recorded_at", "reason", "payload",
    "source_topic", "source_partition", "source_offset", "prev_hash",
)  # fmt: skip
HASHED_FIELDS = ("denial_id", *CHAINED_FIELDS)


@dataclass(frozen=True, slots=True)
class Chains:
    """One kind of hash-chained log: its entries, the column naming the chain, and the
    table whose rows keep each chain's head."""

    noun: str
    entries: Table
    key: str
    heads: Table
    head_key: str


DENIAL_CHAINS = Chains("denial", AuditEntry.__table__, "denial_id", Denial.__table__, "id")
AUTHORIZATION_CHAINS = Chains("authorization", AuthorizationEntry.__table__, "authorization_id",
                              Authorization.__table__, "authorization_id")  # fmt: skip


@lru_cache(maxsize=4096)  # a batch repeats its "now" and each event's time on every entry
def _iso(value: datetime) -> str:
    """A time in the canonical form."""
    return as_utc(value).isoformat(timespec="microseconds")


def _iso_from_stored(value: str) -> str:
    """SQLite's stored text of a UTC time ("2026-10-05 08:00:00.000000", always with its
    microseconds) in the canonical form, without building a datetime."""
    if len(value) == 26 and value[10] == " ":
        return f"{value[:10]}T{value[11:]}+00:00"
    return _iso(from_stored_time(value))


def canonical(entry: Mapping[str, Any], key: str = "denial_id") -> bytes:
    """Stable bytes for an entry: JSON, sorted keys, no whitespace, UTF-8, UTC timestamps
    with microseconds, amounts as decimal strings (the event schema dumps them so)."""
    return _dumped({f: entry[f] for f in (key, *CHAINED_FIELDS)})


def _dumped(doc: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry's hashed fields (``doc`` is changed: its times put in form)."""
    doc["occurred_at"] = _iso(doc["occurred_at"])
    doc["recorded_at"] = _iso(doc["recorded_at"])
    return _sorted(doc)


def _sorted(doc: dict[str, Any]) -> bytes:
    """A document whose times are in form already, as canonical bytes."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def entry_hash(entry: Mapping[str, Any], key: str = "denial_id") -> str:
    return hashlib.sha256(canonical(entry, key)).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """The first place the chain does not hold."""

    denial_id: str  # the chain's id: a denial's, or an authorization's when ``noun`` says so
    seq: int | None
    entry_id: int | None
    problem: str
    noun: str = "denial"

    def __str__(self) -> str:
        where = f"{self.noun} {self.denial_id}" + (
            f" seq {self.seq} (audit row id {self.entry_id})" if self.seq else ""
        )
        return f"{where}: {self.problem}"


class _Entry(NamedTuple):
    """What verify reads of a stored entry: where it sits, its links, and its hashed fields."""

    chain: str
    seq: int
    id: int
    prev_hash: str | None
    hash: str
    doc: dict[str, Any]


#: A UTC time as `_iso` writes it ("2026-10-05T08:00:00.000000+00:00"), formatted by PostgreSQL.
_CANONICAL_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'


def _as_text(column: Any, is_time: bool, sqlite: bool) -> Any:
    """A column read as text: a time on PostgreSQL in its canonical form, anything else as stored."""
    if is_time and not sqlite:
        return func.to_char(func.timezone("UTC", column), _CANONICAL_TIME).label(column.name)
    return cast(column, Text).label(column.name)


def _entries(conn: Connection, chains: Chains, only: Select[Any] | None) -> Iterator[_Entry]:
    """The entries in chain order, each with the document its hash covers, read as the
    driver's rows (`streamed_rows`: on PostgreSQL about twice the entries/s of a server-side
    cursor's fetches under SQLAlchemy's rows). The payload comes as its stored text and is parsed with
    orjson (what wrote it), and the times as text: on PostgreSQL already in the canonical
    form (`_as_text`), on SQLite as stored, turned straight into it. SQLAlchemy's own result
    processing of these columns (stdlib json, a regex per time, a datetime each) was most of
    what verifying a store cost, its Row objects and a second dict per entry much of the rest."""
    t = chains.entries
    sqlite = conn.dialect.name == "sqlite"
    times = {c.name for c in t.c if isinstance(c.type, DateTime)}
    hashed = (chains.key, *CHAINED_FIELDS)
    columns = [_as_text(t.c[f], f in times, sqlite) if f in times or f == "payload" else t.c[f] for f in hashed]
    key = t.c[chains.key]
    stmt = select(t.c.id, t.c.hash, *columns).order_by(key, t.c.seq)
    if only is not None:
        stmt = stmt.where(key.in_(only))
    payload, seq, prev = (2 + hashed.index(f) for f in ("payload", "seq", "prev_hash"))
    converted = [(2 + hashed.index(f), f) for f in sorted(times)] if sqlite else []
    for row in streamed_rows(conn, stmt):
        doc = dict(zip(hashed, row[2:], strict=True))
        if row[payload] is not None:
            doc["payload"] = orjson.loads(row[payload])
        for at, name in converted:
            if row[at] is not None:
                doc[name] = _iso_from_stored(row[at])
        yield _Entry(row[2], row[seq], row[0], row[prev], row[1], doc)


def _heads(conn: Connection, chains: Chains, only: Select[Any] | None) -> dict[str, tuple[int, str | None]]:
    t = chains.heads
    key = t.c[chains.head_key]
    stmt = select(key.label("id"), t.c.audit_seq, t.c.audit_head).where(key.is_not(None))
    if only is not None:
        stmt = stmt.where(key.in_(only))
    return {r.id: (r.audit_seq, r.audit_head) for r in conn.execute(stmt)}


def touched_between(start: datetime, end: datetime) -> Select[Any]:
    """The denials with an audit entry recorded in ``[start, end)``: a chain can only be
    checked from its first entry, so a date range verifies these denials' whole chains."""
    a = AuditEntry.__table__.c
    return select(a.denial_id).where(a.recorded_at >= start, a.recorded_at < end).distinct()


def only(denial_id: str) -> Select[Any]:
    return select(literal(denial_id))


def verify(
    conn: Connection, denials: Select[Any] | None = None, chains: Chains = DENIAL_CHAINS
) -> tuple[int, Break | None]:
    """Check every chain (or those of ``denials``, a query of chain ids); return
    (entries checked, first break or None)."""
    heads = _heads(conn, chains, denials)
    noun = chains.noun
    checked = 0
    current: str | None = None
    expected_seq, prev_hash = 1, None

    def close_chain(denial_id: str) -> Break | None:
        head = heads.pop(denial_id, None)
        if head is None:
            return Break(denial_id, None, None, f"audit entries for a {noun} that does not exist", noun)
        if head != (expected_seq - 1, prev_hash):
            return Break(
                denial_id,
                expected_seq - 1,
                None,
                f"chain ends at seq {expected_seq - 1} but the {noun} records head seq {head[0]}"
                " (entries missing or added at the end)",
                noun,
            )
        return None

    for entry in _entries(conn, chains, denials):
        if entry.chain != current:
            if current is not None and (brk := close_chain(current)):
                return checked, brk
            current, expected_seq, prev_hash = entry.chain, 1, None
        checked += 1
        seq, eid = entry.seq, entry.id
        if seq != expected_seq:
            return checked, Break(current, seq, eid, f"sequence gap: expected seq {expected_seq}", noun)
        if entry.prev_hash != prev_hash:
            return checked, Break(
                current,
                seq,
                eid,
                "prev_hash does not match the previous entry's hash (entry inserted or removed)",
                noun,
            )
        if hashlib.sha256(_sorted(entry.doc)).hexdigest() != entry.hash:  # `_entries` put its times in form
            return checked, Break(current, seq, eid, "hash does not match the entry's contents (entry altered)", noun)
        expected_seq, prev_hash = seq + 1, entry.hash
    if current is not None and (brk := close_chain(current)):
        return checked, brk
    for denial_id, (seq, _) in sorted(heads.items()):
        if seq:
            return checked, Break(denial_id, None, None, f"{noun} records {seq} audit entries but none exist", noun)
    return checked, None
