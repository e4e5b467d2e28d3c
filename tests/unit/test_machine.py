from types import SimpleNamespace

import pytest
from transitions import Machine, MachineError

from engine.errors import Rejected
from workflows.denial import MACHINE, TRANSITIONS, State, _compiled_moves, fire, machine_definition


def _sources(trigger: str) -> set[str]:
    t = next(t for t in TRANSITIONS if t["trigger"] == trigger)
    return {s.value for s in (t["source"] if isinstance(t["source"], list) else [t["source"]])}


def test_every_state_is_reachable_and_closed_leaves_only_by_reopen() -> None:
    dests = {t["dest"].value for t in TRANSITIONS}
    assert dests | {State.RECEIVED.value} == {s.value for s in State}
    leaving_closed = [t["trigger"] for t in TRANSITIONS if State.CLOSED.value in _sources(t["trigger"])]
    assert leaving_closed == ["reopen"]


def test_escalated_exits_are_write_off_appeal_and_reassign_or_the_payer_paying() -> None:
    exits = {t["trigger"] for t in TRANSITIONS if State.ESCALATED.value in _sources(t["trigger"])}
    assert exits == {"write_off", "appeal", "reassign", "settle"}


def test_no_auto_transitions_on_the_shared_machine() -> None:
    assert not any(name.startswith("to_") for name in MACHINE.events)


def test_fire_moves_state_and_returns_both_ends() -> None:
    d = SimpleNamespace(state="assigned")
    assert fire(d, "touch") == ("assigned", "worked")
    assert fire(d, "touch") == ("worked", "worked")
    assert d.state == "worked"


@pytest.mark.parametrize(("state", "trigger"), [("closed", "appeal"), ("received", "touch"), ("worked", "close")])
def test_invalid_transition_names_trigger_and_state_and_changes_nothing(state: str, trigger: str) -> None:
    d = SimpleNamespace(state=state)
    with pytest.raises(Rejected) as err:
        fire(d, trigger)
    assert err.value.code == "workflow.invalid_transition"
    assert trigger in err.value.message and state in err.value.message
    assert d.state == state


@pytest.mark.parametrize(
    ("state", "trigger"),
    [(s.value, t["trigger"]) for t in TRANSITIONS for s in State if s.value not in _sources(t["trigger"])],
)
def test_every_move_outside_the_table_is_refused(state: str, trigger: str) -> None:
    d = SimpleNamespace(state=state)
    with pytest.raises(Rejected, match=f"'{trigger}' is not allowed from state '{state}'"):
        fire(d, trigger)
    assert d.state == state


@pytest.mark.parametrize("trigger", sorted(MACHINE.events))
@pytest.mark.parametrize("state", [s.value for s in State])
def test_fire_moves_exactly_as_the_transitions_machine_does(state: str, trigger: str) -> None:
    """`fire` reads its moves off MACHINE once; here every (state, trigger) goes through both."""
    by_machine, by_fire = SimpleNamespace(state=state), SimpleNamespace(state=state)
    try:
        MACHINE.events[trigger].trigger(by_machine)
        moved = True
    except MachineError:
        moved = False
    if moved:
        assert fire(by_fire, trigger) == (state, by_machine.state) and by_fire.state == by_machine.state
    else:
        with pytest.raises(Rejected):
            fire(by_fire, trigger)
        assert by_fire.state == by_machine.state == state


def test_a_machine_with_a_callback_is_not_compiled_into_moves() -> None:
    guarded = Machine(model=None, **{**machine_definition(), "before_state_change": ["check"]})
    with pytest.raises(TypeError, match="callbacks"):
        _compiled_moves(guarded)
    conditional = machine_definition()
    conditional["transitions"] = [{**conditional["transitions"][0], "conditions": ["ok"]}]
    with pytest.raises(TypeError, match="conditions"):
        _compiled_moves(Machine(model=None, **conditional))
