"""A filter typed by a person matches whatever its case, or as part of a value, on SQLite and
PostgreSQL, in the dashboard's numbers and on the command line; a value equal to one (any case)
names only that one; one that names nothing says so, listing the known values."""

import json

from sqlalchemy import Engine
from typer.testing import CliRunner

from engine.cli.app import app
from engine.read import queries
from engine.read.kpis import Filters, Scope
from tests.store.test_dashboard import RULES, SCOPE, TODAY, _seed

CLI = CliRunner()


def test_equal_whatever_the_case_beats_part_of_a_value_and_wildcards_are_plain_text() -> None:
    sites = ["North", "North Clinic", "Main", "50%_off"]
    assert queries.matches("north", sites) == ("North",)
    assert queries.matches(" nor ", sites) == ("North", "North Clinic")
    assert queries.matches("%", sites) == ("50%_off",) and queries.matches("_", ["a", "b_c"]) == ("b_c",)
    assert queries.matches("south", sites) == () and queries.matches("", sites) == ()


def test_the_dashboard_reads_what_a_typed_filter_names(engine: Engine) -> None:
    _seed(engine)
    as_stored = queries.dashboard(engine, Scope(SCOPE.start, SCOPE.end, Filters(payer="UHC", site="North")), TODAY,
                                  RULES)  # fmt: skip
    typed = queries.dashboard(engine, Scope(SCOPE.start, SCOPE.end, Filters(payer="uhc", site="nor")), TODAY, RULES)
    assert typed["open"] == as_stored["open"] and typed["trend"] == as_stored["trend"]
    assert typed["scope"]["matched"] == {"payer": ["UHC"], "site": ["North"]} and typed["scope"]["unmatched"] == {}
    coding = queries.dashboard(engine, Scope(SCOPE.start, SCOPE.end, Filters(category="CODING")), TODAY, RULES)
    assert coding["open"]["count"] == 3  # b, e, g
    nothing = queries.dashboard(engine, Scope(SCOPE.start, SCOPE.end, Filters(payer="cigna", team="coding")), TODAY,
                                RULES)  # fmt: skip
    assert nothing["open"]["count"] == 0 and nothing["stuck"]["items"] == []
    assert nothing["scope"]["unmatched"] == {"payer": "unknown payer 'cigna'; known: AETNA, UHC"}
    with engine.connect() as conn:
        profiled = queries.match_filters(conn, Filters(payer="cigna"), {"payer": ["CIGNA"]})
    assert profiled.values("payer") == ("CIGNA",) and profiled.unmatched == {}  # configured, no denial yet


def test_the_command_line_reads_what_a_typed_payer_or_team_names(engine: Engine, db_url: str) -> None:
    ids = _seed(engine)
    triage = CLI.invoke(app, ["triage", "--payer", "aetna", "--json", "--database-url", db_url])
    assert triage.exit_code == 0 and "payer 'aetna' matches AETNA" in triage.stderr
    assert {i["id"] for i in json.loads(triage.stdout)} == {ids["b"], ids["e"], ids["g"]}
    queue = CLI.invoke(app, ["queue", "CODING", "--database-url", db_url], env={"COLUMNS": "200"})
    assert queue.exit_code == 0 and "coding: 3 open denial(s)" in queue.stdout
    unknown = CLI.invoke(app, ["triage", "--payer", "cigna", "--database-url", db_url])
    assert unknown.exit_code == 1 and unknown.stderr.startswith("unknown payer 'cigna'; known: ")
    assert unknown.stdout == ""  # no empty table
