"""The Quick start's main job in a real browser: `denialflow run` serves the dashboard over
the bundled broker and a SQLite file; Debian's chromium, driven by Playwright, logs in,
opens a stuck item, approves its write-off as a lead and sees the engine's new state.
Screenshots of each step land in test-artifacts/e2e/."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from engine.runtime.broker import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium")) if p and os.path.exists(p)), None)


class Served:
    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`denialflow run` as the Quick start runs it, on a free port, until its logins are printed."""
    port = free_port()
    db = tmp_path_factory.mktemp("e2e") / "demo.db"
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", "--denials", "24", "--port", str(port),
                             "--database-url", f"sqlite:///{db}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)  # fmt: skip
    tokens: dict[str, str] = {}
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    for line in proc.stdout:
        if found := re.search(r"log in as (\S+) \((\w+)\) with token (\S+)", line):
            tokens[found[2]] = found[3]
        if "Ctrl-C stops everything" in line or time.monotonic() > deadline:
            break
    assert set(tokens) == {"lead", "auditor"}, "denialflow run did not start serving"
    yield Served(f"http://127.0.0.1:{port}", tokens)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "Debian's chromium is required (scripts/test installs it: apt-get install chromium)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


def _log_in(page: Page, served: Served, role: str) -> None:
    page.goto(served.url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.fill("input[name=token]", served.tokens[role])
    page.click("button:text('Log in')")
    expect(page.locator("#stuck")).to_be_visible()


def test_a_lead_approves_a_stuck_write_off_and_sees_the_engine_apply_it(browser: Browser, served: Served) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(served.url + "/")
    page.screenshot(path=ARTIFACTS / "01-login.png")
    _log_in(page, served, "lead")
    expect(page.locator("#chart-aging .main-svg").first).to_be_visible()  # plotly drew the charts
    assert int(page.locator("#stuck-count").inner_text()) > 0
    page.screenshot(path=ARTIFACTS / "02-dashboard.png", full_page=True)

    escalated = page.locator("#stuck tbody tr", has=page.locator(".state.escalated")).first
    denied = escalated.locator("td.num").inner_text()
    escalated.locator("a").click()
    expect(page.locator("#state")).to_have_text("escalated")
    page.screenshot(path=ARTIFACTS / "03-stuck-denial.png", full_page=True)

    page.click("summary:text('Approve write-off')")
    form = page.locator("form[data-action=written_off]")
    form.locator("select[name=adjustment_type]").select_option("administrative")
    form.locator("input[name=amount]").fill(denied.lstrip("$").replace(",", ""))
    form.locator("textarea[name=reason]").fill("escalated past the appeal window; approved by the billing lead")
    form.locator("button").click()
    expect(page.locator("#outcome")).to_have_text("Applied by the engine.", timeout=30_000)
    expect(page.locator("#state")).to_have_text("written_off")
    expect(page.locator("#timeline tbody tr").last).to_contain_text("write_off")
    expect(page.locator("#timeline tbody tr").last).to_contain_text("morgan.lead")
    page.screenshot(path=ARTIFACTS / "04-written-off.png", full_page=True)
    page.close()


def test_an_auditor_reads_masked_and_replays_but_cannot_act(browser: Browser, served: Served) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _log_in(page, served, "auditor")
    page.locator("#stuck tbody tr a").first.click()
    expect(page.locator("#actions")).to_have_count(0)
    patient = page.locator("dt:text('Patient') + dd").inner_text()
    assert "***" in patient or patient == "-"
    page.click("a:text('replay')")
    expect(page.locator("#replay")).to_contain_text("Replay reproduces all")
    page.click("a:text('Closure evidence pack (printable)')")
    expect(page.locator("#chain")).to_contain_text("Hash chain: intact")
    page.screenshot(path=ARTIFACTS / "05-evidence-pack.png", full_page=True)
    page.goto(served.url + "/audit")
    page.fill("input[name=start]", "2020-01-01")
    page.fill("input[name=end]", "2029-01-01")
    page.click("button:text('Verify chains')")
    expect(page.locator("#verify")).to_contain_text("Intact:")
    page.close()


def test_the_authorization_queue_shows_an_expiring_authorization_and_a_held_claim_a_lead_releases(
    browser: Browser, served: Served
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _log_in(page, served, "lead")
    expect(page.locator("#prevention")).to_contain_text("held")
    page.click("nav a:text('Authorizations')")
    queue = page.locator("#auth-queue tbody")
    expiring = queue.locator("tr.expires_soon")
    expect(expiring).to_contain_text("AUTH-DEMO-4480")
    expect(expiring).to_contain_text("request an extension")
    held = queue.locator("tr.hold", has_text="PCN-9002")
    expect(held).to_contain_text("AUTH-DEMO-4471")  # the number to put on the claim
    expect(page.locator("#holds-by-cause")).to_contain_text("auth on file not on claim")
    page.screenshot(path=ARTIFACTS / "06-authorization-queue.png", full_page=True)
    held.locator("input[name=reason]").fill("the payer confirmed the authorization by phone")
    held.locator("button:text('Release')").click()
    expect(page.locator("#released")).to_contain_text("Release sent")
    deadline = time.monotonic() + 60  # the worker applies the release: the page shows it once reloaded
    while page.locator("#auth-queue tbody tr.hold", has_text="PCN-9002").count() and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#auth-queue tbody tr.hold", has_text="PCN-9002")).to_have_count(0)
    page.close()
