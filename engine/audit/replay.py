"""Replay one denial's audit log through the workflow from nothing.

Each recorded event is rebuilt from its first audit entry and applied again; the
automatic decisions on receipt (classification, routing) are taken from the log
itself, so a later change to the rule files does not read as tampering. The
replay must reproduce every recorded step and end in the stored denial.
"""

from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from types import SimpleNamespace
from typing import Any

from engine.errors import Rejected
from engine.intake.events import parse
from workflows.apply import Step, apply_event
from workflows.policy import RecordedPolicy

REMIT_LINE_EVENTS = frozenset({"denial.received", "denial.paid"})
COMPARED = ("state", "category", "team", "owner", "touches", "resolution", "root_cause", "audit_seq")


@dataclass
class ReplayReport:
    denial_id: str
    lines: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _policy(group: list[dict[str, Any]], fallback: RecordedPolicy | None) -> RecordedPolicy | None:
    by_trigger = {e["trigger"]: e for e in group}
    if "classify" not in by_trigger:
        return fallback
    assign = by_trigger.get("assign")
    days = 7
    if assign is not None:
        due = date.fromisoformat(assign["payload"]["next_action_date"])
        days = (due - assign["occurred_at"].date()).days
    return RecordedPolicy(by_trigger["classify"]["payload"], assign and assign["payload"], days)


def _recorded(entry: dict[str, Any]) -> Step:
    return Step(entry["trigger"], entry["from_state"], entry["to_state"], entry["reason"], entry["payload"])


def replay(stored: SimpleNamespace, entries: list[dict[str, Any]]) -> ReplayReport:
    report = ReplayReport(stored.id)
    denial: SimpleNamespace | None = None
    policy: RecordedPolicy | None = None
    for event_id, grouped in groupby(entries, key=lambda e: e["event_id"]):
        group = list(grouped)
        first = group[0]
        try:  # an entry edited outside the engine may no longer be an event at all
            policy = _policy(group, policy)
            event = parse(
                {
                    "event_id": event_id,
                    "type": first["event_type"],
                    # a remittance line names its claim line, not the stored id (which for a denial
                    # migrated from the old identity is neither of the ids its data derives)
                    "denial_id": None if first["event_type"] in REMIT_LINE_EVENTS else first["denial_id"],
                    "occurred_at": first["occurred_at"],
                    "actor": first["actor"],
                    "role": first["role"],
                    "data": first["payload"],
                }
            )
        except (Rejected, LookupError, TypeError, ValueError, AttributeError) as exc:
            report.mismatches.append(f"seq {first['seq']}: event {event_id} no longer parses: {exc}")
            return report
        if policy is not None:
            policy.escalated_on_touch = any(e["trigger"] == "escalate" for e in group)
        try:
            denial, steps = apply_event(event, denial, policy)  # type: ignore[arg-type]
        except Rejected as exc:
            report.mismatches.append(f"seq {first['seq']}: event {event_id} is refused on replay: {exc}")
            return report
        denial.audit_seq += len(steps)
        for step, entry in zip(steps, group, strict=False):
            match = step == _recorded(entry)
            report.lines.append(
                f"{entry['seq']:>4}  {entry['occurred_at']:%Y-%m-%d %H:%M}  {step.trigger:<10} "
                f"{step.from_state or '-':>11} -> {step.to_state:<11} {entry['actor']} ({entry['role']})"
                f"{'  ' + step.reason if step.reason else ''}{'' if match else '   <-- MISMATCH'}"
            )
            if not match:
                report.mismatches.append(f"seq {entry['seq']}: recorded {_recorded(entry)}; replayed {step}")
        if len(steps) != len(group):
            report.mismatches.append(f"event {event_id}: {len(group)} recorded steps, replay gives {len(steps)}")
    if denial is None:
        report.mismatches.append("no audit entries")
        return report
    for name in COMPARED:
        want, got = getattr(stored, name), getattr(denial, name)
        if want != got:
            report.mismatches.append(f"{name}: stored {want!r}, replay gives {got!r}")
    return report
