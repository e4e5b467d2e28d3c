"""How a denial is shown to people: text for the terminal, JSON for scripts.

Patient data is masked here, at the one boundary where it leaves the store.
"""

from datetime import date
from types import SimpleNamespace
from typing import Any

from engine.models import transition_id
from workflows.escalation import aging_bucket

SHOWN = ("id", "state", "category", "side", "team", "owner", "touches", "priority", "liability", "payer_id",
         "payer_name", "claim_control_number", "line", "procedure_code", "primary_group", "primary_reason",
         "carc_codes", "rarc_codes", "billed_cents", "paid_cents", "denied_cents", "date_of_service", "remit_date",
         "received_at", "next_action_date", "filing_deadline", "appeal_deadline", "retro_auth_deadline",
         "auth_check", "resolution", "root_cause", "closed_at", "audit_seq")  # fmt: skip


def mask(value: str | None, keep: int = 0) -> str | None:
    if not value:
        return value
    return "*" * max(len(value) - keep, 3) + (value[-keep:] if keep else "")


def masked_patient(patient: dict[str, Any] | None) -> dict[str, Any] | None:
    if not patient:
        return None
    return {"name": mask(patient.get("name")), "member_id": mask(patient.get("member_id"), keep=4), "dob": "****"}


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _age(denial: SimpleNamespace, today: date) -> tuple[int, str]:
    received = denial.received_at.date()
    return (today - received).days, aging_bucket(received, today)


def denial_json(denial: SimpleNamespace, entries: list[dict[str, Any]], today: date, phi: bool = False
                ) -> dict[str, Any]:  # fmt: skip
    """The denial and its timeline; the patient masked unless ``phi`` (a role that works the claim)."""
    age, bucket = _age(denial, today)
    return {
        **{k: _plain(getattr(denial, k)) for k in SHOWN},
        "age_days": age,
        "aging_bucket": bucket,
        "escalation": (denial.outcome or {}).get("escalation"),
        "flags": sorted((denial.outcome or {}).get("flags", {})),
        "patient": denial.patient if phi else masked_patient(denial.patient),
        "history": [
            {"transition_id": transition_id(e["denial_id"], e["seq"])}
            | {k: _plain(e[k]) for k in ("seq", "event_id", "trigger", "from_state", "to_state",
                                      "actor", "role", "occurred_at", "reason", "source_topic", "source_partition",
                                      "source_offset", "hash")}
            for e in entries
        ],
    }  # fmt: skip


def dollars(cents: int | None) -> str:
    return "-" if cents is None else f"${cents / 100:,.2f}"


def denial_text(denial: SimpleNamespace, entries: list[dict[str, Any]], today: date) -> str:
    patient = masked_patient(denial.patient) or {}
    age, bucket = _age(denial, today)
    deadlines = "  ".join(
        f"{name} {getattr(denial, f'{name}_deadline')}"
        for name in ("filing", "appeal", "retro_auth")
        if getattr(denial, f"{name}_deadline")
    )
    lines = [
        f"denial {denial.id}  [{denial.state}]",
        f"  payer      {denial.payer_name} ({denial.payer_id})  claim {denial.claim_control_number} line {denial.line}",
        f"  patient    {patient.get('name')}  member {patient.get('member_id')}",
        f"  reason     {denial.primary_group}-{denial.primary_reason}  codes {denial.carc_codes}"
        f"{'  remarks ' + denial.rarc_codes if denial.rarc_codes else ''}",
        f"  class      {denial.category} / {denial.side}  liability {denial.liability}  priority {denial.priority}",
        f"  owner      {denial.owner or '(none)'}  team {denial.team}  touches {denial.touches}"
        f"  next action {denial.next_action_date or '-'}",
        f"  amounts    billed {dollars(denial.billed_cents)}  paid {dollars(denial.paid_cents)}"
        f"  denied {dollars(denial.denied_cents)}",
        f"  aging      {age} days ({bucket})  deadlines {deadlines or '-'}",
    ]
    escalation = (denial.outcome or {}).get("escalation")
    if escalation:
        lines.append(
            f"  escalated  {escalation['rule']} {escalation.get('detail') or ''} at {escalation.get('at', '-')}"
        )
    flags = sorted((denial.outcome or {}).get("flags", {}))
    if flags:
        lines.append(f"  flags      {', '.join(flags)}")
    if denial.auth_check:
        lines.append(f"  auth check {denial.auth_check['sub_cause']}: {denial.auth_check['next_action']}")
    if denial.root_cause:
        lines.append(f"  root cause {denial.root_cause['category']}  preventable {denial.root_cause['preventable']}")
    lines.append("  history")
    for e in entries:
        lines.append(
            f"    {e['seq']:>3} {e['occurred_at']:%Y-%m-%d %H:%M} {e['trigger']:<10} {e['from_state'] or '-':>11} -> "
            f"{e['to_state']:<11} {e['actor']} ({e['role']}){'  ' + e['reason'] if e['reason'] else ''}"
        )
    return "\n".join(lines)
