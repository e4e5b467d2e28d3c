"""An authorization's standing on the engine's clock, and the alerts it raises (pure).

Statuses: ``active``; ``expiring`` (inside the payer's warning days before ``valid_to``, or
remaining units at or below the payer's threshold); ``exhausted`` (no units left);
``expired`` (past ``valid_to``); ``superseded`` (a later record replaced it). Each status
but active and superseded comes from a condition; an alert is raised when a condition
starts to hold and resolved when it stops (more units approved, the window extended).
The dated conditions need a moment to be noticed at: `alert_timers` gives the timer rows
the timer service fires, recomputed whenever the record changes.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from workflows.auth_rules import PayerAuthRules
from workflows.authorization import AuthRecord

STATUSES = ("active", "expiring", "exhausted", "expired", "superseded")
#: Conditions, most serious first: the first that holds names the status.
CONDITIONS = {"expired": "expired", "exhausted": "exhausted", "expires_soon": "expiring", "units_low": "expiring"}
#: What the authorization team does about each.
ACTIONS = {
    "expires_soon": "request an extension or a new authorization before valid_to (concurrent review)",
    "units_low": "request additional units before the last approved session",
    "exhausted": "no units left: request more before the next session, or the claim will be denied",
    "expired": "the authorization has ended: obtain a new one before the next date of service",
}


def conditions(record: AuthRecord, today: date, rules: PayerAuthRules) -> set[str]:
    """The alerting conditions that hold for the record today."""
    held: set[str] = set()
    if record.status == "superseded":
        return held
    if today > record.valid_to:
        held.add("expired")
    elif today >= record.valid_to - timedelta(days=rules.alert_days(record.auth_type)):
        held.add("expires_soon")
    remaining = record.units_remaining
    if remaining is not None:
        if remaining <= 0:
            held.add("exhausted")
        elif remaining <= rules.units_alert_at:
            held.add("units_low")
    return held


def status_of(record: AuthRecord, held: set[str]) -> str:
    if record.status == "superseded":
        return "superseded"
    return next((status for name, status in CONDITIONS.items() if name in held), "active")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def alert_timers(record: AuthRecord, rules: PayerAuthRules) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """The dated moments the record must be looked at again: the first day inside the
    warning days and the first day after ``valid_to`` (midnight UTC, the engine's clock)."""
    if record.status == "superseded":
        return {}
    days = rules.alert_days(record.auth_type)
    detail = {"reference": record.reference, "payer_id": record.payer_id, "valid_to": record.valid_to.isoformat()}
    wanted = {"auth_expired": (_midnight(record.valid_to + timedelta(days=1)), detail)}
    if days > 0:
        wanted["auth_expires_soon"] = (_midnight(record.valid_to - timedelta(days=days)), {**detail, "days": days})
    return wanted


def alert_detail(record: AuthRecord, condition: str, rules: PayerAuthRules) -> dict[str, Any]:
    """The figures behind an alert, no PHI: what the team needs to act."""
    return {
        "condition": condition,
        "reference": record.reference,
        "auth_type": record.auth_type,
        "valid_to": record.valid_to.isoformat(),
        "units_approved": record.units_approved,
        "units_remaining": record.units_remaining,
        "warn_days": rules.alert_days(record.auth_type),
        "units_alert_at": rules.units_alert_at,
        "next_action": ACTIONS[condition],
    }
