from decimal import Decimal

import pytest

from engine.events import Adjustment
from workflows.classification import NEEDS_REVIEW, classify, is_denial_adjustment


def adj(group: str, reason: str, amount: str = "100.00") -> Adjustment:
    return Adjustment(group=group, reason=reason, amount=Decimal(amount))


# DOMAIN.md's category table, code by code.
DOMAIN_TABLE = {
    "authorization": (["197", "198", "15", "39", "243", "288"], "front_end", "authorization"),
    "eligibility": (["27", "26", "31", "140", "177", "22"], "front_end", "front_desk"),
    "coding": (["4", "5", "6", "7", "8", "9", "10", "11", "97", "146", "181", "182", "234"], "back_end", "coding"),
    "documentation": (["50", "150", "151", "226", "252"], "mid_cycle", "clinical"),
    "claim_data": (["16", "18", "96", "204"], "back_end", "billing"),
    "timely_filing": (["29"], "back_end", "billing"),
    "credentialing": (["109", "185", "242", "B7"], "contract", "credentialing"),
}


@pytest.mark.parametrize(
    ("code", "category", "side", "team"),
    [(code, cat, side, team) for cat, (codes, side, team) in DOMAIN_TABLE.items() for code in codes],
)
def test_domain_table_codes_classify_to_their_category_and_team(code: str, category: str, side: str, team: str) -> None:
    c = classify([adj("CO", code)], [])
    assert (c.category, c.side, c.team) == (category, side, team)


def test_primary_reason_is_the_largest_denial_adjustment() -> None:
    c = classify([adj("CO", "16", "40.00"), adj("CO", "197", "300.00"), adj("CO", "4", "60.00")], [])
    assert (c.primary_reason, c.category) == ("197", "authorization")


def test_cost_share_and_contractual_write_downs_are_not_denials() -> None:
    for group, reason in [("PR", "1"), ("PR", "2"), ("PR", "3"), ("CO", "45")]:
        assert not is_denial_adjustment(group, reason)
    # a large deductible does not outrank the smaller real denial reason
    c = classify([adj("PR", "1", "900.00"), adj("CO", "45", "500.00"), adj("CO", "50", "120.00")], [])
    assert (c.primary_reason, c.category) == ("50", "documentation")


def test_fee_schedule_short_pay_is_a_contract_item_when_nothing_else_explains_it() -> None:
    c = classify([adj("CO", "45", "180.00")], [])
    assert (c.category, c.team) == ("contract", "payer_follow_up")


def test_unknown_code_goes_to_needs_review_naming_the_code() -> None:
    c = classify([adj("CO", "B9")], [])
    assert (c.category, c.team) == (NEEDS_REVIEW, NEEDS_REVIEW)
    assert "CO-B9" in (c.note or "")


def test_remark_code_sharpens_a_generic_reason() -> None:
    assert classify([adj("CO", "16")], ["N54"]).category == "authorization"
    assert classify([adj("CO", "16")], ["MA130"]).category == "claim_data"


@pytest.mark.parametrize(("group", "liability"), [("CO", "provider"), ("PR", "patient"), ("OA", "OA"), ("PI", "PI")])
def test_liability_follows_the_group_code(group: str, liability: str) -> None:
    assert classify([adj(group, "27")], []).liability == liability
