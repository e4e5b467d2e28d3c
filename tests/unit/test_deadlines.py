"""Payer deadlines per kind with their basis, recorded on receipt; deadlines already past at
receipt; payers without a profile; replay of logs written before any of this."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.audit.replay import replay
from tests.factories import ev, received_doc
from workflows.apply import apply_event
from workflows.escalation import EscalationRules, desired_timers
from workflows.payers import UNKNOWN, BasisDates, DeadlineSet, PayerFileError, PayerPolicies
from workflows.policy import LivePolicy
from workflows.routing import Routing

PAYERS = PayerPolicies.load()
POLICY = LivePolicy(Routing.load())
BASIS = BasisDates(date(2026, 9, 10), date(2026, 9, 30))  # service, remit; received 2026-10-01
RECEIVED = date(2026, 10, 1)


def dated(payer: str, category: str, basis: BasisDates = BASIS, payers: PayerPolicies = PAYERS) -> dict[str, Any]:
    return payers.deadlines(payer, category, basis, RECEIVED).recorded["deadlines"]


def test_a_correction_counts_from_the_remit_date_not_the_date_of_service() -> None:
    filing, appeal = dated("AETNA", "coding").values()
    assert filing == {"date": "2026-12-29", "kind": "corrected_claim", "days": 90, "basis": "remit_date",
                      "basis_date": "2026-09-30", "past_at_receipt": False}  # fmt: skip
    assert appeal["date"] == "2027-03-29" and appeal["kind"] == "appeal_level_1"
    assert appeal["next_levels"] == [{"level": 2, "days": 60, "basis": "previous_decision"}]


def test_timely_filing_counts_from_the_date_of_service_only_for_a_timely_filing_denial() -> None:
    filing = dated("AETNA", "timely_filing")["filing"]
    assert (filing["kind"], filing["basis"], filing["basis_date"], filing["date"]) == (
        "timely_filing", "date_of_service", "2026-09-10", "2026-12-09")  # fmt: skip


def test_retro_authorization_only_for_authorization_denials() -> None:
    assert "retro_auth" not in dated("AETNA", "coding")
    retro = dated("AETNA", "authorization")["retro_auth"]
    assert (retro["date"], retro["basis"], retro["past_at_receipt"]) == ("2026-09-24", "date_of_service", True)


def test_medicare_appeal_levels_after_the_first_count_from_the_decision_before() -> None:
    appeal = dated("MEDICARE-JL", "coding")["appeal"]
    assert (appeal["date"], appeal["days"]) == ("2027-01-28", 120)
    assert [(lvl["level"], lvl["days"], lvl["basis"]) for lvl in appeal["next_levels"]] == [
        (2, 180, "previous_decision"), (3, 60, "previous_decision")]  # fmt: skip


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "payers.toml"
    default = ('[default]\ntimely_filing = { days = 90 }\ncorrected_claim = { days = 90 }\n'
               'appeal = [{ days = 180 }]\nretro_auth = { days = 14 }\n')  # fmt: skip
    path.write_text(default + body)
    return path


def test_the_basis_is_configurable_and_a_submission_date_falls_back_to_the_date_of_service(tmp_path: Path) -> None:
    body = ('[payers."P"]\ncorrected_claim = { days = 120, basis = "submission_date" }\n'
            'appeal = [{ days = 30, basis = "date_of_service" }]\n')  # fmt: skip
    payers = PayerPolicies.load(_file(tmp_path, body))
    filing, appeal = dated("P", "coding", payers=payers).values()
    # an 835 carries no submission date: counted from the date of service, and recorded so
    assert (filing["basis"], filing["basis_fallback"], filing["basis_date"], filing["date"]) == (
        "submission_date", "date_of_service", "2026-09-10", "2027-01-08")  # fmt: skip
    assert (appeal["basis"], appeal["date"], appeal["past_at_receipt"]) == ("date_of_service", "2026-10-10", False)
    known = payers.deadlines("P", "coding", BasisDates(date(2026, 9, 10), date(2026, 9, 30), date(2026, 9, 15)),
                             RECEIVED).recorded["deadlines"]["filing"]  # fmt: skip
    assert (known["basis_date"], "basis_fallback" in known) == ("2026-09-15", False)


def test_a_payer_table_may_leave_kinds_to_the_default(tmp_path: Path) -> None:
    payers = PayerPolicies.load(_file(tmp_path, '[payers."P"]\nappeal = [{ days = 45 }]\n'))
    filing, appeal = dated("P", "coding", payers=payers).values()
    assert filing["from_default"] is True and "from_default" not in appeal and appeal["days"] == 45
    assert payers.payers["P"].as_dict()["from_default"] == ["corrected_claim", "retro_auth", "timely_filing"]


@pytest.mark.parametrize(("body", "message"), [
    ('[payers."P"]\ntimely_filing_days = 90\n', "unknown key"),  # the format before kinds and bases
    ('[payers."P"]\ncorrected_claim = { days = 30, basis = "yesterday" }\n', "basis 'yesterday'"),
    ('[payers."P"]\nappeal = [{ days = 30, basis = "previous_decision" }]\n', "basis 'previous_decision'"),
    ('[payers."P"]\nretro_auth = { days = -1 }\n', "whole number"),
    ('[payers."P"]\nappeal = { days = 30 }\n', "a list of levels"),
])  # fmt: skip
def test_a_malformed_payer_file_is_refused_naming_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PayerFileError, match=message):
        PayerPolicies.load(_file(tmp_path, body))


def test_default_must_give_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "payers.toml"
    path.write_text("[default]\ntimely_filing = { days = 90 }\n")
    with pytest.raises(PayerFileError, match="missing corrected_claim, appeal, retro_auth"):
        PayerPolicies.load(path)


def _receive(**data: Any) -> tuple[Any, list[Any]]:
    return apply_event(ev(received_doc(3, **data)), None, POLICY)


def test_the_classification_records_each_deadline_with_its_basis_and_the_payer_profile() -> None:
    denial, steps = _receive(payer_id="AETNA", adjustments=[("CO", "4", "350.00")])
    classified = steps[1].payload
    assert classified["payer_profile"] == "known" and denial.payer_profile_known is True
    recorded = {k: v["date"] for k, v in classified["deadlines"].items()}
    assert recorded == {"filing": "2026-12-29", "appeal": "2027-03-29"}
    assert (denial.filing_deadline, denial.appeal_deadline) == (date(2026, 12, 29), date(2027, 3, 29))


def test_a_payer_without_a_profile_is_dated_by_the_defaults_and_says_so() -> None:
    denial, steps = _receive(payer_id="SMALL-PLAN", adjustments=[("CO", "4", "350.00")])
    assert steps[1].payload["payer_profile"] == UNKNOWN == "unknown (defaults used)"
    assert denial.payer_profile_known is False
    assert denial.filing_deadline == date(2026, 12, 29)  # the default corrected-claim window


def test_a_deadline_past_at_receipt_is_recorded_and_lifts_no_priority() -> None:
    # a $350 timely-filing denial for a service a year ago: the filing limit passed long before
    denial, steps = _receive(adjustments=[("CO", "29", "350.00")], date_of_service="2025-09-10")
    filing = steps[1].payload["deadlines"]["filing"]
    assert (filing["kind"], filing["date"], filing["past_at_receipt"]) == ("timely_filing", "2025-12-09", True)
    assert denial.priority == "middle"  # the value tier alone


RULES = EscalationRules()


def test_deadlines_all_past_at_receipt_want_one_timer_to_the_lead_at_receipt() -> None:
    denial, _ = _receive(adjustments=[("CO", "29", "350.00")], date_of_service="2025-09-10", remit_date="2026-02-01")
    wanted = desired_timers(denial, RULES)
    assert not {"filing_deadline", "appeal_deadline"} & set(wanted)  # not one per deadline
    due, detail = wanted["deadlines_passed"]
    assert due == denial.received_at
    assert detail == {"passed_at_receipt": "filing 2025-12-09, appeal 2026-07-31",
                      "candidate": "write-off or proof-of-timely-filing candidate"}  # fmt: skip


def test_some_deadlines_past_at_receipt_want_one_timer_and_the_open_ones_keep_theirs() -> None:
    denial, _ = _receive(adjustments=[("CO", "29", "350.00")], date_of_service="2025-09-10")
    wanted = desired_timers(denial, RULES)
    assert wanted["deadline_past_at_receipt"][1] == {"passed_at_receipt": "filing 2025-12-09",
                                                     "still_open": "appeal 2027-03-29"}  # fmt: skip
    assert "appeal_deadline" in wanted and "filing_deadline" not in wanted and "deadlines_passed" not in wanted


def _log(steps: list[Any], denial: Any) -> list[dict[str, Any]]:
    return [{"seq": i + 1, "event_id": "rcv", "event_type": "denial.received", "denial_id": denial.id,
             "trigger": s.trigger, "from_state": s.from_state, "to_state": s.to_state, "reason": s.reason,
             "payload": s.payload, "actor": "clearinghouse", "role": "system",
             "occurred_at": denial.received_at} for i, s in enumerate(steps)]  # fmt: skip


def test_a_log_from_before_deadline_bases_replays_as_recorded() -> None:
    denial, steps = _receive(adjustments=[("CO", "197", "350.00")])
    entries = _log(steps, denial)
    old = entries[1]["payload"]  # the classify payload as the release before this one wrote it
    old["deadlines"] = {"filing": "2026-12-09", "appeal": "2027-03-29", "retro_auth": "2026-09-24"}
    old["priority"] = "high"
    del old["payer_profile"]
    denial.audit_seq = len(steps)
    report = replay(denial, entries)
    assert report.ok, report.mismatches
    recorded = DeadlineSet.from_recorded(old)
    assert recorded.dates["filing"] == date(2026, 12, 9) and recorded.recorded == {"deadlines": old["deadlines"]}


def test_a_new_log_replays_with_its_recorded_bases() -> None:
    denial, steps = _receive(payer_id="SMALL-PLAN")
    denial.audit_seq = len(steps)
    assert replay(denial, _log(steps, denial)).ok
