"""Keep an authorization's timer rows (its dated alerts) in line with what its state wants, in
the transaction of the change that moved it. A denial's one timer lives on the denial
(`engine.runtime.denial_timer`)."""

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from engine.storage.store import BatchWrite


def stale(rows: dict[str, SimpleNamespace], rule: str, generation: int) -> bool:
    """A fire event for a timer that was cancelled or moved after it was published."""
    row = rows.get(rule)
    return row is None or not row.active or row.generation != generation


def reschedule(
    write: BatchWrite,
    rows: dict[str, SimpleNamespace],
    subject_id: str,
    wanted: dict[str, tuple[datetime, dict[str, Any]]],
) -> None:
    """New rows are scheduled, moved ones get the next generation (so a fire event of the old
    one is stale), rows no longer wanted are deactivated; a timer that fired for this moment
    stays fired, even when wanted again."""
    for rule, (due, detail) in wanted.items():
        row = rows.get(rule)
        if row is not None and row.due_at == due and (row.active or row.fired_at is not None):
            continue
        generation = row.generation + 1 if row is not None else 1
        rows[rule] = SimpleNamespace(denial_id=subject_id, rule=rule, generation=generation, active=True,
                                     due_at=due, detail=detail, fired_at=None)  # fmt: skip
        write.timers[(subject_id, rule)] = vars(rows[rule])
    for rule, row in rows.items():
        if rule not in wanted and row.active:
            row.active = False
            write.timers[(subject_id, rule)] = {**vars(row), "detail": getattr(row, "detail", {})}
