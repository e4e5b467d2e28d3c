"""Payer deadlines and DOMAIN.md's value tiers."""

from datetime import date
from pathlib import Path

import pytest

from workflows.apply import priority_band
from workflows.payers import BasisDates, PayerPolicies
from workflows.policy import LivePolicy
from workflows.routing import Routing


@pytest.mark.parametrize(
    ("cents", "tier"),
    [(9_999, "batch"), (10_000, "standard"), (24_999, "standard"), (25_000, "middle"), (149_999, "middle"),
     (150_000, "high")],
)  # fmt: skip
def test_value_tiers_show_the_weekly_batch_and_the_middle_layer(cents: int, tier: str) -> None:
    assert priority_band(cents) == tier
    assert priority_band(cents, days_to_deadline=31, urgent_within_days=30) == tier


@pytest.mark.parametrize(("cents", "raised"), [(5_000, "standard"), (30_000, "high"), (200_000, "urgent")])
def test_a_deadline_still_ahead_and_near_raises_one_tier(cents: int, raised: str) -> None:
    assert priority_band(cents, days_to_deadline=30, urgent_within_days=30) == raised
    assert priority_band(cents, days_to_deadline=0, urgent_within_days=30) == raised


@pytest.mark.parametrize("cents", [5_000, 30_000, 200_000])
def test_a_deadline_already_past_raises_nothing(cents: int) -> None:
    assert priority_band(cents, days_to_deadline=-3, urgent_within_days=30) == priority_band(cents)
    assert priority_band(cents, days_to_deadline=-400, urgent_within_days=30) == priority_band(cents)


def test_the_policy_counts_only_deadlines_still_ahead() -> None:
    policy = LivePolicy(Routing.load())
    received = date(2026, 10, 1)
    past_and_far = {"filing": date(2026, 6, 1), "appeal": date(2027, 3, 29)}
    assert policy.priority(35_000, past_and_far, received) == "middle"
    assert policy.priority(35_000, {**past_and_far, "retro_auth": date(2026, 10, 20)}, received) == "high"


def test_a_payer_file_can_replace_the_default(tmp_path: Path) -> None:
    path = tmp_path / "payers.toml"
    path.write_text(
        "urgent_within_days = 7\n[default]\ntimely_filing = { days = 30 }\ncorrected_claim = { days = 20 }\n"
        "appeal = [{ days = 30 }]\nretro_auth = { days = 3 }\n"
    )
    payers = PayerPolicies.load(path)
    assert payers.urgent_within_days == 7
    dated = payers.deadlines("X", "coding", BasisDates(date(2026, 1, 1), date(2026, 1, 15)), date(2026, 1, 20))
    assert dated.dates == {"filing": date(2026, 2, 4), "appeal": date(2026, 2, 14)}
