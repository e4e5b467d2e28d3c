"""The demo feed tells a story the rules could have told: an escalation that names the touch
limit comes after that many touches, and a lead's own escalation names no engine rule."""

from sqlalchemy import Engine, select

from engine.demo.feed import demo_events
from engine.storage import store
from tests.store.batches import commit, inbound
from workflows.escalation import ESCALATING, EscalationRules

RULES = EscalationRules()


def test_every_demo_escalation_is_consistent_with_the_rules(engine: Engine) -> None:
    result, _ = commit(engine, inbound(list(demo_events(60))))
    assert result.rejected == 0
    a = store.AUDIT.c
    with engine.connect() as conn:
        rows = conn.execute(select(a.denial_id, a.trigger, a.role, a.payload).order_by(a.denial_id, a.seq)).all()
    touches: dict[str, int] = {}
    escalations = []
    for r in rows:
        touches[r.denial_id] = touches.get(r.denial_id, 0) + (r.trigger == "touch")
        if r.trigger == "escalate":
            escalations.append((r.role, r.payload["rule"], r.payload.get("detail", {}), touches[r.denial_id]))
    assert {rule for _, rule, _, _ in escalations} == {"lead_review", "touch_limit"}  # both kinds are shown
    for role, rule, detail, touched in escalations:
        if rule == "touch_limit":
            assert touched >= RULES.touch_limit and detail == {"touches": touched}, (role, detail, touched)
        else:
            assert role == "lead" and rule not in (*ESCALATING, "touch_limit") and detail.get("why"), (rule, detail)
