"""The server-rendered pages on both databases: every page for every role (a browser without
a login is sent to log in, a role that may not see a page gets a 403 page), the patient
shown only to the roles that work the claim, and a form that fails the event schema
refused naming the field, with nothing published."""

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.config import Settings
from engine.intake import quarantine
from engine.intake.event_data import Role
from engine.intake.ingest import ingest_file
from engine.storage.db import make_engine
from engine.web.app import create_app
from engine.web.tokens import create_token
from tests.factories import T0, received_doc, received_id
from tests.helpers import read_topic
from tests.ingest.envelope_files import SAMPLES
from tests.store.batches import commit, inbound

DOC = received_doc(601, adjustments=[("CO", "4", "350.00")])
DENIAL = received_id(DOC)
ROLES = (Role.STAFF, Role.LEAD, Role.AUDITOR, Role.ADMIN)
EVERYONE = set(ROLES)
SUPERVISE = {Role.LEAD, Role.AUDITOR, Role.ADMIN}
PAGES = [
    ("/", EVERYONE),
    ("/?payer=AETNA&team=coding&category=coding&site=Main&start=2026-09-01&end=2026-10-31", EVERYONE),
    (f"/denials/{DENIAL}", EVERYONE),
    ("/audit", SUPERVISE),
    ("/audit?start=2026-09-01&end=2026-12-31", SUPERVISE),
    (f"/audit/denials/{DENIAL}", SUPERVISE),
    (f"/audit/denials/{DENIAL}/evidence", SUPERVISE),
    ("/ingests", EVERYONE),
]


@pytest.fixture
def site(settings: Settings) -> tuple[TestClient, dict[Role, str]]:
    engine = make_engine(settings.database_url)
    commit(engine, inbound([DOC]))
    tokens = {role: create_token(engine, f"pat.{role.value}", role, T0) for role in ROLES}
    engine.dispose()
    client = TestClient(create_app(settings), headers={"Origin": "http://testserver"})  # a browser's same-origin POSTs
    return client, tokens


def _as(client: TestClient, token: str) -> TestClient:
    """Log in as a browser does: the client then holds that session's cookie."""
    client.cookies.clear()
    assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    return client


@pytest.mark.parametrize(("path", "allowed"), PAGES)
def test_every_page_for_every_role(site: Any, path: str, allowed: set[Role]) -> None:
    client, tokens = site
    anonymous = client.get(path, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/")
    for role in ROLES:
        page = _as(client, tokens[role]).get(path)
        assert page.status_code == (200 if role in allowed else 403), (role, page.text[:500])
        assert page.headers["content-type"].startswith("text/html")
        if role not in allowed:
            assert f"role {role.value} may not do this" in page.text


def test_logging_in_and_out(site: Any) -> None:
    client, tokens = site
    refused = client.post("/login", data={"token": "dfk_forged", "next": "/"})
    assert refused.status_code == 401 and "Unknown, revoked or expired token" in refused.text
    done = client.post("/login", data={"token": tokens[Role.LEAD], "next": "https://evil.example/"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/"  # never off-site
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_patient_is_shown_only_to_roles_that_work_the_claim(site: Any) -> None:
    client, tokens = site
    for role in ROLES:
        page = _as(client, tokens[role]).get(f"/denials/{DENIAL}").text
        assert ("Ada Q Patient" in page) == (role in (Role.STAFF, Role.LEAD)), role
        assert "MBR-PHI-778899" not in page or role in (Role.STAFF, Role.LEAD)


def test_a_form_the_schema_refuses_names_the_field_and_publishes_nothing(site: Any, settings: Settings) -> None:
    client, tokens = site
    form = {"note": "called", "next_action_date": "not a date"}
    refused = _as(client, tokens[Role.LEAD]).post(f"/denials/{DENIAL}/actions/touched", data=form)
    assert refused.status_code == 422 and "data.next_action_date" in refused.text
    assert read_topic(settings, settings.events_topic) == []
    auditor = _as(client, tokens[Role.AUDITOR]).post(f"/denials/{DENIAL}/actions/touched", data=form)
    assert auditor.status_code == 403
    assert _as(client, tokens[Role.LEAD]).post(f"/denials/{DENIAL}/actions/teleport", data=form).status_code == 404


def test_a_form_is_published_as_an_event_and_the_page_follows_it(site: Any, settings: Settings) -> None:
    client, tokens = site
    form = {"note": "called the payer", "next_action_date": "2026-12-01"}
    sent = _as(client, tokens[Role.STAFF]).post(f"/denials/{DENIAL}/actions/touched", data=form,
                                                follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    event_id = sent.headers["location"].split("event=")[1]
    pending = client.get(sent.headers["location"]).text
    assert "waiting for the engine" in pending and 'http-equiv="refresh"' in pending
    [record] = read_topic(settings, settings.events_topic)
    assert f'"event_id":"{event_id}"'.encode() in record.value and b'"actor":"pat.staff"' in record.value


def test_a_bad_date_filter_is_a_clear_error(site: Any) -> None:
    client, tokens = site
    page = _as(client, tokens[Role.LEAD]).get("/?start=yesterday")
    assert page.status_code == 422 and "start: Input should be a valid date" in page.text


def test_a_payer_without_a_profile_shows_on_its_denial_page_and_as_a_dashboard_tile(site: Any, settings: Settings
                                                                                    ) -> None:  # fmt: skip
    client, tokens = site
    unknown = received_doc(602, adjustments=[("CO", "4", "120.00")], payer_id="SMALL-PLAN")
    engine = make_engine(settings.database_url)
    commit(engine, inbound([unknown], start=1))
    engine.dispose()
    lead = _as(client, tokens[Role.LEAD])
    page = lead.get(f"/denials/{received_id(unknown)}").text
    assert 'id="payer-limits">payer limits unknown, defaults used</p>' in page
    assert "corrected claim, 90 d from remit date 2026-09-30" in page
    assert 'id="payer-limits"' not in lead.get(f"/denials/{DENIAL}").text  # Aetna has a profile
    tile = re.search(r'id="payer-limits-unknown">(\d+)</b>', lead.get("/").text)
    assert tile is not None and tile.group(1) == "1"


def test_the_ingest_page_lists_files_newest_first_with_warnings_and_refusals(site: Any, settings: Settings) -> None:
    client, tokens = site
    engine = make_engine(settings.database_url)
    for hours, name in enumerate(("envelope/se01-count.835", "envelope/bad-date.835")):
        result = ingest_file(SAMPLES / name, lambda key, value: None)
        quarantine.remember(engine, quarantine.directory(settings), result, SAMPLES / name, T0 + timedelta(hours=hours))
    engine.dispose()
    page = _as(client, tokens[Role.STAFF]).get("/ingests").text
    assert '<a href="/ingests">835 files</a>' in page
    table = page.split('id="ingests"', 1)[1]
    assert table.index("bad-date.835") < table.index("se01-count.835")  # newest first
    assert "<code>envelope.se01_count</code>" in table and "DTM02 &#39;20261340&#39; is not a date" in table
    assert '<span class="state refused">refused</span>' in table and '<span class="state accepted">' in table
