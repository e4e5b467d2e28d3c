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

from workflows.codes import code_list

NEEDS_REVIEW = "needs_review"
NOT_A_DENIAL = "not_a_denial"
CONTRACTUAL = "45"


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


def is_denial_adjustment(reason: str, amount: Decimal, paid: Decimal) -> bool:
    """Patient cost share (PR-1/2/3), informational codes the mapping marks ``not_a_denial``
    and zero or negative amounts are not denials; CARC 45 (fee schedule) is one only when
    nothing was paid (DOMAIN.md: a contractual write-down on a paid line is not a denial)."""
    if amount <= 0:
        return False
    rule = carc_rules().get(reason)
    if rule is not None and rule.category == NOT_A_DENIAL:
        return False
    return reason != CONTRACTUAL or paid == 0


def primary_adjustment(adjustments: Sequence[AdjustmentLike], paid: Decimal) -> AdjustmentLike:
    """The largest denial adjustment; contractual/cost-share ones only if nothing else is there."""
    denials = [a for a in adjustments if is_denial_adjustment(a.reason, a.amount, paid)]
    return max(denials or adjustments, key=lambda a: a.amount)


def classify(adjustments: Sequence[AdjustmentLike], remarks: Iterable[str], paid: Decimal) -> Classification:
    primary = primary_adjustment(adjustments, paid)
    liability = _LIABILITY.get(primary.group, primary.group)
    refinements = rarc_refinements()
    rule = next((refinements[(primary.reason, r)] for r in remarks if (primary.reason, r) in refinements), None)
    rule = rule or carc_rules().get(primary.reason)
    if rule is None or rule.category == NOT_A_DENIAL:
        return Classification(
            NEEDS_REVIEW, "unknown", NEEDS_REVIEW, False, primary.group, primary.reason, liability, _why(primary, rule)
        )
    return Classification(
        rule.category, rule.side, rule.team, rule.preventable, primary.group, primary.reason, liability
    )


def _why(primary: AdjustmentLike, rule: Rule | None) -> str:
    code = f"{primary.group}-{primary.reason}"
    if rule is not None:
        return f"only non-denial adjustments ({code})"
    known = code_list("carc").get(primary.reason)
    if known is not None and not known.current:
        return f"CARC {code} is deactivated in the X12 list; the payer must say what it means"
    if known is None:
        return f"CARC {code} is not in the X12 list"
    return f"CARC {code} has no mapping"
