"""Payer deadlines and DOMAIN.md's value tiers."""

from datetime import date
from pathlib import Path

import pytest

from workflows.apply import priority_band
from workflows.payers import PayerPolicies


@pytest.mark.parametrize(
    ("cents", "tier"),
    [(9_999, "batch"), (10_000, "standard"), (24_999, "standard"), (25_000, "middle"), (149_999, "middle"),
     (150_000, "high")],
)  # fmt: skip
def test_value_tiers_show_the_weekly_batch_and_the_middle_layer(cents: int, tier: str) -> None:
    assert priority_band(cents) == tier
    assert priority_band(cents, days_to_deadline=31, urgent_within_days=30) == tier


@pytest.mark.parametrize(("cents", "raised"), [(5_000, "standard"), (30_000, "high"), (200_000, "urgent")])
def test_a_near_deadline_raises_one_tier(cents: int, raised: str) -> None:
    assert priority_band(cents, days_to_deadline=30, urgent_within_days=30) == raised
    assert priority_band(cents, days_to_deadline=-3, urgent_within_days=30) == raised


def test_deadlines_come_from_the_payer_or_the_default() -> None:
    payers = PayerPolicies.load()
    dos, remit = date(2026, 9, 10), date(2026, 9, 30)
    assert payers.deadlines("MEDICARE-JL", dos, remit, "coding") == {"filing": "2027-09-10", "appeal": "2027-01-28"}
    assert payers.deadlines("UNKNOWN-PAYER", dos, remit, "authorization") == {
        "filing": "2026-12-09", "appeal": "2027-03-29", "retro_auth": "2026-09-24"
    }  # fmt: skip


def test_a_payer_file_can_replace_the_default(tmp_path: Path) -> None:
    path = tmp_path / "payers.toml"
    path.write_text(
        "urgent_within_days = 7\n[default]\ntimely_filing_days = 30\nappeal_days = 30\nretro_auth_days = 3\n"
    )
    payers = PayerPolicies.load(path)
    assert payers.urgent_within_days == 7
    assert payers.deadlines("X", date(2026, 1, 1), date(2026, 1, 15), "coding")["filing"] == "2026-01-31"
