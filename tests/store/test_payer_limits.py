"""A payer without a profile is visible wherever its denials are: `show`, the dashboard tile
and `denialflow payers --unknown`, on SQLite and PostgreSQL."""

import json
from datetime import date

from sqlalchemy import Engine
from typer.testing import CliRunner

from engine.cli.app import app
from engine.read import queries
from engine.read.kpis import Scope
from engine.read.render import LIMITS_UNKNOWN, denial_text
from engine.storage import store
from tests.factories import LEAD, event_doc, received_doc, received_id
from tests.store.batches import commit, inbound
from workflows.escalation import EscalationRules
from workflows.payers import PayerPolicies

TODAY = date(2026, 10, 20)
WRITE_OFF = {"adjustment_type": "small_balance", "amount": "50.00", "reason": "small"}


def _seed(engine: Engine) -> dict[str, str]:
    docs = {
        "open_big": received_doc(1, adjustments=[("CO", "4", "350.00")], payer_id="SMALL-PLAN"),
        "open_small": received_doc(2, adjustments=[("CO", "4", "100.00")], payer_id="SMALL-PLAN"),
        "written_off": received_doc(3, adjustments=[("CO", "4", "50.00")], payer_id="SMALL-PLAN"),
        "known": received_doc(4, adjustments=[("CO", "4", "200.00")], payer_id="AETNA"),
    }
    ids = {name: received_id(doc) for name, doc in docs.items()}
    touch = event_doc("denial.touched", ids["written_off"], LEAD, {"note": "n", "next_action_date": "2026-10-10"})
    off = event_doc("denial.written_off", ids["written_off"], LEAD, WRITE_OFF, day=2)
    result, _ = commit(engine, inbound([*docs.values(), touch, off]))
    assert result.rejected == 0
    return ids


def test_open_denials_dated_by_the_defaults_are_a_dashboard_tile(engine: Engine) -> None:
    _seed(engine)
    data = queries.dashboard(engine, Scope(date(2026, 9, 28), date(2026, 10, 19)), TODAY, EscalationRules())
    assert (data["open"]["count"], data["open"]["payer_limits_unknown"]) == (3, 2)  # the write-off is not open


def test_payers_without_a_profile_are_listed_with_counts_and_dollars(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as conn:
        listed = queries.unknown_payers(conn, PayerPolicies.load().payers)
    assert [i.as_dict() for i in listed] == [{"payer_id": "SMALL-PLAN", "payer_name": "Small-Plan", "denials": 3,
                                              "denied_cents": 50_000, "open": 2, "open_cents": 45_000}]  # fmt: skip


def test_show_says_the_limits_are_unknown_and_how_each_deadline_was_dated(engine: Engine) -> None:
    ids = _seed(engine)
    with engine.connect() as conn:
        unknown = denial_text(store.get_denial(conn, ids["open_big"]), store.history(conn, ids["open_big"]), TODAY)
        known = denial_text(store.get_denial(conn, ids["known"]), store.history(conn, ids["known"]), TODAY)
    assert f"deadlines  {LIMITS_UNKNOWN}" in unknown and LIMITS_UNKNOWN not in known
    assert "filing     2026-12-29  corrected claim, 90 d from remit date 2026-09-30" in known
    assert "appeal     2027-03-29  appeal level 1, 180 d from remit date 2026-09-30" in known


def test_the_payers_command_lists_profiles_and_the_unknown_ones(engine: Engine, db_url: str) -> None:
    ids = _seed(engine)
    cli = CliRunner()
    unknown = cli.invoke(app, ["payers", "--unknown", "--json", "--database-url", db_url])
    assert unknown.exit_code == 0, unknown.output
    assert [(i["payer_id"], i["denials"], i["open"]) for i in json.loads(unknown.output)] == [("SMALL-PLAN", 3, 2)]
    profiles = cli.invoke(app, ["payers", "--json", "--database-url", db_url])
    doc = json.loads(profiles.output)
    assert doc["payers"]["AETNA"]["corrected_claim"] == {"days": 90, "basis": "remit_date"}
    assert doc["default"]["appeal"][1] == {"days": 60, "basis": "previous_decision"}
    table = cli.invoke(app, ["payers", "--database-url", db_url], env={"COLUMNS": "200"})
    assert "MEDICARE-JL" in table.output and "365 d from date of service" in table.output
    shown = cli.invoke(app, ["show", ids["open_small"], "--database-url", db_url])
    assert LIMITS_UNKNOWN in shown.output
