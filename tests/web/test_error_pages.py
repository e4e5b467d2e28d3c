"""A browser on a page that fails sees a page saying why (404, 405, even a 500), with the
security headers, never FastAPI's raw JSON; API clients keep their JSON. The 12-character ids
the dashboard shows (any unique prefix, like git's short hashes) open the denial page, the
replay (also from the audit page's form), the evidence pack, the API, and act on the denial."""

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from engine.config import Settings
from engine.web.app import create_app
from engine.web.headers import CSP
from tests.helpers import read_topic
from tests.web.conftest import DENIAL, OWN_ORIGIN, Web, log_in

SHORT = DENIAL[:12]


def _page(response: Any, status: int, title: str, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert f"<h1>{title}</h1>" in response.text and detail in response.text


def test_a_page_that_fails_is_a_page_and_the_api_keeps_its_json(web: Web) -> None:
    log_in(web, "lead")
    _page(web.client.get("/denials/0000000000"), 404, "Not found", "no denial 0000000000")
    _page(web.client.get("/no/such/page"), 404, "Not found", "Not Found")
    _page(web.client.get("/logout"), 405, "Not allowed here", "Method Not Allowed")
    api = web.client.get("/api/denials/0000000000")
    assert api.status_code == 404 and api.json() == {"detail": "no denial 0000000000"}


def test_a_server_failure_is_a_page_for_a_browser_and_json_for_the_api(settings: Settings, tmp_path: Path) -> None:
    never_migrated = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    client = TestClient(create_app(never_migrated), raise_server_exceptions=False)
    token = {"Authorization": "Bearer dfk_anything"}  # looking it up is what fails: the store has no tables
    _page(client.get("/", headers=token), 500, "Something went wrong", "the error is logged for the administrator")
    api = client.get("/api/stuck", headers=token)
    assert api.status_code == 500 and api.headers["content-security-policy"] == CSP
    assert api.json()["detail"] == "the server failed to answer this request; the error is logged for the administrator"


def test_the_short_id_the_dashboard_shows_works_everywhere(web: Web, settings: Settings) -> None:
    log_in(web, "lead")
    assert f"<code>{DENIAL}</code>" in web.client.get(f"/denials/{SHORT}").text
    replay = web.client.get("/audit/denials", params={"denial": f" {SHORT} "})  # pasted from the dashboard
    assert replay.status_code == 200 and f'<a href="/denials/{DENIAL}"><code>{DENIAL}</code></a>' in replay.text
    assert f"denial <code>{DENIAL}</code>" in web.client.get(f"/audit/denials/{SHORT}/evidence").text
    assert web.client.get(f"/api/denials/{SHORT}").json()["id"] == DENIAL
    log_in(web, "owner")
    form = {"note": "called the payer", "next_action_date": "2026-12-01"}
    sent = web.client.post(f"/denials/{SHORT}/actions/touched", data=form, headers=OWN_ORIGIN, follow_redirects=False)
    assert sent.status_code == 303
    [record] = read_topic(settings, settings.events_topic)
    assert json.loads(record.value)["denial_id"] == DENIAL and record.key == DENIAL.encode()  # the engine's id
    _page(web.client.get(f"/denials/{DENIAL[:5]}"), 404, "Not found", f"no denial {DENIAL[:5]}")  # too short
