"""Batched reads and writes for prevention: authorizations, their alerts and audit chains,
and the pre-submission checks of outgoing claims.

As in `engine.storage.store`, a batch loads what its events touch in a few queries and
writes each table in one statement, inside the batch's transaction.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, tuple_, update

from engine.clock import as_utc
from engine.storage.bulk import BulkTable
from engine.storage.models import OPEN_STATES, Authorization, AuthorizationAlert, AuthorizationEntry, ClaimCheck, Denial

AUTHORIZATIONS = Authorization.__table__
DENIALS = Denial.__table__

ENTRIES = AuthorizationEntry.__table__
ALERTS = AuthorizationAlert.__table__
CLAIM_CHECKS = ClaimCheck.__table__
#: What the recheck of a late authorization reads of an open authorization denial.
_RECHECK_COLUMNS = ("id", "payer_id", "patient", "procedure_code", "rendering_npi", "site", "date_of_service",
                    "auth_check")  # fmt: skip


@dataclass
class PreventionWrite:
    """What one batch changes on the prevention side (written with the batch's denials)."""

    authorizations: dict[str, dict[str, Any]] = field(default_factory=dict)  # by authorization id: whole rows
    entries: list[dict[str, Any]] = field(default_factory=list)
    new_alerts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (auth id, condition)
    resolved_alerts: dict[int, datetime] = field(default_factory=dict)  # stored alert id -> when
    claim_checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # by claim id: whole rows


def _row(mapping: Any) -> SimpleNamespace:
    return SimpleNamespace(**mapping)


def load_authorizations(
    conn: Connection, pairs: Collection[tuple[str, str]], ids: Collection[str]
) -> dict[str, SimpleNamespace]:
    """Whole authorization rows of these patients (payer, member id) and these ids, by id."""
    clauses = []
    if pairs:
        clauses.append(tuple_(AUTHORIZATIONS.c.payer_id, AUTHORIZATIONS.c.member_id).in_(list(pairs)))
    if ids:
        clauses.append(AUTHORIZATIONS.c.authorization_id.in_(list(ids)))
    if not clauses:
        return {}
    rows = conn.execute(select(AUTHORIZATIONS).where(or_(*clauses)))
    return {r.authorization_id: _row(r._mapping) for r in rows if r.authorization_id}


def load_open_alerts(conn: Connection, ids: Collection[str]) -> dict[tuple[str, str], SimpleNamespace]:
    """Unresolved alerts of these authorizations by (authorization id, condition)."""
    if not ids:
        return {}
    query = select(ALERTS).where(ALERTS.c.authorization_id.in_(list(ids)), ALERTS.c.resolved_at.is_(None))
    return {(r.authorization_id, r.condition): _row(r._mapping) for r in conn.execute(query)}


def load_claim_checks(conn: Connection, ids: Collection[str]) -> dict[str, SimpleNamespace]:
    if not ids:
        return {}
    rows = conn.execute(select(CLAIM_CHECKS).where(CLAIM_CHECKS.c.claim_id.in_(list(ids))))
    return {r.claim_id: _row(r._mapping) for r in rows}


def open_authorization_denials(conn: Connection, payers: Collection[str]) -> list[SimpleNamespace]:
    """Open authorization denials at these payers (the caller matches the patient: member
    ids live in the PHI column, which no index reads)."""
    if not payers:
        return []
    columns = [DENIALS.c[c] for c in _RECHECK_COLUMNS]
    query = select(*columns).where(
        DENIALS.c.category == "authorization", DENIALS.c.payer_id.in_(list(payers)), DENIALS.c.state.in_(OPEN_STATES)
    )
    return [_row(r._mapping) for r in conn.execute(query)]


_RESOLVE = (
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("_id"), ALERTS.c.resolved_at.is_(None))
    .values(resolved_at=bindparam("_at"))
)


@dataclass(frozen=True)
class _Tables:
    authorizations: BulkTable
    entries: BulkTable
    claim_checks: BulkTable


@cache
def _tables(dialect: str) -> _Tables:
    return _Tables(BulkTable(AUTHORIZATIONS, dialect), BulkTable(ENTRIES, dialect), BulkTable(CLAIM_CHECKS, dialect))


def write(conn: Connection, batch: PreventionWrite) -> None:
    """One statement per table for the batch; a lock order by key for the upserts."""
    tables = _tables(conn.dialect.name)
    tables.authorizations.upsert(conn, [batch.authorizations[k] for k in sorted(batch.authorizations)],
                                 ("payer_id", "reference"))  # fmt: skip
    tables.entries.insert(conn, batch.entries)
    if batch.new_alerts:
        conn.execute(insert(ALERTS), [batch.new_alerts[k] for k in sorted(batch.new_alerts)])
    if batch.resolved_alerts:
        conn.execute(_RESOLVE, [{"_id": i, "_at": at} for i, at in sorted(batch.resolved_alerts.items())])
    tables.claim_checks.upsert(conn, [batch.claim_checks[k] for k in sorted(batch.claim_checks)], ("claim_id",))


def authorization_history(conn: Connection, authorization_id: str) -> list[dict[str, Any]]:
    """An authorization's audit entries in order, timestamps in UTC."""
    rows = conn.execute(select(ENTRIES).where(ENTRIES.c.authorization_id == authorization_id).order_by(ENTRIES.c.seq))
    return [{**r._mapping, "occurred_at": as_utc(r.occurred_at), "recorded_at": as_utc(r.recorded_at)} for r in rows]
