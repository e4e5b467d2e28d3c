"""A person's mistake on the command line is one line naming the option and the expected form
(exit 2), and an unknown team or payer is said to be unknown (exit 1), never a traceback or an
empty table that reads like "nothing to do"."""

import itertools
import json
import subprocess
import sys

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from engine.cli.app import app
from tests.factories import received_doc, received_id
from tests.store.batches import commit, inbound
from tests.store.test_dashboard import _seed

CLI = CliRunner()


@pytest.mark.parametrize(
    ("args", "option", "expected"),
    [
        (["report", "weekly", "--week", "garbage"], "--week", "expected YYYY-MM-DD"),
        (["report", "weekly", "--week", "0001-01-01"], "--week", "outside 1900-2100"),
        (["stuck", "--now", "garbage"], "--now", "expected e.g. 2026-11-01T09:00:00+00:00"),
        (["stuck", "--now", "2026-11-01T09:00:00"], "--now", "has no UTC offset"),
        (["escalations", "--now", "9999-12-31T00:00:00+00:00"], "--now", "outside 1900-2100"),
        (["simulate", "--start", "garbage"], "--start", "expected YYYY-MM-DD"),
        (["timers", "--now", "tomorrow"], "--now", "is not a moment"),
    ],
)
def test_a_bad_option_value_names_the_option_and_the_form(args: list[str], option: str, expected: str) -> None:
    result = CLI.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output and expected in result.output
    assert "Traceback" not in result.output


def test_a_bad_setting_in_the_environment_names_the_variable(db_url: str) -> None:
    result = CLI.invoke(app, ["stuck", "--database-url", db_url], env={"DENIALFLOW_BATCH_SIZE": "lots"})
    assert result.exit_code == 2
    assert result.output.startswith("DENIALFLOW_BATCH_SIZE: ") and "'lots'" in result.output


def test_an_unreachable_or_empty_database_is_one_line() -> None:
    gone = subprocess.run([sys.executable, "-m", "engine.cli", "stuck", "--database-url",
                           "postgresql://postgres@127.0.0.1:9/test"], capture_output=True, text=True)  # fmt: skip
    assert gone.returncode == 2
    assert gone.stderr.startswith("cannot reach the database: ") and "Traceback" not in gone.stderr
    assert len(gone.stderr.strip().splitlines()) == 1


def test_unknown_team_or_payer_is_said_to_be_unknown(engine: Engine, db_url: str) -> None:
    ids = _seed(engine)
    team = CLI.invoke(app, ["queue", "NOSUCHTEAM", "--database-url", db_url])
    assert team.exit_code == 1 and "unknown team 'NOSUCHTEAM'; known: " in team.output and "billing" in team.output
    part = CLI.invoke(
        app, ["stuck", "--team", "CODIN", "--json", "--now", "2026-10-20T09:00:00+00:00", "--database-url", db_url]
    )  # any case, or part of one
    assert part.exit_code == 0 and "team 'CODIN' matches coding" in part.stderr
    assert [i["id"] for i in json.loads(part.stdout)] == [ids["e"]]
    payer = CLI.invoke(app, ["triage", "--payer", "NOSUCH", "--database-url", db_url])
    assert payer.exit_code == 1 and "unknown payer 'NOSUCH'" in payer.output
    known = CLI.invoke(app, ["queue", "billing", "--database-url", db_url], env={"COLUMNS": "200"})
    assert known.exit_code == 0 and "billing:" in known.output


def test_a_unique_id_prefix_names_a_denial_like_a_short_hash(engine: Engine, db_url: str) -> None:
    ids = _seed(engine)
    full = sorted(ids.values())[0]
    shown = CLI.invoke(app, ["show", full[:12], "--json", "--database-url", db_url])
    assert shown.exit_code == 0 and f'"id": "{full}"' in shown.output
    replayed = CLI.invoke(app, ["audit", "replay", full[:8], "--database-url", db_url])
    assert replayed.exit_code == 0 and "replay reaches the stored state" in replayed.output
    assert CLI.invoke(app, ["show", full[:5], "--database-url", db_url]).exit_code == 1  # too short to be a prefix
    assert "no denial 0000000000" in CLI.invoke(app, ["show", "0000000000", "--database-url", db_url]).output


def test_an_ambiguous_id_prefix_names_how_many_denials_it_matches(engine: Engine, db_url: str) -> None:
    first, second = _sharing_a_prefix(6)
    commit(engine, inbound([first, second]))
    one, other = received_id(first), received_id(second)
    shown = CLI.invoke(app, ["show", one[:6], "--database-url", db_url])
    assert shown.exit_code == 1 and f"a prefix of 2 denials, e.g. {', '.join(sorted([one, other]))}" in shown.output
    longer = next(n for n in range(7, 64) if one[:n] != other[:n])
    assert CLI.invoke(app, ["show", one[:longer], "--json", "--database-url", db_url]).exit_code == 0


def _sharing_a_prefix(length: int) -> tuple[dict, dict]:
    """Two receipts whose denial ids start alike (a birthday search over the factory's claims)."""
    seen: dict[str, dict] = {}
    for n in itertools.count():
        doc = received_doc(n)
        prefix = received_id(doc)[:length]
        if prefix in seen:
            return seen[prefix], doc
        seen[prefix] = doc
    raise AssertionError("unreachable")
