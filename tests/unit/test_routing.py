from collections import Counter
from pathlib import Path

from workflows.routing import Routing

NO_WORK: dict[str, int] = {}


def test_default_team_per_category_and_payer_override() -> None:
    routing = Routing.load()
    assert routing.route("AETNA", "authorization", "0" * 32, NO_WORK)[0] == "authorization"
    assert routing.route("MEDICARE-JL", "claim_data", "a" * 32, NO_WORK) == ("billing", "jules.billing")
    assert routing.route("AETNA", "needs_review", "a" * 32, NO_WORK) == ("needs_review", "rowan.review")


def test_new_work_goes_to_the_owner_with_the_least_open_work() -> None:
    routing = Routing.load()
    load = {"harper.billing": 12, "indy.billing": 3, "jules.billing": 9}
    assert {routing.route("UHC", "claim_data", f"{i:08x}" + "0" * 24, load)[1] for i in range(50)} == {"indy.billing"}


def test_assigning_in_turn_keeps_the_queues_level() -> None:
    routing = Routing.load()
    load = {"harper.billing": 4, "indy.billing": 0, "jules.billing": 1}
    for i in range(301):
        owner = routing.route("UHC", "claim_data", f"{i * 7919:08x}" + "0" * 24, load)[1]
        assert owner is not None
        load[owner] += 1
    assert sorted(load.values()) == [102, 102, 102]


def test_equal_queues_spread_by_a_stable_hash() -> None:
    routing = Routing.load()
    ids = [f"{i:08x}" + "0" * 24 for i in range(0, 3000, 7)]
    picks = Counter(routing.route("UHC", "claim_data", i, NO_WORK)[1] for i in ids)
    assert set(picks) == {"harper.billing", "indy.billing", "jules.billing"}
    assert min(picks.values()) > len(ids) / 3 * 0.8
    again = [routing.route("UHC", "claim_data", i, NO_WORK) for i in ids]
    assert again == [routing.route("UHC", "claim_data", i, NO_WORK) for i in ids]


def test_a_routing_file_can_replace_the_default(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('first_action_days = 3\n[teams.coding]\nteam = "coders"\nowners = ["x"]\n')
    routing = Routing.load(path)
    assert routing.first_action_days == 3
    assert routing.route("ANY", "coding", "0" * 32, NO_WORK) == ("coders", "x")
    assert routing.owners() == {"x"}
