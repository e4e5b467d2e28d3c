"""The denial lifecycle: one shared `transitions` machine for every denial.

The machine is declared once at import time with ``model=None``; a denial is any
object with a ``state`` attribute, so restoring one is loading its row. Building a
machine (or calling ``add_model``) per denial costs milliseconds and megabytes each.
"""

from enum import StrEnum
from typing import Any

from transitions import Machine, MachineError

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


def fire(denial: Any, trigger: str) -> tuple[str, str]:
    """Move ``denial`` along ``trigger``; return (from, to) or refuse naming both."""
    source = denial.state
    try:
        MACHINE.events[trigger].trigger(denial)
    except MachineError:
        raise Rejected(
            "workflow.invalid_transition",
            f"{trigger!r} is not allowed from state {source!r}",
        ) from None
    return source, denial.state
