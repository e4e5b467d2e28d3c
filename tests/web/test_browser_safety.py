"""What a browser is protected by besides SameSite=Strict: a state change from a logged-in
browser must name this site as its Origin (or Referer), and every response carries the
security headers; the API reference is served from the app itself, behind login."""

import re

import pytest

from engine.config import Settings
from engine.web.headers import CSP
from tests.helpers import read_topic
from tests.web.conftest import DENIAL, OWN_ORIGIN, Web, log_in

TOUCH = {"note": "called the payer", "next_action_date": "2026-12-01"}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/forms/touch.html"},
        {"Origin": "http://testserver.evil.example"},
        {},  # neither Origin nor Referer
    ],
)
def test_a_cookie_authenticated_state_change_from_another_origin_is_refused(
    web: Web, settings: Settings, headers: dict[str, str]
) -> None:
    log_in(web, "owner")
    sent = web.client.post(f"/denials/{DENIAL}/actions/touched", data=TOUCH, headers=headers, follow_redirects=False)
    assert sent.status_code == 403 and ("Origin" in sent.text or "not this site" in sent.text), sent.text
    api = web.client.post(f"/api/denials/{DENIAL}/events", json={"type": "denial.touched", "data": TOUCH},
                          headers=headers)  # fmt: skip
    assert api.status_code == 403
    logout = web.client.post("/logout", headers=headers, follow_redirects=False)
    assert logout.status_code == 403
    assert read_topic(settings, settings.events_topic) == []  # nothing was sent
    assert web.client.get("/").status_code == 200  # still logged in: the forged logout did nothing


def test_the_same_origin_and_a_bearer_token_are_accepted(web: Web, settings: Settings) -> None:
    log_in(web, "owner")
    form = web.client.post(f"/denials/{DENIAL}/actions/touched", data=TOUCH, headers=OWN_ORIGIN,
                           follow_redirects=False)  # fmt: skip
    assert form.status_code == 303
    by_referer = web.client.post(f"/denials/{DENIAL}/actions/touched", data=TOUCH, follow_redirects=False,
                                 headers={"Referer": f"http://testserver/denials/{DENIAL}"})  # fmt: skip
    assert by_referer.status_code == 303
    web.client.cookies.clear()  # an API client: no cookie, no Origin, a bearer token
    bearer = {"Authorization": f"Bearer {web.tokens['owner']}"}
    api = web.client.post(f"/api/denials/{DENIAL}/events", json={"type": "denial.touched", "data": TOUCH},
                          headers=bearer)  # fmt: skip
    assert api.status_code == 202
    assert len(read_topic(settings, settings.events_topic)) == 3


def test_a_login_form_posted_from_another_site_is_refused(web: Web) -> None:
    forged = web.client.post("/login", data={"token": web.tokens["lead"]}, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and "denialflow_session" not in forged.headers.get("set-cookie", "")


@pytest.mark.parametrize("path", ["/", f"/denials/{DENIAL}", "/audit", f"/audit/denials/{DENIAL}/evidence", "/docs",
                                  "/login", "/static/app.css", "/api/stuck", "/healthz", "/nowhere"])  # fmt: skip
def test_every_response_carries_the_security_headers(web: Web, path: str) -> None:
    log_in(web, "lead")
    response = web.client.get(path)
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_the_policy_allows_no_inline_script_and_the_pages_need_none(web: Web) -> None:
    assert "script-src 'self';" in CSP and "unsafe-eval" not in CSP and "frame-ancestors 'none'" in CSP
    log_in(web, "lead")
    for path in ("/", f"/denials/{DENIAL}", "/audit", f"/audit/denials/{DENIAL}", f"/audit/denials/{DENIAL}/evidence",
                 "/ingests", "/docs"):  # fmt: skip
        html = web.client.get(path).text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert all('src="/static/' in attrs or ("application/json" in attrs) for attrs, _ in scripts), (path, scripts)
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers
        assert "cdn." not in html, path
    for asset in ("/static/charts.js", "/static/print.js", "/static/docs.js", "/static/plotly.min.js",
                  "/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css"):  # fmt: skip
        assert web.client.get(asset).status_code == 200, asset
    assert web.client.get("/static/../config.py").status_code == 404
    assert web.client.get("/static/docs/redoc.standalone.js").status_code == 404


def test_the_api_reference_is_behind_login(web: Web) -> None:
    assert web.client.get("/docs", follow_redirects=False).status_code == 303
    assert web.client.get("/openapi.json").status_code == 401
    log_in(web, "staff")
    schema = web.client.get("/openapi.json").json()
    assert "/api/denials/{denial_id}/events" in schema["paths"]
    assert '<div id="swagger-ui">' in web.client.get("/docs").text
