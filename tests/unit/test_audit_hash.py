from datetime import UTC, datetime

import pytest

from engine.audit.chain import HASHED_FIELDS, canonical, entry_hash

ENTRY = {
    "denial_id": "d", "seq": 1, "event_id": "e", "event_type": "denial.received",
    "trigger": "receive", "from_state": None, "to_state": "received", "actor": "a", "role": "system",
    "occurred_at": datetime(2026, 1, 1, 12, tzinfo=UTC), "recorded_at": datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC),
    "reason": None, "payload": {"b": 1, "a": [1, "x"]}, "source_topic": "t", "source_partition": 0,
    "source_offset": 5, "prev_hash": None,
}  # fmt: skip


def test_canonical_form_ignores_key_order_and_timezone_representation() -> None:
    naive = {**ENTRY, "occurred_at": datetime(2026, 1, 1, 12), "recorded_at": datetime(2026, 1, 1, 12, 0, 1)}
    reordered = dict(reversed(list(ENTRY.items())))
    assert canonical(ENTRY) == canonical(naive) == canonical(reordered)


@pytest.mark.parametrize("field", HASHED_FIELDS)
def test_every_hashed_field_changes_the_hash(field: str) -> None:
    value = ENTRY[field]
    changed = {
        datetime: lambda v: v.replace(second=30),
        int: lambda v: v + 1,
        str: lambda v: v + "x",
        dict: lambda v: {**v, "c": 2},
        type(None): lambda v: "set",
    }[type(value)](value)
    assert entry_hash({**ENTRY, field: changed}) != entry_hash(ENTRY)
