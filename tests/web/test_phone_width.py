"""Every page fits a phone's width: in Debian's chromium at 375 px, the page never scrolls
sideways (the header wraps, a wide table scrolls inside its card) and every header link is on
screen. The browser is served by the app in this process (its requests routed to the test
client), so the test needs no server and sees exactly the app's HTML, CSS and scripts."""

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from tests.web.conftest import DENIAL, Web, log_in

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium")) if p and os.path.exists(p)), None)
PHONE = {"width": 375, "height": 812}
SITE = "http://testserver"
PAGES = ["/", "/?payer=nosuch", f"/denials/{DENIAL}", f"/audit/denials/{DENIAL}", f"/audit/denials/{DENIAL}/evidence",
         "/audit?start=2026-09-01&end=2026-12-31", "/ingests", "/denials/0000000000"]  # fmt: skip
#: Generous: plotly.js is 4.8 MB of script for a loaded machine's chromium to parse.
READY_MS = 90_000


def _served_by(web: Web) -> Callable[[Route], None]:
    def serve(route: Route) -> None:
        asked = route.request
        path = asked.url.removeprefix(SITE)
        sent = {k: v for k, v in asked.headers.items() if k.lower() != "cookie"}  # the client holds the session
        answer = web.client.request(asked.method, path, content=asked.post_data_buffer, headers=sent,
                                    follow_redirects=False)  # fmt: skip
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        route.fulfill(status=answer.status_code, headers=headers, body=answer.content)

    return serve


@pytest.fixture
def phone(web: Web) -> Iterator[Page]:
    """A phone-sized page whose requests the app answers, as a logged-in lead (who sees every page)."""
    assert CHROMIUM, "Debian's chromium is required (scripts/test installs it: apt-get install chromium)"
    log_in(web, "lead")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport=PHONE)
        page.set_default_timeout(READY_MS)
        page.route(f"{SITE}/**", _served_by(web))
        yield page
        browser.close()


def test_every_page_fits_a_phone_without_scrolling_sideways(phone: Page) -> None:
    for path in PAGES:
        phone.goto(SITE + path, wait_until="load")
        if path.startswith("/?") or path == "/":
            phone.locator("#chart-aging .main-svg").first.wait_for()  # the charts are drawn: their final width
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide on a {PHONE['width']} px screen"
        for link in phone.locator("header.top a, header.top button").all():
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (path, link.inner_text(), box)
