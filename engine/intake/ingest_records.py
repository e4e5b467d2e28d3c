"""The ingest record: one row per 835 file, keyed by the SHA-256 of its bytes.

`denialflow ingest` and the remits consumer write it after each file, so a lead can see
which files came in, what they held, which envelope warnings they were accepted with and
which were refused and why. Reading the same bytes again refreshes the row (one row per
file, however often it is sent); a released record keeps what it says about the release.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.errors import NotFound
from engine.intake.ingest import FileResult, warning_docs
from engine.storage.models import IngestFile

INGEST_FILES = IngestFile.__table__
ACCEPTED, REFUSED, RELEASED = "accepted", "refused", "released"
#: A file with a warning per transaction could hold thousands; the counts keep the total.
MAX_RECORDED_WARNINGS = 500
#: What a later read of the same bytes refreshes, unless the record was released.
_REFRESHED = ("status", "counts", "warnings", "provider_adjustments", "error")


def record(conn: Connection, result: FileResult, now: datetime) -> None:
    """Insert the file's row, or refresh it when these bytes were seen before."""
    if result.digest is None:  # the file could not be read: nothing to key it by
        return
    row = {
        "digest": result.digest,
        "file_name": result.path[-500:],
        "first_seen_at": now,
        "last_seen_at": now,
        "status": ACCEPTED if result.error is None else REFUSED,
        "counts": result.counts(),
        "warnings": warning_docs(result.warnings[:MAX_RECORDED_WARNINGS]),
        "provider_adjustments": result.provider_adjustments,
        "error": result.error[:1000] if result.error else None,
    }
    stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(INGEST_FILES).values(row)
    released = INGEST_FILES.c.status == RELEASED
    refresh = {name: case((released, INGEST_FILES.c[name]), else_=stmt.excluded[name]) for name in _REFRESHED}
    conn.execute(stmt.on_conflict_do_update(index_elements=["digest"],
                                            set_={"last_seen_at": stmt.excluded.last_seen_at, **refresh}))  # fmt: skip


def recent(conn: Connection, limit: int = 200, status: str | None = None) -> Sequence[Row[Any]]:
    """The newest first (by when they were last seen)."""
    query = select(INGEST_FILES).order_by(INGEST_FILES.c.last_seen_at.desc(), INGEST_FILES.c.digest).limit(limit)
    if status is not None:
        query = query.where(INGEST_FILES.c.status == status)
    return conn.execute(query).all()


def find(conn: Connection, digest: str) -> Row[Any]:
    """The record whose digest is or starts with ``digest`` (a prefix must be unambiguous)."""
    prefix = digest.strip().lower()
    if not prefix:
        raise NotFound("no ingest record for an empty digest")
    rows = conn.execute(select(INGEST_FILES).where(INGEST_FILES.c.digest.startswith(prefix, autoescape=True))
                        .limit(2)).all()  # fmt: skip
    if len(rows) != 1:
        raise NotFound(f"{'no' if not rows else 'more than one'} ingest record with digest {prefix}")
    return rows[0]


def mark_released(conn: Connection, digest: str, released_as: str, actor: str, reason: str, now: datetime) -> bool:
    """A quarantined file becomes released, naming the fixed file's digest; False if it was not
    (or is no longer) quarantined."""
    release = {"status": RELEASED, "released_as": released_as, "released_by": actor[:120],
               "release_reason": reason[:500], "released_at": now}  # fmt: skip
    where = (INGEST_FILES.c.digest == digest, INGEST_FILES.c.status == REFUSED)
    done = conn.execute(update(INGEST_FILES).where(*where).values(release))
    return bool(done.rowcount)
