from collections import Counter
from pathlib import Path

from workflows.routing import Routing


def test_default_team_per_category_and_payer_override() -> None:
    routing = Routing.load()
    assert routing.route("AETNA", "authorization", "0" * 32)[0] == "authorization"
    assert routing.route("MEDICARE-JL", "claim_data", "a" * 32) == ("billing", "jules.billing")
    assert routing.route("AETNA", "needs_review", "a" * 32) == ("needs_review", None)


def test_pick_is_deterministic_and_spreads_over_owners() -> None:
    routing = Routing.load()
    ids = [f"{i:08x}" + "0" * 24 for i in range(0, 3000, 7)]
    picks = Counter(routing.route("UHC", "claim_data", i)[1] for i in ids)
    assert set(picks) == {"harper.billing", "indy.billing", "jules.billing"}
    assert min(picks.values()) > len(ids) / 3 * 0.8
    assert [routing.route("UHC", "claim_data", i) for i in ids] == [routing.route("UHC", "claim_data", i) for i in ids]


def test_a_routing_file_can_replace_the_default(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('first_action_days = 3\n[teams.coding]\nteam = "coders"\nowners = ["x"]\n')
    routing = Routing.load(path)
    assert routing.first_action_days == 3
    assert routing.route("ANY", "coding", "0" * 32) == ("coders", "x")
