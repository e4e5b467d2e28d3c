"""The pre-submission checklist (pure): every item holds a claim when it fails and is silent
when it passes; units counted across records, claims and lines; referrals; the payer rules
file; an authorization's conditions and dated alerts at their boundaries."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from workflows.auth_lifecycle import alert_detail, alert_timers, conditions, status_of
from workflows.auth_rules import AuthRules, AuthRulesError, PayerAuthRules
from workflows.authorization import AuthRecord, ClaimLine
from workflows.presubmission import PRE_CHECKS, Line, check_claim, counted, usage_change

RULES = PayerAuthRules(frozenset({"90837"}), False, {"default": 14, "concurrent": 7}, 2)
DOS = date(2026, 10, 2)
AUTH = AuthRecord("AUTH-1", "AETNA", "M1", "prior", ("90837",), "1234567890", "MAIN ST", 10, 2, date(2026, 9, 1),
                  date(2026, 9, 1), date(2026, 11, 30))  # fmt: skip


def _line(code: str = "90837", units: str = "1", npi: str = "1234567890", site: str = "Main St", day: date = DOS,
          auth: str | None = None, referral: str | None = None, number: int = 1) -> Line:  # fmt: skip
    return Line(number, ClaimLine(code, npi, site, day, Decimal(units)), auth, referral)


def _failed(result: dict) -> list[str]:  # type: ignore[type-arg]
    return [f["check"] for line in result["lines"] for f in line["failed"]]


CASES = {  # each item: a claim that fails it (the others pass); the claim naming AUTH-1 passes every one
    "authorization_on_file": ([_line()], "AUTH-1", [], RULES),
    "obtained_before_service": ([_line(day=date(2026, 8, 31))], "AUTH-1",
                                [replace(AUTH, valid_from=date(2026, 8, 1))], RULES),
    "procedure_matches": ([_line(code="90834")], "AUTH-1", [AUTH], RULES),
    "rendering_provider_matches": ([_line(npi="9999999999")], "AUTH-1", [AUTH], RULES),
    "location_matches": ([_line(site="Riverside")], "AUTH-1", [AUTH], RULES),
    "within_date_window": ([_line(day=date(2026, 12, 1))], "AUTH-1", [AUTH], RULES),
    "units_within_approved": ([_line(units="9")], "AUTH-1", [AUTH], RULES),
    "auth_number_on_claim": ([_line()], None, [AUTH], RULES),
    "referral_present": ([_line()], "AUTH-1", [AUTH], replace(RULES, referral=True)),
}  # fmt: skip


def test_every_item_of_the_checklist_has_a_case() -> None:
    assert set(CASES) == {name for name, _, _ in PRE_CHECKS}


@pytest.mark.parametrize("item", sorted(CASES))
def test_an_item_that_fails_holds_the_claim_with_its_sub_cause_and_next_action(item: str) -> None:
    lines, carried, records, rules = CASES[item]
    result = check_claim(lines, carried, None, records, rules)
    assert result["verdict"] == "hold" and _failed(result) == [item]
    cause, action = next((c, a) for n, c, a in PRE_CHECKS if n == item)
    failure = result["lines"][0]["failed"][0]
    assert failure["sub_cause"] == cause and result["sub_causes"] == [cause]
    assert failure["next_action"] == action.format(reference="AUTH-1" if records else "-")


@pytest.mark.parametrize("item", sorted(CASES))
def test_the_same_claim_made_right_clears(item: str) -> None:
    _, _, _, rules = CASES[item]
    result = check_claim([_line(referral="REF-9")], "AUTH-1", None, [AUTH], rules)
    assert result["verdict"] == "clear" and _failed(result) == [] and result["usage"] == {"AUTH-1": 1}


def test_a_service_no_rule_or_record_covers_needs_nothing() -> None:
    result = check_claim([_line(code="90791")], None, None, [AUTH], RULES)
    assert result["verdict"] == "clear" and result["lines"][0]["needs_authorization"] is False
    assert result["usage"] == {}


def test_every_service_needs_one_where_the_payer_says_star() -> None:
    result = check_claim([_line(code="90791")], None, None, [], replace(RULES, prior_auth=frozenset({"*"})))
    assert _failed(result) == ["authorization_on_file"]


def test_the_record_the_claim_names_is_the_one_checked() -> None:
    better = replace(AUTH, reference="AUTH-2", units_approved=None)
    result = check_claim([_line(units="9")], "AUTH-1", None, [AUTH, better], RULES)
    assert result["lines"][0]["record"] == "AUTH-1" and _failed(result) == ["units_within_approved"]


def test_units_add_up_over_the_claims_lines_and_over_other_claims() -> None:
    one_left = replace(AUTH, units_used=9)
    result = check_claim([_line(), _line(number=2)], "AUTH-1", None, [one_left], RULES)
    assert [line["verdict"] for line in result["lines"]] == ["clear", "hold"]
    claimed = replace(AUTH, units_used=5, units_claimed=4)  # 10 approved: 1 left
    assert check_claim([_line(units="2")], "AUTH-1", None, [claimed], RULES)["verdict"] == "hold"
    assert check_claim([_line(units="1")], "AUTH-1", None, [claimed], RULES)["verdict"] == "clear"


def test_a_part_of_a_session_counts_as_one() -> None:
    assert counted(Decimal("0.5")) == 1 and counted(Decimal(2)) == 2


def test_a_superseded_record_is_not_checked_against() -> None:
    result = check_claim([_line()], "AUTH-1", None, [replace(AUTH, status="superseded")], RULES)
    assert _failed(result) == ["authorization_on_file"]


def test_a_referral_on_the_line_or_on_file() -> None:
    rules = replace(RULES, referral=True)
    assert check_claim([_line(referral="R-1")], "AUTH-1", None, [AUTH], rules)["verdict"] == "clear"
    assert check_claim([_line()], "AUTH-1", "R-2", [AUTH], rules)["verdict"] == "clear"
    on_file = replace(AUTH, reference="REF-77", auth_type="referral")
    result = check_claim([_line()], "AUTH-1", None, [AUTH, on_file], rules)
    assert "REF-77" in result["lines"][0]["failed"][0]["next_action"]


def test_the_location_is_the_site_or_any_name_the_claim_gives_it() -> None:
    line = Line(1, ClaimLine("90837", "1234567890", "Other", DOS, Decimal(1), ("1555555555", "main st")), "AUTH-1",
                None)  # fmt: skip
    assert check_claim([line], "AUTH-1", None, [AUTH], RULES)["verdict"] == "clear"


def test_usage_changes_for_a_replacement_a_void_and_a_repeat() -> None:
    assert usage_change({"A": 1}, {"A": 2}) == {"A": 1}
    assert usage_change({"A": 2, "B": 1}, {}) == {"A": -2, "B": -1}
    assert usage_change({"A": 1}, {"A": 1}) == {}


@pytest.mark.parametrize(("today", "held", "status"), [
    (date(2026, 11, 15), set(), "active"),
    (date(2026, 11, 16), {"expires_soon"}, "expiring"),
    (date(2026, 11, 30), {"expires_soon"}, "expiring"),
    (date(2026, 12, 1), {"expired"}, "expired"),
])  # fmt: skip
def test_the_window_at_its_boundaries(today: date, held: set[str], status: str) -> None:
    assert conditions(AUTH, today, RULES) == held and status_of(AUTH, held) == status


@pytest.mark.parametrize(
    ("used", "held", "status"),
    [
        (5, set(), "active"),
        (6, {"units_low"}, "expiring"),
        (8, {"exhausted"}, "exhausted"),
        (9, {"exhausted"}, "exhausted"),
    ],
)
def test_the_units_at_their_threshold(used: int, held: set[str], status: str) -> None:
    record = replace(AUTH, units_used=used, units_claimed=2)
    got = conditions(record, date(2026, 10, 1), RULES)
    assert got == held and status_of(record, got) == status


def test_exhausted_wins_over_expiring_and_superseded_has_no_conditions() -> None:
    record = replace(AUTH, units_used=10)
    held = conditions(record, date(2026, 11, 20), RULES)
    assert held == {"exhausted", "expires_soon"} and status_of(record, held) == "exhausted"
    gone = replace(AUTH, status="superseded")
    assert conditions(gone, date(2026, 12, 5), RULES) == set() and alert_timers(gone, RULES) == {}


def test_the_dated_alerts_are_at_midnight_utc_by_type() -> None:
    timers = alert_timers(AUTH, RULES)
    assert timers["auth_expires_soon"][0] == datetime(2026, 11, 16, tzinfo=UTC)
    assert timers["auth_expired"][0] == datetime(2026, 12, 1, tzinfo=UTC)
    concurrent = alert_timers(replace(AUTH, auth_type="concurrent"), RULES)
    assert concurrent["auth_expires_soon"][0] == datetime(2026, 11, 23, tzinfo=UTC)
    assert "auth_expires_soon" not in alert_timers(AUTH, replace(RULES, expiry_alert_days={"default": 0}))
    assert "member" not in str(alert_detail(AUTH, "units_low", RULES)) and "M1" not in str(
        alert_detail(AUTH, "units_low", RULES))  # fmt: skip


def test_the_packaged_rules_load_and_payers_inherit() -> None:
    rules = AuthRules.load()
    assert rules.of("AETNA").needs_prior_auth("90837") and not rules.default.needs_prior_auth("90837")
    assert rules.of("AETNA").units_alert_at == rules.default.units_alert_at == 2
    assert rules.of("MEDICAID-MCO").referral and rules.of("MEDICAID-MCO").alert_days("concurrent") == 10
    assert rules.of("UNKNOWN").alert_days("prior") == 14


@pytest.mark.parametrize(("text", "named"), [
    ("[other]\n", "unknown top-level key"),
    ("[default]\nprior_auth = []\nreferral = false\nexpiry_alert_days = { default = 14 }\nunits_alert_at = 2\n"
     "[payers.X]\nnope = 1\n", "payers.\"X\": unknown key"),
    ("[default]\nprior_auth = 'H0035'\nreferral = false\nexpiry_alert_days = { default = 14 }\nunits_alert_at = 2\n",
     "default.prior_auth"),
    ("[default]\nprior_auth = []\nreferral = 'no'\nexpiry_alert_days = { default = 14 }\nunits_alert_at = 2\n",
     "default.referral"),
    ("[default]\nprior_auth = []\nreferral = false\nexpiry_alert_days = { default = -1 }\nunits_alert_at = 2\n",
     "default.expiry_alert_days.default"),
    ("[default]\nprior_auth = []\nreferral = false\nexpiry_alert_days = { default = 14 }\nunits_alert_at = true\n",
     "default.units_alert_at"),
    ("[default]\nprior_auth = []\n", "missing"),
    ("[default\n", "not TOML"),
])  # fmt: skip
def test_a_malformed_rules_file_is_refused_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(AuthRulesError, match=named.replace("(", "\\(").replace(".", "\\.")):
        AuthRules.load(path)
