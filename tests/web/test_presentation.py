"""What the pages show people, on both databases: the evidence pack in dollars, minutes and
yes/no (its JSON without microseconds); a passed payer deadline highlighted on the denial page;
filters typed in any case or in part, and a filter that names nothing said to; every week of
the range on the trend charts."""

import json
import re
from datetime import UTC, datetime

from engine.storage import store
from tests.factories import LEAD, event_doc, received_doc, received_id, touch
from tests.store.batches import commit, inbound
from tests.web.conftest import DENIAL, Web, log_in

BIG = received_doc(702, adjustments=[("CO", "16", "1674.97")], billed_amount="1674.97")
CAUSE = {"category": "claim_submission", "handoff": "front desk -> billing", "preventable": True,
         "prevention_owner": "front desk lead"}  # fmt: skip


def _written_off_and_closed(web: Web) -> str:
    """BIG touched by its owner, written off in full by the lead and closed with a root cause."""
    denial_id = received_id(BIG)
    commit(web.engine, inbound([BIG], start=1))
    with web.engine.connect() as conn:
        owner = store.get_denial(conn, denial_id).owner
    write_off = {"adjustment_type": "administrative", "amount": "1674.97", "reason": "not collectible"}
    close = {"root_cause": CAUSE, "evidence": {"approver": LEAD[0], "reason": "not collectible"}}
    events = [touch(denial_id, owner, day=2), event_doc("denial.written_off", denial_id, LEAD, write_off, day=3),
              event_doc("denial.closed", denial_id, LEAD, close, day=4)]  # fmt: skip
    result, _ = commit(web.engine, inbound(events, start=2))
    assert result.rejected == 0
    return denial_id


def test_the_evidence_pack_shows_dollars_minutes_and_yes_or_no(web: Web) -> None:
    denial_id = _written_off_and_closed(web)
    web.clock.now = datetime(2026, 10, 9, 12, 30, 15, 123456, tzinfo=UTC)
    log_in(web, "lead")
    page = web.client.get(f"/audit/denials/{denial_id}/evidence").text
    closure = page.split("<h2>Closure</h2>", 1)[1].split("<h2>Integrity</h2>", 1)[0]
    assert "Generated 2026-10-09 12:30 UTC by web.lead" in page and ".123456" not in page
    assert "denied $1,674.97" in page
    assert "amount: $1,674.97" in closure and "closed 2026-10-05 09:00 UTC" in closure
    assert re.search(r'<dt>Preventable</dt><dd id="preventable">yes · prevention owner front desk lead</dd>', closure)
    assert not re.search(r"\b(True|False|None)\b", closure)  # no Python values, and no empty fields
    assert "2026-10-04 09:00 UTC" in page.split("<h2>Timeline</h2>", 1)[1]  # the write-off's moment
    pack = web.client.get(f"/api/denials/{denial_id}/evidence").json()
    assert pack["generated_at"] == "2026-10-09T12:30:15+00:00"
    assert pack["closure"]["write_off"]["amount"] == "1674.97"  # the JSON stays machine-readable


def test_a_passed_payer_deadline_is_highlighted_on_the_denial_page(web: Web) -> None:
    with web.engine.connect() as conn:
        filing = store.get_denial(conn, DENIAL).filing_deadline
    log_in(web, "lead")
    assert 'id="deadline-alerts"' not in web.client.get(f"/denials/{DENIAL}").text
    web.clock.now = datetime(filing.year + 1, filing.month, filing.day, tzinfo=UTC)
    log_in(web, "lead")  # a session a year old has ended
    page = web.client.get(f"/denials/{DENIAL}").text
    assert f'id="deadline-alerts" role="alert"><b>Payer deadline:</b> filing deadline passed: {filing}' in page
    assert f'<li class="passed">filing <b>{filing}</b>' in page


def test_filters_match_whatever_their_case_or_part_and_say_when_they_name_nothing(web: Web) -> None:
    log_in(web, "lead")
    exact = web.client.get("/api/dashboard?payer=AETNA").json()
    typed = web.client.get("/api/dashboard?payer=aetna&team=Cod&site=").json()
    assert exact["open"] == typed["open"] and typed["open"]["count"] == 1
    assert typed["scope"]["matched"] == {"payer": ["AETNA"], "team": ["coding"]} and typed["scope"]["unmatched"] == {}
    nothing = web.client.get("/api/dashboard?payer=nosuch").json()
    assert nothing["open"]["count"] == 0
    why = nothing["scope"]["unmatched"]["payer"]
    assert why.startswith("unknown payer 'nosuch'; known: ") and "AETNA, " in why  # stored and profiled payers
    page = web.client.get("/?payer=nosuch&team=coding").text
    assert 'id="unmatched-payer" role="status">Nothing to show: unknown payer &#39;nosuch&#39;; known: ' in page
    assert "“aetna” matches AETNA" in web.client.get("/?payer=aetna").text
    assert [i["id"] for i in web.client.get("/api/triage?payer=aet").json()] == [DENIAL]
    assert [i["id"] for i in web.client.get("/api/queue/CODING").json()] == [DENIAL]
    unknown = web.client.get("/api/stuck?team=nosuch")
    assert unknown.status_code == 404 and unknown.json()["detail"].startswith("unknown team 'nosuch'; known: ")
    assert web.client.get("/api/queue/front_desk").json() == []  # routed to, no denial yet: empty, not unknown


def test_the_trend_charts_keep_every_week_of_the_range(web: Web) -> None:
    log_in(web, "lead")
    page = web.client.get("/?start=2026-09-14&end=2026-10-18").text  # one denial, received in the week of 09-28
    for name in ("trend_payer", "trend_category"):
        block = re.search(rf'data-chart="chart-{name}">(.*?)</script>', page, re.S)
        assert block, name
        [bars] = json.loads(block.group(1))["data"]
        assert bars["x"] == ["2026-09-14", "2026-09-21", "2026-09-28", "2026-10-05", "2026-10-12"]
        assert bars["y"] == [0, 0, 1, 0, 0]
