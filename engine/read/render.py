"""How a denial is shown to people: text for the terminal, JSON for scripts.

Patient data is masked here, at the one boundary where it leaves the store.
"""

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from engine.clock import as_utc
from engine.storage.models import transition_id
from workflows.escalation import EscalationRules, aging_bucket, deadline_alerts, describe_alert

SHOWN = ("id", "state", "category", "side", "team", "owner", "touches", "priority", "liability", "payer_id",
         "payer_name", "claim_control_number", "line", "procedure_code", "primary_group", "primary_reason",
         "carc_codes", "rarc_codes", "billed_cents", "paid_cents", "denied_cents", "date_of_service", "remit_date",
         "received_at", "next_action_date", "filing_deadline", "appeal_deadline", "retro_auth_deadline",
         "payer_profile_known", "auth_check", "resolution", "root_cause", "closed_at", "audit_seq")  # fmt: skip
DEADLINES = ("filing", "appeal", "retro_auth")
#: What a denial whose payer has no profile in the payer file says wherever it is shown.
LIMITS_UNKNOWN = "payer limits unknown, defaults used"


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


def deadlines(denial: SimpleNamespace, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each deadline on the denial with what its classification recorded: kind, days, basis and
    basis date, whether it had passed at receipt (a log older than that records the date only)."""
    classify = next((e for e in entries if e["trigger"] == "classify"), None)
    recorded = (classify["payload"] if classify else {}).get("deadlines", {})
    out = {}
    for name in DEADLINES:
        day = getattr(denial, f"{name}_deadline")
        if day is not None:
            rec = recorded.get(name)
            out[name] = {**(rec if isinstance(rec, dict) else {}), "date": day.isoformat()}
            if isinstance(rec, dict) and rec["date"] != day.isoformat():
                out[name]["extended_from"] = rec["date"]
    return out


def deadline_note(d: dict[str, Any]) -> str:
    """How a deadline was dated, e.g. "corrected claim, 90 d from remit date 2026-09-30"."""
    if "kind" not in d:
        return ""
    counted = d.get("basis_fallback", d["basis"]).replace("_", " ")
    note = f"{d['kind'].replace('_', ' ')}, {d['days']} d from {counted} {d['basis_date']}"
    if "basis_fallback" in d:
        note += f" ({d['basis'].replace('_', ' ')} not known)"
    if d.get("from_default"):
        note += ", default limit"
    if "extended_from" in d:
        note += f", extended from {d['extended_from']}"
    return note + (", already passed at receipt" if d["past_at_receipt"] else "")


def denial_json(denial: SimpleNamespace, entries: list[dict[str, Any]], today: date, phi: bool = False
                ) -> dict[str, Any]:  # fmt: skip
    """The denial and its timeline; the patient masked unless ``phi`` (a role that works the claim)."""
    age, bucket = _age(denial, today)
    alerts = _alerts(denial, today)
    dated = deadlines(denial, entries)
    for name, _, status in alerts:
        dated[name]["alert"] = status  # "passed" or "near": what the denial page highlights
    return {
        **{k: _plain(getattr(denial, k)) for k in SHOWN},
        "payer_limits": None if denial.payer_profile_known else LIMITS_UNKNOWN,
        "deadline_alerts": [describe_alert(a) for a in alerts],
        "deadlines": dated,
        "age_days": age,
        "aging_bucket": bucket,
        "escalation": (denial.outcome or {}).get("escalation"),
        "next_timer": pending_timer(denial),
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


def _alerts(denial: SimpleNamespace, today: date) -> list[tuple[str, date, str]]:
    """Passed or near deadlines of a denial still open (a settled one's deadlines no longer bind)."""
    if denial.state in ("resolved", "written_off", "closed"):
        return []
    return deadline_alerts(denial, today, EscalationRules().deadline_lead_days)


def dollars(cents: int | None) -> str:
    return "-" if cents is None else f"${cents / 100:,.2f}"


def amount(value: str | Decimal | None) -> str:
    """An amount as events carry it (decimal dollars, "1674.97") as people read it: "$1,674.97"."""
    return "-" if value is None else f"${Decimal(value):,.2f}"


def moment(value: datetime | str | None) -> str:
    """A moment (a datetime or its ISO text) to the minute, in UTC: "2026-10-13 09:00 UTC"."""
    if value is None:
        return "-"
    return f"{as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value):%Y-%m-%d %H:%M} UTC"


def yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def pending_timer(denial: SimpleNamespace) -> dict[str, Any] | None:
    """The escalation or flag the denial waits on, and when it falls due (None: nothing pending)."""
    if denial.timer_rule is None:
        return None
    fired = denial.timer_fired_at is not None
    return {"rule": denial.timer_rule, "due_at": _plain(denial.timer_due_at), "fired": fired}


def denial_text(denial: SimpleNamespace, entries: list[dict[str, Any]], today: date) -> str:
    patient = masked_patient(denial.patient) or {}
    age, bucket = _age(denial, today)
    dated = "".join(
        f"\n    {name:<10} {d['date']}{'  ' + note if (note := deadline_note(d)) else ''}"
        for name, d in deadlines(denial, entries).items()
    )
    lines = [
        f"denial {denial.id}  [{denial.state}]",
        *(f"  !! {describe_alert(a)}" for a in _alerts(denial, today)),
        f"  payer      {denial.payer_name} ({denial.payer_id})  claim {denial.claim_control_number} line {denial.line}",
        f"  patient    {patient.get('name')}  member {patient.get('member_id')}",
        f"  reason     {denial.primary_group}-{denial.primary_reason}  codes {denial.carc_codes}"
        f"{'  remarks ' + denial.rarc_codes if denial.rarc_codes else ''}",
        f"  class      {denial.category} / {denial.side}  liability {denial.liability}  priority {denial.priority}",
        f"  owner      {denial.owner or '(none)'}  team {denial.team}  touches {denial.touches}"
        f"  next action {denial.next_action_date or '-'}",
        f"  amounts    billed {dollars(denial.billed_cents)}  paid {dollars(denial.paid_cents)}"
        f"  denied {dollars(denial.denied_cents)}",
        f"  aging      {age} days ({bucket})",
        f"  next timer {_timer_line(pending_timer(denial))}",
        f"  deadlines  {'' if denial.payer_profile_known else LIMITS_UNKNOWN}{dated or ' -'}",
    ]
    escalation = (denial.outcome or {}).get("escalation")
    if escalation:
        lines.append(
            f"  escalated  {escalation['rule']} {escalation.get('detail') or ''} at {moment(escalation.get('at'))}"
        )
    flags = sorted((denial.outcome or {}).get("flags", {}))
    if flags:
        lines.append(f"  flags      {', '.join(flags)}")
    if denial.auth_check:
        lines.append(f"  auth check {denial.auth_check['sub_cause']}: {denial.auth_check['next_action']}")
    if cause := denial.root_cause:
        lines.append(f"  root cause {cause['category']}  preventable {yes_no(cause['preventable'])}")
    lines.append("  history")
    for e in entries:
        lines.append(
            f"    {e['seq']:>3} {e['occurred_at']:%Y-%m-%d %H:%M} {e['trigger']:<10} {e['from_state'] or '-':>11} -> "
            f"{e['to_state']:<11} {e['actor']} ({e['role']}){'  ' + e['reason'] if e['reason'] else ''}"
        )
    return "\n".join(lines)


def _timer_line(timer: dict[str, Any] | None) -> str:
    if timer is None:
        return "-"
    return f"{timer['rule']} at {moment(timer['due_at'])}{' (fired, being applied)' if timer['fired'] else ''}"
