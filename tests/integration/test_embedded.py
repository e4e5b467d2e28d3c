"""`denialflow run` (the Quick start's main job) end to end, twice: the second run changes nothing."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

NOW = "2026-10-01T09:00:00+00:00"  # the engine's clock: a month after the demo feed starts


def _run(db: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "engine.cli", "run", "--no-serve", "--denials", "24", "--database-url",
                           f"sqlite:///{db}", "--now", NOW], capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_main_job_runs_the_demo_and_the_835_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    first = _run(tmp_path / "demo.db")
    # the $0 line the deductible absorbed (CO-45 with PR-1) is not a denial
    assert "ingested a demo 835: 6 claims, 1 paid line(s), 5 denials, 1 reversal, 4 skipped adjustments" in first
    # a month in: follow-ups missed, small balances one cycle old, and the demo 835's
    # timely-filing denial whose limit had passed before it arrived (escalated once); every
    # denial has a named owner (even the unreadable one), so no ownership timer is due; the 10th is
    # the expiring demo authorization's warning, which its recording had already raised
    assert "timers due at 2026-10-01 09:00 UTC: 10 fired -> deadline_past_at_receipt 1, follow_up 6, " \
           "soft_write_off 2" in first  # fmt: skip
    assert "worker: 116 applied, 166 transitions" in first and "4 rejected" in first
    assert "outgoing claims checked before submission: 4, held 2 (auth_on_file_not_on_claim 1, " \
           "no_authorization_on_file 1); authorization queue: 4 item(s)" in first  # fmt: skip
    assert "authorization checklist on AET-26-7001: auth_on_file_not_on_claim -> correct the claim with " \
           "authorization number AUTH-DEMO-4471 and resubmit" in first  # fmt: skip
    assert "review items (reversals matching no denial): 1" in first
    assert "chain intact" in first
    second = _run(tmp_path / "demo.db")
    # valid events are recognised by id; the poison messages are keyed by their position on
    # the (new) broker's topics, so they may be dead-lettered again: they change nothing either way
    assert "worker: 0 applied, 0 transitions" in second
    assert first.split("denials in")[1] == second.split("denials in")[1]


def test_simulate_moves_the_clock_and_the_escalation_queue_shows_why(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    _run(db)
    cli = [sys.executable, "-m", "engine.cli"]
    sim = subprocess.run([*cli, "simulate", "--days", "75", "--start", "2026-10-01", "--database-url",
                          f"sqlite:///{db}"], capture_output=True, text=True, timeout=240)  # fmt: skip
    assert sim.returncode == 0, sim.stderr[-3000:]
    assert "simulating 75 day(s) from 2026-10-01 to 2026-12-14" in sim.stdout
    days = [line for line in sim.stdout.splitlines() if line.startswith("  2026-") or line.startswith("  2027-")]
    assert len(days) == 75 and days[0].startswith("  2026-10-01:") and days[-1].startswith("  2026-12-14:")
    assert any("leadership" in line and "(flag)" in line for line in days)  # 91 days after the September receipts
    summary = dict(line.split(": ", 1) for line in sim.stdout.splitlines() if line.startswith(("escalated", "flagged")))
    assert "leadership" in summary["flagged"] and "leadership" not in summary["escalated"]
    assert "timers that no longer applied" in sim.stdout
    if date.today() < date(2026, 12, 14):
        assert "write audit entries dated in the future" in sim.stdout
    queue = subprocess.run([*cli, "escalations", "--json", "--now", "2026-12-15T00:00:00+00:00", "--database-url",
                            f"sqlite:///{db}"], capture_output=True, text=True, timeout=60)  # fmt: skip
    items = json.loads(queue.stdout)
    assert items and [i["denied_cents"] for i in items] == sorted((i["denied_cents"] for i in items), reverse=True)
    assert {"follow_up", "deadline_past_at_receipt"} <= {i["rule"] for i in items}
    assert all(i["overdue"] == (i["waited_days"] > 7) for i in items)
    assert any("leadership" in i["flags"] for i in items)
