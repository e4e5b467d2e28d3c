import csv
from decimal import Decimal
from importlib import resources

import pytest

from engine.events import Adjustment
from workflows.classification import NEEDS_REVIEW, NOT_A_DENIAL, carc_rules, classify, is_denial_adjustment
from workflows.codes import code_list, current_codes
from workflows.routing import Routing

NOTHING_PAID = Decimal(0)


def adj(group: str, reason: str, amount: str = "100.00") -> Adjustment:
    return Adjustment(group=group, reason=reason, amount=Decimal(amount))


# DOMAIN.md's category table, code by code (15 is deactivated in the X12 list: see below).
DOMAIN_TABLE = {
    "authorization": (["197", "198", "39", "243", "288"], "front_end", "authorization"),
    "eligibility": (["27", "26", "31", "140", "177", "22"], "front_end", "front_desk"),
    "coding": (["4", "5", "6", "7", "8", "9", "10", "11", "97", "146", "181", "182", "234"], "back_end", "coding"),
    "documentation": (["50", "150", "151", "226", "252"], "mid_cycle", "clinical"),
    "claim_data": (["16", "18", "96", "204"], "back_end", "billing"),
    "timely_filing": (["29"], "back_end", "billing"),
    "credentialing": (["109", "185", "242", "B7"], "contract", "credentialing"),
}
CATEGORIES = {
    "authorization": ("front_end", "authorization"),
    "eligibility": ("front_end", "front_desk"),
    "coding": ("back_end", "coding"),
    "documentation": ("mid_cycle", "clinical"),
    "claim_data": ("back_end", "billing"),
    "timely_filing": ("back_end", "billing"),
    "credentialing": ("contract", "credentialing"),
    "contract": ("contract", "payer_follow_up"),
}


def _rows(name: str) -> list[dict[str, str]]:
    with resources.files("workflows.data").joinpath(name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("code", "category", "side", "team"),
    [(code, cat, side, team) for cat, (codes, side, team) in DOMAIN_TABLE.items() for code in codes],
)
def test_domain_table_codes_classify_to_their_category_and_team(code: str, category: str, side: str, team: str) -> None:
    c = classify([adj("CO", code)], [], NOTHING_PAID)
    assert (c.category, c.side, c.team) == (category, side, team)


def test_every_current_carc_has_exactly_one_mapping_and_no_deactivated_code_has_one() -> None:
    """Fails when X12's list grows (after `denialflow codes refresh`) and the mapping does not."""
    mapped = [row["code"] for row in _rows("carc_categories.csv")]
    assert len(mapped) == len(set(mapped)), "a CARC is mapped twice"
    assert sorted(current_codes("carc") - set(mapped)) == [], "current CARCs without a mapping"
    assert sorted(set(mapped) - current_codes("carc")) == [], "mapped CARCs that are not current"


def test_the_code_lists_are_the_published_ones() -> None:
    carc, rarc = code_list("carc"), code_list("rarc")
    assert (len(carc), len(current_codes("carc"))) == (407, 297)
    assert (len(rarc), len(current_codes("rarc"))) == (1216, 1137)
    assert carc["197"].description.startswith("Precertification/authorization/notification")


def test_every_mapping_row_is_consistent_with_its_category() -> None:
    for row in _rows("carc_categories.csv"):
        if row["category"] == NOT_A_DENIAL:
            assert (row["team"], row["preventable"]) == ("none", "no"), row
            assert row["side"] in {"patient", "none"}, row
        else:
            assert (row["side"], row["team"]) == CATEGORIES[row["category"]], row
            assert row["preventable"] in {"yes", "no"}, row
        assert row["why"], row


def test_remark_refinements_use_current_codes_and_known_categories() -> None:
    rarc = current_codes("rarc")
    rows = _rows("rarc_refinements.csv")
    assert len({(r["carc"], r["rarc"]) for r in rows}) == len(rows)
    for row in rows:
        assert row["carc"] in carc_rules() and row["rarc"] in rarc, row
        assert (row["side"], row["team"]) == CATEGORIES[row["category"]], row


def test_every_category_has_a_routing_team_matching_the_mapping() -> None:
    routing = Routing.load()
    for category, (_, team) in CATEGORIES.items():
        assert routing.defaults[category].team == team


def test_primary_reason_is_the_largest_denial_adjustment() -> None:
    c = classify([adj("CO", "16", "40.00"), adj("CO", "197", "300.00"), adj("CO", "4", "60.00")], [], NOTHING_PAID)
    assert (c.primary_reason, c.category) == ("197", "authorization")


@pytest.mark.parametrize(("reason", "amount", "paid"), [("1", "50", "10"), ("2", "50", "0"), ("3", "20", "10"),
                                                         ("45", "80", "120"), ("23", "57.60", "0"), ("16", "0", "0"),
                                                         ("16", "-1.08", "0")])  # fmt: skip
def test_cost_share_contractual_informational_and_zero_adjustments_are_not_denials(
    reason: str, amount: str, paid: str
) -> None:
    assert not is_denial_adjustment(reason, Decimal(amount), Decimal(paid))


def test_fee_schedule_adjustment_is_a_denial_only_when_nothing_was_paid() -> None:
    assert is_denial_adjustment("45", Decimal("79.60"), Decimal(0))
    assert not is_denial_adjustment("45", Decimal("79.60"), Decimal("20.40"))
    c = classify([adj("CO", "45", "180.00")], [], NOTHING_PAID)
    assert (c.category, c.team) == ("contract", "payer_follow_up")


def test_a_large_deductible_does_not_outrank_the_real_denial_reason() -> None:
    c = classify([adj("PR", "1", "900.00"), adj("CO", "45", "500.00"), adj("CO", "50", "120.00")], [], Decimal("5"))
    assert (c.primary_reason, c.category) == ("50", "documentation")


def test_deactivated_code_goes_to_needs_review_naming_the_code() -> None:
    c = classify([adj("CO", "15")], [], NOTHING_PAID)  # in DOMAIN.md's table, deactivated by X12
    assert (c.category, c.team) == (NEEDS_REVIEW, NEEDS_REVIEW)
    assert "CO-15" in (c.note or "") and "deactivated" in (c.note or "")


def test_unknown_code_goes_to_needs_review_naming_the_code() -> None:
    c = classify([adj("CO", "ZZ9")], [], NOTHING_PAID)
    assert c.category == NEEDS_REVIEW
    assert c.note == "CARC CO-ZZ9 is not in the X12 list"


def test_only_non_denial_adjustments_go_to_review() -> None:
    c = classify([adj("OA", "23", "57.60")], [], NOTHING_PAID)
    assert c.category == NEEDS_REVIEW and "non-denial" in (c.note or "")


def test_remark_code_sharpens_a_generic_reason() -> None:
    assert classify([adj("CO", "16")], ["N54"], NOTHING_PAID).category == "authorization"
    assert classify([adj("CO", "16")], ["MA130"], NOTHING_PAID).category == "claim_data"
    assert classify([adj("CO", "16")], ["N290"], NOTHING_PAID).category == "credentialing"


@pytest.mark.parametrize(("group", "liability"), [("CO", "provider"), ("PR", "patient"), ("OA", "OA"), ("PI", "PI")])
def test_liability_follows_the_group_code(group: str, liability: str) -> None:
    assert classify([adj(group, "27")], [], NOTHING_PAID).liability == liability
