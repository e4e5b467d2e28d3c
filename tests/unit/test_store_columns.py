"""The worker updates only `store.MUTABLE` columns of a stored denial: no handler may change another."""

from engine.demo.feed import demo_events
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
