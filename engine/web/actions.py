"""What staff and leads can do from a denial page, as data: each action is an event type,
the trigger it fires, who may send it and the form fields that make up its ``data``.

A submitted form becomes an event document exactly like any producer's; the event
schema and the engine's guards decide, the page only shows their answer.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from engine.events import RootCauseCategory, WrittenOffData
from workflows.denial import MACHINE


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # dotted for nested data: "root_cause.category"
    label: str
    kind: str = "text"  # text | date | number | select | checkbox | textarea
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True, slots=True)
class Action:
    event_type: str
    triggers: tuple[str, ...]
    label: str
    lead_only: bool
    fields: tuple[Field, ...]

    @property
    def slug(self) -> str:
        return self.event_type.removeprefix("denial.")


_OVERRIDE = Field("override_reason", "Override reason (lead, past a payer deadline)")
_CAUSES = tuple(c.value for c in RootCauseCategory)
_WRITE_OFF_TYPES = get_args(WrittenOffData.model_fields["adjustment_type"].annotation)

ACTIONS: tuple[Action, ...] = (
    Action("denial.assigned", ("assign",), "Assign", True,
           (Field("owner", "Owner", required=True), Field("next_action_date", "Next action", "date"))),
    Action("denial.touched", ("touch",), "Record a touch", False,
           (Field("note", "Note", "textarea", required=True), Field("action", "What was done"),
            Field("next_action_date", "Next action", "date", required=True), _OVERRIDE)),
    Action("denial.appealed", ("appeal",), "Appeal filed", False,
           (Field("appeal_reference", "Appeal reference", required=True),
            Field("level", "Level", "select", ("1", "2", "3")), _OVERRIDE)),
    Action("denial.resubmitted", ("resubmit",), "Resubmitted", False,
           (Field("claim_reference", "Corrected claim reference", required=True), _OVERRIDE)),
    Action("denial.payer_responded", ("resolve", "uphold"), "Payer answered", False,
           (Field("outcome", "Outcome", "select", ("paid", "overturned", "upheld"), required=True),
            Field("paid_amount", "Paid amount"), Field("payment_trace", "Payment trace (EFT/check)"),
            Field("icn", "Payer ICN"), Field("decision_reference", "Decision reference"))),
    Action("denial.written_off", ("write_off",), "Approve write-off", True,
           (Field("adjustment_type", "Adjustment type", "select", _WRITE_OFF_TYPES, required=True),
            Field("amount", "Amount", required=True), Field("reason", "Reason", "textarea", required=True))),
    Action("denial.reassigned", ("reassign",), "Reassign", True,
           (Field("owner", "New owner", required=True), Field("reason", "Reason", required=True),
            Field("next_action_date", "Next action", "date"))),
    Action("denial.closed", ("close",), "Close with root cause", False,
           (Field("root_cause.category", "Root cause", "select", _CAUSES, required=True),
            Field("root_cause.handoff", "Hand-off that failed", required=True),
            Field("root_cause.preventable", "Preventable", "checkbox"),
            Field("root_cause.prevention_owner", "Prevention owner"),
            Field("evidence.payment_trace", "Evidence: payment trace"), Field("evidence.icn", "Evidence: ICN"),
            Field("evidence.paid_amount", "Evidence: paid amount"),
            Field("evidence.appeal_reference", "Evidence: appeal reference"),
            Field("evidence.decision", "Evidence: decision"), Field("evidence.approver", "Evidence: approver"),
            Field("evidence.reason", "Evidence: reason"))),
    Action("denial.reopened", ("reopen",), "Reopen", True, (Field("reason", "Reason", required=True),)),
)  # fmt: skip
BY_SLUG = {a.slug: a for a in ACTIONS}
#: Auditors read; they never act (the API refuses them too).
ACTING_ROLES = ("staff", "lead", "admin")


def available(state: str, role: str) -> list[Action]:
    """The actions the workflow allows from ``state`` that ``role`` may send."""
    if role not in ACTING_ROLES:
        return []
    legal = set(MACHINE.get_triggers(state))
    may_lead = role in ("lead", "admin")
    return [a for a in ACTIONS if legal & set(a.triggers) and (may_lead or not a.lead_only)]


def form_data(action: Action, form: Mapping[str, Any]) -> dict[str, Any]:
    """The event's ``data`` from a submitted form: blanks dropped, dotted names nested,
    checkboxes as booleans, numbers left for the schema to check."""
    data: dict[str, Any] = {}
    for f in action.fields:
        raw = form.get(f.name)
        if f.kind == "checkbox":
            value: Any = raw is not None
        elif raw is None or not str(raw).strip():
            continue
        else:
            value = str(raw).strip()
            value = int(value) if f.name == "level" and value.isdigit() else value
        *parents, leaf = f.name.split(".")
        target = data
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = value
    return data
