"""The worker updates only `store.MUTABLE` columns of a stored denial: no handler may change another."""

import re

import pytest
from pydantic import BaseModel
from sqlalchemy import Table

from engine.demo.feed import demo_events
from engine.intake.event_data import (
    AssignedData,
    AuthorizationData,
    PaidData,
    ReassignedData,
    ReceivedData,
    ReversedData,
    TimerFiredData,
)
from engine.intake.events import parse
from engine.storage import store
from workflows.apply import apply_event
from workflows.policy import LivePolicy
from workflows.routing import Routing


def test_handlers_change_only_mutable_columns() -> None:
    policy = LivePolicy(Routing.load())
    current: dict = {}
    changed: set[str] = set()
    for doc in demo_events(40):
        event = parse(doc)
        before = current.get(event.denial_id)
        after, _ = apply_event(event, before, policy)
        if before is not None:
            changed |= {k for k, v in vars(after).items() if vars(before).get(k) != v}
        current[after.id] = after
    assert changed, "the demo set must exercise follow-up events"
    assert changed <= set(store.MUTABLE) - {"version", "updated_at", "audit_seq", "audit_head"}


def test_working_columns_cover_what_the_feed_and_guards_read() -> None:
    assert {"state", "owner", "outcome", "resolution", "touches", "category", "payer_id"} <= set(store.WORKING)


def _max_length(schema: dict) -> int | None:
    """The longest text a property takes: its maxLength, its longest choice, the n of a
    pattern ending in ``{n}$`` or ``{m,n}$``, a list's items joined by commas; through an
    optional's anyOf."""
    if "anyOf" in schema:
        lengths = [_max_length(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return None if None in lengths else max(lengths)  # type: ignore[type-var]
    if "maxLength" in schema:
        return schema["maxLength"]
    if schema.get("type") == "array":
        item, count = _max_length(schema["items"]), schema.get("maxItems")
        return None if item is None or count is None else count * (item + 1) - 1
    if "enum" in schema:
        return max(map(len, schema["enum"]))
    fixed = re.search(r"\{(?:\d+,)?(\d+)\}\$$", schema.get("pattern", ""))
    return int(fixed.group(1)) if fixed else None


@pytest.mark.parametrize(
    ("model", "table"),
    [(ReceivedData, store.DENIALS), (PaidData, store.DENIALS), (ReversedData, store.REVIEWS),
     (AssignedData, store.DENIALS), (ReassignedData, store.DENIALS), (AuthorizationData, store.AUTHORIZATIONS)],
)  # fmt: skip
def test_every_event_text_stored_in_a_column_fits_it(model: type[BaseModel], table: Table) -> None:
    """Issue 10: a value the schema takes and the column cannot hold stopped the worker on PostgreSQL."""
    properties = model.model_json_schema()["properties"]
    checked = 0
    for name, schema in properties.items():
        column = table.c.get(name)
        width = getattr(getattr(column, "type", None), "length", None)
        if width is None:
            continue
        bound = _max_length(schema)
        assert bound is not None and bound <= width, f"{model.__name__}.{name}: {bound} for a column of {width}"
        checked += 1
    assert checked, f"{model.__name__} shares no text column with {table.name}"


def test_every_integer_an_event_stores_fits_32_bits() -> None:
    for model in (ReceivedData, ReversedData, AuthorizationData, TimerFiredData):
        for name, schema in model.model_json_schema()["properties"].items():
            for option in [schema, *schema.get("anyOf", []), schema.get("items", {})]:
                if option.get("type") == "integer":
                    assert option.get("maximum", 2**63) <= 2**31 - 1, f"{model.__name__}.{name} is unbounded"
