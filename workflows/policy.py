"""The two sources of automatic decisions: the live rules, and a recorded history."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.intake.event_data import ReceivedData
from workflows.apply import priority_band
from workflows.auth_rules import AuthRules
from workflows.authorization import AuthRecord, ClaimLine, check_authorization
from workflows.classification import ClaimContext, Classification, classify
from workflows.escalation import EscalationRules
from workflows.payers import BasisDates, DeadlineSet, PayerPolicies
from workflows.routing import Routing


@dataclass(frozen=True, slots=True)
class LivePolicy:
    """Classify from the CARC/RARC data files, route from the routing table, date the
    deadlines from the payer file."""

    routing: Routing
    payers: PayerPolicies = field(default_factory=PayerPolicies.load)
    escalation: EscalationRules = field(default_factory=EscalationRules.load)
    auth_rules: AuthRules = field(default_factory=AuthRules.load)

    @property
    def first_action_days(self) -> int:
        return self.routing.first_action_days

    def classify(self, data: ReceivedData) -> Classification:
        context = ClaimContext(data.claim_status, data.paid_amount, data.payer_id in self.payers.capitated_payers)
        return classify(data.adjustments, data.remarks, context, data.related_remarks)

    def check_authorization(self, line: ClaimLine, records: Sequence[AuthRecord]) -> dict[str, Any]:
        return check_authorization(line, records)

    def deadlines(self, data: ReceivedData, category: str, received: date) -> DeadlineSet:
        basis = BasisDates(data.date_of_service, data.remit_date)  # an 835 carries no submission date
        return self.payers.deadlines(data.payer_id, category, basis, received)

    def touch_escalates(self, touches: int) -> bool:
        return touches >= self.escalation.touch_limit

    def priority(self, denied_cents: int, deadlines: Mapping[str, date], received: date) -> str:
        """A deadline already past at receipt lifts nothing: only the nearest one still ahead counts."""
        ahead = ((d - received).days for d in deadlines.values() if d >= received)
        return priority_band(denied_cents, min(ahead, default=None), self.payers.urgent_within_days)

    def route(
        self, payer_id: str, category: str, denial_id: str, open_work: Mapping[str, int]
    ) -> tuple[str, str | None]:
        return self.routing.route(payer_id, category, denial_id, open_work)


class RecordedPolicy:
    """Replays the decisions written in the audit log, so a later change to the rules
    does not make an old history look tampered with."""

    def __init__(
        self, classify_payload: dict[str, Any], assign_payload: dict[str, Any] | None, first_action_days: int
    ) -> None:
        self._classification = Classification.from_dict(classify_payload)
        self._auth_check: dict[str, Any] = classify_payload.get("auth_check", {})
        self._classified = classify_payload
        self.escalated_on_touch = False
        self.escalation = EscalationRules()
        self._assign = assign_payload
        self.first_action_days = first_action_days

    def classify(self, data: ReceivedData) -> Classification:
        return self._classification

    def check_authorization(self, line: ClaimLine, records: Sequence[AuthRecord]) -> dict[str, Any]:
        return self._auth_check

    def deadlines(self, data: ReceivedData, category: str, received: date) -> DeadlineSet:
        return DeadlineSet.from_recorded(self._classified)

    def priority(self, denied_cents: int, deadlines: Mapping[str, date], received: date) -> str:
        return self._classified.get("priority") or priority_band(denied_cents)

    def touch_escalates(self, touches: int) -> bool:
        """Whether this touch escalated is read from the log (replay sets it per event)."""
        return self.escalated_on_touch

    def route(
        self, payer_id: str, category: str, denial_id: str, open_work: Mapping[str, int]
    ) -> tuple[str, str | None]:
        if self._assign is None:
            return self._classification.team, None
        return self._assign["team"], self._assign["owner"]
