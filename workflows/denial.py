"""The denial lifecycle: one shared `transitions` machine for every denial.

The machine is declared once at import time with ``model=None``; a denial is any
object with a ``state`` attribute, so restoring one is loading its row. Building a
machine (or calling ``add_model``) per denial costs milliseconds and megabytes each.
"""

from enum import StrEnum
from typing import Any

from transitions import Machine

from engine.errors import Rejected


class State(StrEnum):
    RECEIVED = "received"
    CLASSIFIED = "classified"
    ASSIGNED = "assigned"
    WORKED = "worked"
    APPEALED = "appealed"
    RESUBMITTED = "resubmitted"
    WRITTEN_OFF = "written_off"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CLOSED = "closed"


S = State

#: Every legal move. ``resolved`` is DOMAIN.md's "ready to close": the payer paid
#: (a later remittance, or a resubmission or appeal answered) or overturned an appeal.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "classify", "source": S.RECEIVED, "dest": S.CLASSIFIED},
    {"trigger": "assign", "source": S.CLASSIFIED, "dest": S.ASSIGNED},
    {"trigger": "touch", "source": [S.ASSIGNED, S.WORKED], "dest": S.WORKED},
    {"trigger": "appeal", "source": [S.WORKED, S.ESCALATED], "dest": S.APPEALED},
    {"trigger": "resubmit", "source": S.WORKED, "dest": S.RESUBMITTED},
    {"trigger": "write_off", "source": [S.WORKED, S.ESCALATED], "dest": S.WRITTEN_OFF},
    {"trigger": "resolve", "source": [S.APPEALED, S.RESUBMITTED], "dest": S.RESOLVED},
    {"trigger": "uphold", "source": [S.APPEALED, S.RESUBMITTED], "dest": S.WORKED},
    # a later remittance paid the claim line, whatever was being done about it
    {
        "trigger": "settle",
        "source": [S.CLASSIFIED, S.ASSIGNED, S.WORKED, S.ESCALATED, S.APPEALED, S.RESUBMITTED],
        "dest": S.RESOLVED,
    },
    {"trigger": "escalate", "source": [S.CLASSIFIED, S.ASSIGNED, S.WORKED], "dest": S.ESCALATED},
    {"trigger": "reassign", "source": [S.ESCALATED, S.ASSIGNED, S.WORKED], "dest": S.ASSIGNED},
    {"trigger": "close", "source": [S.RESOLVED, S.WRITTEN_OFF], "dest": S.CLOSED},
    {"trigger": "reopen", "source": S.CLOSED, "dest": S.ASSIGNED},
]

#: The transition that creates a denial has no source state.
CREATE_TRIGGER = "receive"


def _values(source: State | list[State]) -> list[str]:
    return [s.value for s in (source if isinstance(source, list) else [source])]


def machine_definition() -> dict[str, Any]:
    """The keyword arguments every machine built from this workflow shares."""
    return {
        "states": [s.value for s in State],
        "transitions": [
            {"trigger": t["trigger"], "source": _values(t["source"]), "dest": t["dest"].value} for t in TRANSITIONS
        ],
        "initial": State.RECEIVED.value,
        "auto_transitions": False,
    }


MACHINE = Machine(model=None, model_attribute="state", **machine_definition())


def _compiled_moves(machine: Machine) -> dict[tuple[str, str], str]:
    """(trigger, source) -> dest, read off the machine. The worker fires ~1.2 moves an event;
    `Event.trigger` spent ~14 us on each (logging, callback lists, the model lookup) where a
    dict lookup does the same job for a machine without callbacks. Any callback or condition
    added later makes this refuse to build rather than skip it."""
    moves: dict[tuple[str, str], str] = {}
    hooks = ("before_state_change", "after_state_change", "prepare_event", "finalize_event", "on_exception")
    if any(getattr(machine, hook) for hook in hooks) or any(s.on_enter or s.on_exit for s in machine.states.values()):
        raise TypeError("the denial machine has callbacks: fire() must go through transitions")
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                if t.conditions or t.before or t.after or t.prepare:  # "unless" is a condition too
                    raise TypeError(f"{trigger!r} has conditions or callbacks: fire() must go through transitions")
                moves[(trigger, source)] = t.dest
    return moves


_MOVES = _compiled_moves(MACHINE)


def fire(denial: Any, trigger: str) -> tuple[str, str]:
    """Move ``denial`` along ``trigger`` as the machine declares it; return (from, to) or
    refuse naming both."""
    source = denial.state
    dest = _MOVES.get((trigger, source))
    if dest is None:
        raise Rejected("workflow.invalid_transition", f"{trigger!r} is not allowed from state {source!r}")
    denial.state = dest
    return source, dest
