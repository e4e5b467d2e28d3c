"""Classify a denial from its adjustment reasons (CARC) and remarks (RARC).

The rules live in two reviewed data files beside this module; this code only
reads them. DOMAIN.md's decision rule: authorization first (front-end,
authorization team), then coding / data / submission (billing). Unknown codes go
to ``needs_review`` with the code named, never to a default team.
"""

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Protocol

NEEDS_REVIEW = "needs_review"
NOT_A_DENIAL = "not_a_denial"


class AdjustmentLike(Protocol):
    group: str
    reason: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    side: str
    team: str
    preventable: bool


@dataclass(frozen=True, slots=True)
class Classification:
    category: str
    side: str
    team: str
    preventable: bool
    primary_group: str
    primary_reason: str
    liability: str
    note: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in self.__slots__}


_LIABILITY = {"CO": "provider", "PR": "patient"}


def _read(name: str) -> list[dict[str, str]]:
    with resources.files("workflows.data").joinpath(name).open(newline="") as fh:
        return list(csv.DictReader(fh))


def _rule(row: dict[str, str]) -> Rule:
    return Rule(row["category"], row["side"], row["team"], row["preventable"] == "yes")


@cache
def carc_rules() -> dict[str, Rule]:
    return {row["code"]: _rule(row) for row in _read("carc_categories.csv")}


@cache
def rarc_refinements() -> dict[tuple[str, str], Rule]:
    return {(row["carc"], row["rarc"]): _rule(row) for row in _read("rarc_refinements.csv")}


def is_denial_adjustment(group: str, reason: str) -> bool:
    """PR-1/2/3 (patient cost share) and CO-45 (contractual write-down) are not denials."""
    rule = carc_rules().get(reason)
    if rule is not None and rule.category == NOT_A_DENIAL:
        return False
    return not (group == "CO" and reason == "45")


def primary_adjustment(adjustments: Sequence[AdjustmentLike]) -> AdjustmentLike:
    """The largest denial adjustment; contractual/cost-share ones only if nothing else is there."""
    denials = [a for a in adjustments if is_denial_adjustment(a.group, a.reason)]
    return max(denials or adjustments, key=lambda a: a.amount)


def classify(adjustments: Sequence[AdjustmentLike], remarks: Iterable[str]) -> Classification:
    primary = primary_adjustment(adjustments)
    liability = _LIABILITY.get(primary.group, primary.group)
    refinements = rarc_refinements()
    rule = next((refinements[(primary.reason, r)] for r in remarks if (primary.reason, r) in refinements), None)
    rule = rule or carc_rules().get(primary.reason)
    if rule is None or rule.category == NOT_A_DENIAL:
        why = (
            f"CARC {primary.group}-{primary.reason} has no mapping"
            if rule is None
            else (f"only non-denial adjustments ({primary.group}-{primary.reason})")
        )
        return Classification(
            NEEDS_REVIEW, "unknown", NEEDS_REVIEW, False, primary.group, primary.reason, liability, why
        )
    return Classification(
        rule.category, rule.side, rule.team, rule.preventable, primary.group, primary.reason, liability
    )
