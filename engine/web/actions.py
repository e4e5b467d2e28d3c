"""What staff and leads can do from a denial page, as data: each action is an event type,
the trigger it fires, who may send it and the form fields that make up its ``data``.

A submitted form becomes an event document exactly like any producer's; the event
schema and the engine's guards decide. The page offers only what those guards would accept
from this caller in this state (`available` asks them), so a button never leads to a refusal
the page could have foreseen.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, get_args

from engine.errors import Rejected
from engine.intake.event_data import Role, RootCauseCategory, WrittenOffData
from workflows.denial import MACHINE
from workflows.guards import check_actor, check_deadline, opencents


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
    fields: tuple[Field, ...]

    @property
    def slug(self) -> str:
        return self.event_type.removeprefix("denial.")


_OVERRIDE = Field("override_reason", "Override reason (lead, past a payer deadline)")
_OVERRIDE_NEEDED = Field("override_reason", "Override reason: the payer's deadline has passed", required=True)
_CAUSES = tuple(c.value for c in RootCauseCategory)
_WRITE_OFF_TYPES = get_args(WrittenOffData.model_fields["adjustment_type"].annotation)

ACTIONS: tuple[Action, ...] = (
    Action("denial.assigned", ("assign",), "Assign",
           (Field("owner", "Owner", required=True), Field("next_action_date", "Next action", "date"))),
    Action("denial.touched", ("touch",), "Record a touch",
           (Field("note", "Note", "textarea", required=True), Field("action", "What was done"),
            Field("next_action_date", "Next action", "date", required=True), _OVERRIDE)),
    Action("denial.appealed", ("appeal",), "Appeal filed",
           (Field("appeal_reference", "Appeal reference", required=True),
            Field("level", "Level", "select", ("1", "2", "3")), _OVERRIDE)),
    Action("denial.resubmitted", ("resubmit",), "Resubmitted",
           (Field("claim_reference", "Corrected claim reference", required=True), _OVERRIDE)),
    Action("denial.payer_responded", ("resolve", "uphold"), "Payer answered",
           (Field("outcome", "Outcome", "select", ("paid", "overturned", "upheld"), required=True),
            Field("paid_amount", "Paid amount"), Field("payment_trace", "Payment trace (EFT/check)"),
            Field("icn", "Payer ICN"), Field("decision_reference", "Decision reference"))),
    Action("denial.written_off", ("write_off",), "Approve write-off",
           (Field("adjustment_type", "Adjustment type", "select", _WRITE_OFF_TYPES, required=True),
            Field("amount", "Amount (at most what is open)", required=True),
            Field("reason_code", "Adjustment reason code (a $0 write-off needs one)"),
            Field("reason", "Reason", "textarea", required=True))),
    Action("denial.reassigned", ("reassign",), "Reassign",
           (Field("owner", "New owner", required=True), Field("reason", "Reason", required=True),
            Field("next_action_date", "Next action", "date"))),
    Action("denial.closed", ("close",), "Close with root cause",
           (Field("root_cause.category", "Root cause", "select", _CAUSES, required=True),
            Field("root_cause.handoff", "Hand-off that failed", required=True),
            Field("root_cause.preventable", "Preventable", "checkbox"),
            Field("root_cause.prevention_owner", "Prevention owner"),
            Field("evidence.payment_trace", "Evidence: payment trace"), Field("evidence.icn", "Evidence: ICN"),
            Field("evidence.paid_amount", "Evidence: paid amount"),
            Field("evidence.appeal_reference", "Evidence: appeal reference"),
            Field("evidence.decision", "Evidence: decision"), Field("evidence.approver", "Evidence: approver"),
            Field("evidence.reason", "Evidence: reason"))),
    Action("denial.reopened", ("reopen",), "Reopen", (Field("reason", "Reason", required=True),)),
)  # fmt: skip
BY_SLUG = {a.slug: a for a in ACTIONS}


@dataclass(frozen=True, slots=True)
class Offer:
    """An action this caller may take now, with the form fields to ask for (and what they start
    with): the override reason only of a lead, and required when only an override lets it past a
    passed deadline."""

    action: Action
    fields: tuple[Field, ...]
    override: bool = False
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, action: Action, role: Role, denial: Any, override: bool = False) -> "Offer":
        reason = (_OVERRIDE_NEEDED,) if override else (_OVERRIDE,) if role == Role.LEAD else ()
        fields = tuple(f for f in action.fields if f is not _OVERRIDE)
        return cls(action, fields + reason if _OVERRIDE in action.fields else fields, override,
                   _prefilled(action, denial))  # fmt: skip


def _prefilled(action: Action, denial: Any) -> dict[str, str]:
    """A write-off's form starts at the denial's open amount, the most the guards accept."""
    if action.event_type == "denial.written_off":
        return {"amount": f"{opencents(denial) / 100:.2f}"}
    return {}


def _probe(action: Action, who: Any, now: datetime) -> SimpleNamespace:
    """The event the guards would see if ``who`` sent ``action`` now with no override."""
    data = SimpleNamespace(action=None, override_reason=None)
    return SimpleNamespace(type=action.event_type, role=who.role, actor=who.name, occurred_at=now, data=data)


def available(denial: Any, who: Any, now: datetime) -> list[Offer]:
    """The actions the workflow allows from the denial's state that the engine's guards accept
    from ``who``: auditors and admins none, staff what their ownership allows, past a
    payer deadline only a lead (with an override reason)."""
    legal = set(MACHINE.get_triggers(denial.state))
    offers = []
    for action in ACTIONS:
        if not legal & set(action.triggers):
            continue
        probe = _probe(action, who, now)
        try:
            check_actor(probe, denial)
        except Rejected:
            continue
        try:
            check_deadline(probe, denial)
        except Rejected:
            if who.role != Role.LEAD:
                continue
            offers.append(Offer.of(action, who.role, denial, override=True))
            continue
        offers.append(Offer.of(action, who.role, denial))
    return offers


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
