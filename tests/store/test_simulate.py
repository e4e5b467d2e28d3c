"""`denialflow simulate` starts on the day `--start` names and says, before it writes anything,
when its clock will pass the real one: each simulated day's entries are dated at its end, the
next midnight, so even a simulation of today alone writes entries dated in the future."""

from datetime import UTC, datetime, timedelta

import pytest

from engine.config import Settings
from engine.demo.simulate import simulate


def test_simulate_starts_where_asked_and_says_when_it_writes_the_future(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Settings(database_url=db_url, log_level="WARNING")
    today = datetime.now(UTC).date()
    assert simulate(store, 1, today) == 0
    out = capsys.readouterr().out
    assert f"simulating 1 day(s) from {today} to {today}" in out
    assert f"the clock runs to {today + timedelta(days=1)} 00:00 UTC, past the real clock" in out
    assert "write audit entries dated in the future" in out
    past = today - timedelta(days=10)
    assert simulate(store, 2, past) == 0
    out = capsys.readouterr().out
    assert f"simulating 2 day(s) from {past} to {past + timedelta(days=1)}" in out
    assert "dated in the future" not in out
    assert (
        "flagged: none" in out and "timers that no longer applied (moved, cancelled or their denial settled): 0" in out
    )
