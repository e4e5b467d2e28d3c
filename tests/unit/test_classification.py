import csv
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from engine.intake.event_data import Adjustment
from tests.factories import ev, received_doc
from workflows.classification import (
    ANY_CARC,
    NEEDS_REVIEW,
    NOT_A_DENIAL,
    PRECEDENCE,
    ClaimContext,
    carc_rules,
    classify,
    is_denial,
)
from workflows.codes import code_list, current_codes
from workflows.payers import PayerPolicies
from workflows.policy import LivePolicy
from workflows.routing import Routing

NOTHING_PAID = ClaimContext(status="4", paid=Decimal(0))


def paid(amount: str, status: str = "1") -> ClaimContext:
    return ClaimContext(status=status, paid=Decimal(amount))


def adj(group: str, reason: str, amount: str = "100.00") -> Adjustment:
    return Adjustment(group=group, reason=reason, amount=Decimal(amount))


# DOMAIN.md's category table, code by code, on a zero-paid denied claim (15 is deactivated: see below).
DOMAIN_TABLE = {
    "authorization": (["197", "198", "39", "243", "288"], "front_end", "authorization"),
    "eligibility": (["27", "26", "31", "140", "177", "109", "22", "23", "24"], "front_end", "front_desk"),
    "coding": (["4", "5", "6", "7", "8", "9", "10", "11", "97", "146", "181", "182", "234"], "back_end", "coding"),
    "documentation": (["50", "150", "151", "226", "252"], "mid_cycle", "clinical"),
    "claim_data": (["16", "18", "96", "204"], "back_end", "billing"),
    "timely_filing": (["29"], "back_end", "billing"),
    "credentialing": (["185", "242", "B7"], "contract", "credentialing"),
    "contract": (["45"], "contract", "payer_follow_up"),
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


def test_every_carc_current_or_deactivated_has_exactly_one_mapping() -> None:
    """Fails when X12's list grows (after `denialflow codes refresh`) and the mapping does not.
    Deactivated codes are mapped too: payers still send them (DOMAIN.md)."""
    mapped = [row["code"] for row in _rows("carc_categories.csv")]
    assert len(mapped) == len(set(mapped)), "a CARC is mapped twice"
    assert sorted(set(code_list("carc")) - set(mapped)) == [], "CARCs without a mapping"
    assert sorted(set(mapped) - set(code_list("carc"))) == [], "mapped CARCs that are not in the X12 list"


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
    rows = _rows("rarc_refinements.csv")
    assert len({(r["carc"], r["rarc"]) for r in rows}) == len(rows)
    for row in rows:
        assert (row["carc"] == ANY_CARC or row["carc"] in carc_rules()) and row["rarc"] in code_list("rarc"), row
        assert (row["side"], row["team"]) == CATEGORIES[row["category"]], row


def test_every_category_has_a_routing_team_matching_the_mapping() -> None:
    routing = Routing.load()
    for category, (_, team) in CATEGORIES.items():
        assert routing.defaults[category].team == team


def test_primary_reason_follows_precedence_not_amount() -> None:
    c = classify([adj("CO", "16", "40.00"), adj("CO", "197", "30.00"), adj("CO", "4", "60.00")], [], NOTHING_PAID)
    assert (c.primary_reason, c.category) == ("197", "authorization")
    assert [r["code"] for r in c.reasons] == ["CO-16", "CO-197", "CO-4"]  # every reason stays


@pytest.mark.parametrize(
    ("buried", "larger", "category"),
    [(("CO", "26"), ("OA", "147"), "eligibility"), (("CO", "197"), ("CO", "45"), "authorization"),
     (("CO", "29"), ("CO", "23"), "timely_filing"), (("CO", "18"), ("CO", "16"), "claim_data")],
)  # fmt: skip
def test_the_actionable_reason_is_primary_under_a_larger_one(
    buried: tuple[str, str], larger: tuple[str, str], category: str
) -> None:
    c = classify([adj(*larger, "900.00"), adj(*buried, "50.00")], [], NOTHING_PAID)
    assert (c.primary_group, c.primary_reason, c.category) == (*buried, category)


def test_ties_in_precedence_go_to_the_larger_amount() -> None:
    c = classify([adj("CO", "4", "40.00"), adj("CO", "11", "90.00")], [], NOTHING_PAID)
    assert c.primary_reason == "11"


def test_precedence_names_every_category_the_mapping_uses() -> None:
    used = {row["category"] for row in _rows("carc_categories.csv")} - {NOT_A_DENIAL}
    assert used <= set(PRECEDENCE)


NOT_DENIALS = [("1", "50", paid("10")), ("2", "50", NOTHING_PAID), ("3", "20", paid("10")), ("45", "80", paid("120")),
               ("23", "57.60", paid("10")), ("23", "57.60", paid("0", "2")), ("16", "0", NOTHING_PAID),
               ("16", "-1.08", NOTHING_PAID), ("197", "100", paid("0", "25")), ("253", "2", paid("98"))]  # fmt: skip


@pytest.mark.parametrize(("reason", "amount", "ctx"), NOT_DENIALS)
def test_cost_share_contractual_informational_and_zero_adjustments_are_not_denials(
    reason: str, amount: str, ctx: ClaimContext
) -> None:
    a = adj("CO", reason, amount)
    assert not is_denial(a, [a], ctx)


def test_fee_schedule_adjustment_is_a_denial_only_when_nothing_was_paid_and_the_patient_owes_nothing() -> None:
    contractual = adj("CO", "45", "79.60")
    assert is_denial(contractual, [contractual], NOTHING_PAID)
    assert not is_denial(contractual, [contractual], paid("20.40"))
    deductible = [contractual, adj("PR", "1", "120.40")]  # the deductible absorbed the allowed amount
    assert not is_denial(contractual, deductible, paid("0"))
    c = classify([adj("CO", "45", "180.00")], [], NOTHING_PAID)
    assert (c.category, c.team) == ("contract", "payer_follow_up")


def test_multiple_procedure_pricing_on_a_paid_line_is_not_a_denial() -> None:
    reduction = adj("CO", "59", "35.00")
    assert not is_denial(reduction, [reduction], paid("35.00"))
    assert is_denial(reduction, [reduction], NOTHING_PAID)


@pytest.mark.parametrize("reason", ["23", "24"])
def test_cob_and_managed_care_codes_on_a_zero_paid_primary_claim_are_eligibility_denials(reason: str) -> None:
    a = adj("CO", reason, "150.00")
    assert is_denial(a, [a], NOTHING_PAID)
    c = classify([a], [], NOTHING_PAID)
    assert (c.category, c.team) == ("eligibility", "front_desk")
    assert not is_denial(a, [a], paid("20"))  # paid: the prior payer's share or the plan's, reported
    assert not is_denial(a, [a], paid("0", "2"))  # processed as secondary: the primary paid
    assert not is_denial(a, [a], ClaimContext("4", Decimal(0), capitated=True))  # the practice is capitated


def test_a_large_deductible_does_not_outrank_the_real_denial_reason() -> None:
    c = classify([adj("PR", "1", "900.00"), adj("CO", "45", "500.00"), adj("CO", "50", "120.00")], [], paid("5"))
    assert (c.primary_reason, c.category) == ("50", "documentation")


def test_deactivated_code_is_read_by_its_last_meaning_and_flagged() -> None:
    c = classify([adj("CO", "15")], [], NOTHING_PAID)  # authorization number missing; deactivated by X12
    assert (c.category, c.team, c.deactivated) == ("authorization", "authorization", True)
    assert "CO-15" in (c.note or "") and "deactivated" in (c.note or "")
    assert c.reasons[0]["deactivated"] is True


def test_unknown_code_goes_to_needs_review_naming_the_code() -> None:
    c = classify([adj("CO", "ZZ9")], [], NOTHING_PAID)
    assert c.category == NEEDS_REVIEW
    assert c.note == "CARC CO-ZZ9 is not in the X12 list"


def test_only_non_denial_adjustments_go_to_review() -> None:
    c = classify([adj("OA", "94", "57.60")], [], NOTHING_PAID)
    assert c.category == NEEDS_REVIEW and "non-denial" in (c.note or "")


def test_remark_code_sharpens_a_generic_reason() -> None:
    assert classify([adj("CO", "16")], ["N54"], NOTHING_PAID).category == "authorization"
    assert classify([adj("CO", "16")], ["MA130"], NOTHING_PAID).category == "claim_data"
    assert classify([adj("CO", "16")], ["N290"], NOTHING_PAID).category == "credentialing"


REFINED = [("96", "N290", "credentialing"), ("59", "N20", "coding"), ("96", "N30", "eligibility"),
           ("16", "N30", "eligibility")]  # fmt: skip


@pytest.mark.parametrize(("carc", "rarc", "category"), REFINED)
def test_remarks_change_the_meaning_and_say_which_did(carc: str, rarc: str, category: str) -> None:
    c = classify([adj("CO", carc)], ["M15", rarc], NOTHING_PAID)
    assert (c.category, c.refined_by) == (category, rarc)


def test_a_remark_for_any_reason_does_not_override_a_specific_one() -> None:
    assert classify([adj("CO", "197")], ["N30"], NOTHING_PAID).category == "authorization"


@pytest.mark.parametrize(("group", "liability"), [("CO", "provider"), ("PR", "patient"), ("OA", "OA"), ("PI", "PI")])
def test_liability_follows_the_group_code(group: str, liability: str) -> None:
    assert classify([adj(group, "27")], [], NOTHING_PAID).liability == liability


def test_a_payer_profile_marked_capitated_makes_co_24_the_arrangement(tmp_path: Path) -> None:
    text = resources.files("workflows.data").joinpath("payers.toml").read_text()
    path = tmp_path / "payers.toml"
    path.write_text(text.replace('[payers."AETNA"]', '[payers."AETNA"]\ncapitated = true'))
    payers = PayerPolicies.load(path)
    assert payers.capitated_payers == {"AETNA"}
    doc = received_doc(adjustments=[("CO", "24", "400.00")], claim_status="4")
    capitated = LivePolicy(Routing.load(), payers).classify(ev(doc).data)
    plain = LivePolicy(Routing.load()).classify(ev(doc).data)
    assert (plain.category, capitated.category) == ("eligibility", NEEDS_REVIEW)
