"""Decide which adjustments are denials and classify a denial, reading codes in their context.

The rules live in two reviewed data files beside this module; this code only reads
them and applies DOMAIN.md's context rules. A code alone never decides: the claim's
status, what was paid, the group code, the remarks (RARC) and the payer's profile do.

- Patient cost share, informational codes (``not_a_denial``) and zero or negative
  amounts are never denials; nothing in a predetermination (status 25) or a reversal
  (status 22) is.
- Contractual reductions (category ``contract``, and CARC 59's multiple-procedure
  pricing) are the reason for a denial only on a line nothing was paid on, the patient
  owes nothing and no prior payer paid: on a paid line, a $0 line the deductible
  absorbed, or a secondary claim the primary paid in full, they are the contract
  working as agreed.
- CO-23 / CO-24 on a zero-paid claim adjudicated as primary mean coordination of
  benefits or a managed-care plan (eligibility, front desk), unless the practice is
  capitated with that payer; on a paid or secondary claim they are reporting only.
- A RARC that sharpens a CARC wins (``carc,rarc`` rows); a ``*,rarc`` row refines any
  generic reason (claim data or an unknown code).
- Deactivated CARCs are classified by their last meaning and flagged.
- The primary reason is the most actionable one by ``PRECEDENCE``, ties by amount;
  every denial reason stays on the classification.
"""

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Protocol

from workflows.codes import code_list

NEEDS_REVIEW = "needs_review"
NOT_A_DENIAL = "not_a_denial"
CONTRACT = "contract"
CLAIM_DATA = "claim_data"
ANY_CARC = "*"
#: Claim statuses whose adjustments are never denials: predetermination, reversal.
NEVER_DENIED = frozenset({"25", "22"})
#: Claim statuses that say a prior payer already adjudicated the claim (secondary, tertiary).
AFTER_PRIOR_PAYER = frozenset({"2", "3", "20", "21"})
#: Codes that are a denial only when nothing was paid and the patient owes nothing.
PRICING_ONLY_WHEN_PAID = frozenset({"59"})
#: CO-23 (prior payer's adjudication) and CO-24 (capitation / managed-care plan).
COB_OR_MANAGED_CARE = frozenset({"23", "24"})
PRIOR_PAYER = "23"
DUPLICATE = "18"
#: DOMAIN.md's order of actionability for the primary reason; ``duplicate`` is CARC 18.
PRECEDENCE = ("authorization", "eligibility", "timely_filing", "credentialing", "duplicate", "coding",
              "documentation", "claim_data", "contract", NEEDS_REVIEW)  # fmt: skip
_RANK = {name: i for i, name in enumerate(PRECEDENCE)}


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
class ClaimContext:
    """What around an adjustment changes its meaning: the claim status (CLP02), what was
    paid on the line (the claim, for a claim-level denial) and the payer's profile."""

    status: str | None = None
    paid: Decimal = Decimal(0)
    capitated: bool = False


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
    refined_by: str | None = None
    deactivated: bool = False
    reasons: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, object]:
        out = {f: getattr(self, f) for f in self.__slots__}
        out["reasons"] = list(self.reasons)
        return out

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> "Classification":
        """From an audit payload; fields a classification of an older release lacks keep their defaults."""
        known = {k: recorded[k] for k in cls.__slots__ if k in recorded}
        known["reasons"] = tuple(known.get("reasons", ()))
        return cls(**known)


_LIABILITY = {"CO": "provider", "PR": "patient"}
_REVIEW_RULE = Rule(NEEDS_REVIEW, "unknown", NEEDS_REVIEW, False)


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
    """(CARC, RARC) -> rule; CARC ``*`` rows refine any generic reason."""
    return {(row["carc"], row["rarc"]): _rule(row) for row in _read("rarc_refinements.csv")}


def _patient_owes(adjustments: Sequence[AdjustmentLike]) -> bool:
    return any(a.group == "PR" and a.amount > 0 for a in adjustments)


def is_denial(adjustment: AdjustmentLike, siblings: Sequence[AdjustmentLike], ctx: ClaimContext) -> bool:
    """Whether ``adjustment`` is a reason the payer denied, given the other adjustments on
    the same line (or claim) and the claim around it."""
    if adjustment.amount <= 0 or ctx.status in NEVER_DENIED:
        return False
    rule = carc_rules().get(adjustment.reason)
    if rule is None:
        return True  # an amount the payer withheld for a reason nobody can read: a person looks
    if rule.category == NOT_A_DENIAL:
        return False
    nothing_paid = ctx.paid == 0
    if adjustment.reason in COB_OR_MANAGED_CARE:
        return nothing_paid and ctx.status not in AFTER_PRIOR_PAYER and not ctx.capitated
    if rule.category == CONTRACT or adjustment.reason in PRICING_ONLY_WHEN_PAID:
        prior_payer_paid = ctx.status in AFTER_PRIOR_PAYER or any(a.reason == PRIOR_PAYER for a in siblings)
        return nothing_paid and not _patient_owes(siblings) and not prior_payer_paid
    return True


def denial_adjustments(adjustments: Sequence[AdjustmentLike], ctx: ClaimContext) -> list[AdjustmentLike]:
    """The adjustments that are denial reasons. CO-23 carries the prior payer's share: beside
    another denial reason it is that share, not a reason of its own."""
    found = [a for a in adjustments if is_denial(a, adjustments, ctx)]
    if any(a.reason != PRIOR_PAYER for a in found):
        found = [a for a in found if a.reason != PRIOR_PAYER]
    return found


def _refined(adjustment: AdjustmentLike, tiers: Sequence[Sequence[str]]) -> tuple[Rule | None, str | None]:
    """The rule for one adjustment and the remark that chose it, if one did: the remarks sent
    at the denial's own level first, then those of the other level; of several matching
    remarks in one tier the most actionable one wins."""
    refinements = rarc_refinements()
    base = carc_rules().get(adjustment.reason)
    carcs = [adjustment.reason]
    if base is None or base.category == CLAIM_DATA:
        carcs.append(ANY_CARC)
    for remarks in tiers:
        for carc in carcs:
            found = [(rule, remark) for remark in remarks if (rule := refinements.get((carc, remark))) is not None]
            if found:
                return min(found, key=lambda f: _rank(f[0], adjustment.reason))
    return base, None


def _rank(rule: Rule, reason: str) -> int:
    if reason == DUPLICATE and rule.category == CLAIM_DATA:
        return _RANK["duplicate"]
    return _RANK.get(rule.category, len(PRECEDENCE))


def _deactivated(reason: str) -> bool:
    known = code_list("carc").get(reason)
    return known is not None and not known.current


def classify(
    adjustments: Sequence[AdjustmentLike], remarks: Iterable[str], ctx: ClaimContext, related: Iterable[str] = ()
) -> Classification:
    """Category, owner team and primary reason of one denial from all its adjustments, its own
    remarks and the ``related`` ones of the other level (the claim's, for a line)."""
    tiers = (list(dict.fromkeys(remarks)), list(dict.fromkeys(related)))
    denials = denial_adjustments(adjustments, ctx)
    if not denials:  # denied outright with only non-denial reasons: a person reads it
        primary = max(adjustments, key=lambda a: a.amount)
        return _classification(primary, _REVIEW_RULE, None, f"only non-denial adjustments ({_code(primary)})", ())
    reasons = []
    for a in denials:
        rule, remark = _refined(a, tiers)
        reasons.append((a, rule or _REVIEW_RULE, remark))
    primary, rule, remark = min(reasons, key=lambda r: (_rank(r[1], r[0].reason), -r[0].amount))
    docs = tuple(
        {"code": _code(a), "amount": str(a.amount), "category": r.category}
        | ({"refined_by": rem} if rem else {})
        | ({"deactivated": True} if _deactivated(a.reason) else {})
        for a, r, rem in reasons
    )
    return _classification(primary, rule, remark, _note(primary, rule), docs)


def _classification(
    primary: AdjustmentLike, rule: Rule, remark: str | None, note: str | None, reasons: tuple[dict[str, Any], ...]
) -> Classification:
    return Classification(
        rule.category, rule.side, rule.team, rule.preventable, primary.group, primary.reason,
        _LIABILITY.get(primary.group, primary.group), note, remark, _deactivated(primary.reason), reasons,
    )  # fmt: skip


def _code(a: AdjustmentLike) -> str:
    return f"{a.group}-{a.reason}"


def _note(primary: AdjustmentLike, rule: Rule) -> str | None:
    known = code_list("carc").get(primary.reason)
    if known is None:
        return f"CARC {_code(primary)} is not in the X12 list"
    if not known.current:
        return f"CARC {_code(primary)} is deactivated in the X12 list; classified by its last meaning"
    if rule.category == NEEDS_REVIEW:
        return f"CARC {_code(primary)} has no mapping"
    return None
