"""One denial's audit log as an auditor must see it, even after someone edited the database:
an entry whose columns no longer read (a payload that is not JSON), a broken hash chain and an
event that no longer parses or replays are findings naming the entry's seq, shown as
tampering on the replay page, the denial page and in the evidence pack, never a 500.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, select

from engine.audit.chain import Break, only, verify
from engine.audit.replay import ReplayReport, replay
from engine.clock import as_utc
from engine.storage import store

AUDIT = store.AUDIT
#: What a column that no longer holds its type raises as SQLAlchemy reads it (SQLite hands back
#: whatever text an UPDATE wrote: JSON that does not decode, a timestamp that does not parse).
UNREADABLE = (ValueError, TypeError)
UNREAD = "the stored entry no longer reads (altered outside the engine)"


@dataclass(frozen=True, slots=True)
class LogCheck:
    entries: list[dict[str, Any]]  # the entries that still read, in order
    checked: int
    broken: Break | None
    report: ReplayReport
    unreadable: tuple[int, ...] = ()

    @property
    def findings(self) -> list[str]:
        """Each sign of tampering, naming the entry's seq where there is one."""
        unread = [f"denial {self.report.denial_id} seq {seq}: {UNREAD}" for seq in self.unreadable]
        chain = [str(self.broken)] if self.broken and not unread else []  # an unreadable entry is the break
        return unread + chain + self.report.mismatches

    @property
    def tampered(self) -> bool:
        return bool(self.findings)


def _unreadable_seqs(conn: Connection, denial_id: str) -> tuple[int, ...]:
    """The seqs of this denial's entries that fail to load, found one row at a time."""
    bad = []
    for entry_id, seq in conn.execute(select(AUDIT.c.id, AUDIT.c.seq).where(AUDIT.c.denial_id == denial_id)
                                      .order_by(AUDIT.c.seq)):  # fmt: skip
        try:
            conn.execute(select(AUDIT).where(AUDIT.c.id == entry_id)).one()
        except UNREADABLE:
            bad.append(seq)
    return tuple(bad)


def readable_history(conn: Connection, denial_id: str) -> tuple[list[dict[str, Any]], tuple[int, ...]]:
    """``store.history`` when every entry reads; else the entries that do, and the seqs that do not."""
    try:
        return store.history(conn, denial_id), ()
    except UNREADABLE:
        bad = _unreadable_seqs(conn, denial_id)
    rows = conn.execute(select(AUDIT).where(AUDIT.c.denial_id == denial_id, AUDIT.c.seq.notin_(bad))
                        .order_by(AUDIT.c.seq))  # fmt: skip
    entries = [{**r._mapping, "occurred_at": as_utc(r.occurred_at), "recorded_at": as_utc(r.recorded_at)} for r in rows]
    return entries, bad


def check_log(conn: Connection, denial: SimpleNamespace) -> LogCheck:
    """Read, verify and replay ``denial``'s log, turning whatever fails into findings."""
    entries, bad = readable_history(conn, denial.id)
    if bad:  # a log with holes proves nothing when replayed
        skipped = ReplayReport(denial.id, mismatches=["not replayed: the log has entries that no longer read"])
        return LogCheck(entries, len(entries), Break(denial.id, bad[0], None, UNREAD), skipped, bad)
    checked, broken = verify(conn, only(denial.id))
    return LogCheck(entries, checked, broken, replay(denial, entries))
