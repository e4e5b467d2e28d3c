"""The two sources of automatic decisions: the live rules, and a recorded history."""

from dataclasses import dataclass
from typing import Any

from engine.events import ReceivedData
from workflows.classification import Classification, classify
from workflows.routing import Routing


@dataclass(frozen=True, slots=True)
class LivePolicy:
    """Classify from the CARC/RARC data files and route from the routing table."""

    routing: Routing

    @property
    def first_action_days(self) -> int:
        return self.routing.first_action_days

    def classify(self, data: ReceivedData) -> Classification:
        return classify(data.adjustments, data.remarks)

    def route(self, payer_id: str, category: str, denial_id: str) -> tuple[str, str | None]:
        return self.routing.route(payer_id, category, denial_id)


class RecordedPolicy:
    """Replays the decisions written in the audit log, so a later change to the rules
    does not make an old history look tampered with."""

    def __init__(
        self, classify_payload: dict[str, Any], assign_payload: dict[str, Any] | None, first_action_days: int
    ) -> None:
        self._classification = Classification(**{k: classify_payload[k] for k in Classification.__slots__})
        self._assign = assign_payload
        self.first_action_days = first_action_days

    def classify(self, data: ReceivedData) -> Classification:
        return self._classification

    def route(self, payer_id: str, category: str, denial_id: str) -> tuple[str, str | None]:
        if self._assign is None:
            return self._classification.team, None
        return self._assign["team"], self._assign["owner"]
