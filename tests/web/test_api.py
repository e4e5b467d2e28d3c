"""The web API on both databases: every endpoint for every role (allowed and refused), and an
action that travels through Kafka and the worker before the API reports it applied."""

import hashlib
import re
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from engine.config import Settings
from engine.intake.event_data import Role
from engine.storage import store
from engine.storage.db import make_engine
from engine.web.app import create_app
from engine.web.tokens import create_token
from tests.factories import LEAD, T0, event_doc, received_doc, received_id
from tests.helpers import publish, run_worker, tampering
from tests.store.batches import commit, inbound

DOC = received_doc(501, adjustments=[("CO", "4", "350.00")])
DENIAL = received_id(DOC)
ROLES = (Role.STAFF, Role.LEAD, Role.AUDITOR, Role.ADMIN)
READ = {Role.STAFF, Role.LEAD, Role.AUDITOR, Role.ADMIN}
SUPERVISE = {Role.LEAD, Role.AUDITOR, Role.ADMIN}
ENDPOINTS = [
    ("GET", f"/api/denials/{DENIAL}", READ),
    ("GET", "/api/stuck", READ),
    ("GET", "/api/stuck?team=coding&limit=5", READ),
    ("GET", "/api/queue/coding", READ),
    ("GET", "/api/triage", READ),
    ("GET", "/api/escalations", SUPERVISE),
    ("GET", "/api/reports/weekly?week=2026-09-28", SUPERVISE),
    ("GET", "/api/audit/verify", SUPERVISE),
    ("GET", f"/api/denials/{DENIAL}/replay", SUPERVISE),
    ("GET", "/api/events/nothing-yet", READ),
    ("GET", "/api/dashboard?payer=AETNA&start=2026-09-01&end=2026-10-31", READ),
    ("GET", f"/api/denials/{DENIAL}/evidence", SUPERVISE),
    ("GET", "/api/audit/verify?start=2026-09-01&end=2026-12-31", SUPERVISE),
    ("GET", "/metrics", {Role.ADMIN}),
]


@pytest.fixture
def api(settings: Settings) -> tuple[TestClient, dict[Role, dict[str, str]]]:
    engine = make_engine(settings.database_url)
    commit(engine, inbound([DOC]))
    headers = {role: {"Authorization": f"Bearer {create_token(engine, role.value, role, T0)}"} for role in ROLES}
    engine.dispose()
    return TestClient(create_app(settings)), headers


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
def test_every_endpoint_for_every_role(api: Any, method: str, path: str, allowed: set[Role]) -> None:
    client, headers = api
    assert client.request(method, path).status_code == 401
    assert client.request(method, path, headers={"Authorization": "Bearer dfk_forged"}).status_code == 401
    for role in ROLES:
        response = client.request(method, path, headers=headers[role])
        assert response.status_code == (200 if role in allowed else 403), (role, response.text)
        if role not in allowed:
            assert f"role {role.value} may not do this" in response.json()["detail"]


def test_the_denial_page_data_masks_the_patient_and_shows_the_timeline(api: Any) -> None:
    client, headers = api
    body = client.get(f"/api/denials/{DENIAL}", headers=headers[Role.AUDITOR]).json()
    assert body["patient"]["name"] == "*************" and body["patient"]["member_id"].endswith("8899")
    assert [h["trigger"] for h in body["history"]] == ["receive", "classify", "assign"]
    assert body["aging_bucket"] in {"0-30", "31-60", "61-90", "90+"}
    assert client.get("/api/denials/nope", headers=headers[Role.STAFF]).status_code == 404


def test_an_action_is_published_and_the_engine_applies_it(api: Any, settings: Settings) -> None:
    client, headers = api
    touch = {"type": "denial.touched", "data": {"note": "called the payer", "next_action_date": "2026-12-01"}}
    assert client.post(f"/api/denials/{DENIAL}/events", json=touch, headers=headers[Role.AUDITOR]).status_code == 403
    bad = client.post(f"/api/denials/{DENIAL}/events", json={"type": "denial.touched", "data": {}},
                      headers=headers[Role.LEAD])  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "data.note"
    sent = client.post(f"/api/denials/{DENIAL}/events", json=touch, headers=headers[Role.LEAD])
    assert sent.status_code == 202
    event_id = sent.json()["event_id"]
    assert client.get(f"/api/events/{event_id}", headers=headers[Role.STAFF]).json()["outcome"] == "pending"
    run_worker(settings, 1)
    assert client.get(f"/api/events/{event_id}", headers=headers[Role.STAFF]).json()["outcome"] == "applied"
    body = client.get(f"/api/denials/{DENIAL}", headers=headers[Role.STAFF]).json()
    assert (body["state"], body["touches"], body["history"][-1]["actor"]) == ("worked", 1, Role.LEAD.value)


def test_metrics_in_prometheus_format(api: Any) -> None:
    client, headers = api
    text = client.get("/metrics", headers=headers[Role.ADMIN]).text
    assert 'denialflow_transitions{trigger="classify"} 1.0' in text
    assert 'denialflow_events_applied{type="denial.received"} 1.0' in text
    assert "denialflow_open_escalations 0.0" in text and "denialflow_timer_backlog" in text
    assert "denialflow_parked_messages 0.0" in text and "denialflow_outbox_oldest_age_seconds" in text


def test_the_evidence_pack_proves_itself_and_shows_a_tampered_chain(api: Any, settings: Settings) -> None:
    client, headers = api
    pack = client.get(f"/api/denials/{DENIAL}/evidence", headers=headers[Role.AUDITOR]).json()
    body = {k: v for k, v in pack.items() if k != "pack_sha256"}
    assert pack["pack_sha256"] == hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert pack["chain"] == {"entries": 3, "intact": True, "broken": None} and pack["replay"]["ok"]
    assert pack["denial"]["patient"]["name"].startswith("***")  # an auditor sees the patient masked
    assert [c["code"] for c in pack["codes"]] == ["CO-4"] and "modifier" in pack["codes"][0]["description"]
    engine = make_engine(settings.database_url)
    with tampering(engine) as conn:
        conn.execute(update(store.AUDIT).where(store.AUDIT.c.denial_id == DENIAL, store.AUDIT.c.seq == 2)
                     .values(reason="edited later"))  # fmt: skip
    engine.dispose()
    tampered = client.get(f"/api/denials/{DENIAL}/evidence", headers=headers[Role.AUDITOR]).json()
    assert not tampered["chain"]["intact"] and "seq 2" in tampered["chain"]["broken"]
    ranged = client.get("/api/audit/verify?start=2026-01-01&end=2026-12-31", headers=headers[Role.AUDITOR]).json()
    assert not ranged["intact"]
    empty = client.get("/api/audit/verify?start=2020-01-01&end=2020-01-31", headers=headers[Role.AUDITOR]).json()
    assert empty == {"entries": 0, "intact": True, "broken": None}  # no entries recorded then
    half = client.get("/api/audit/verify?start=2026-01-01", headers=headers[Role.AUDITOR])
    assert half.status_code == 422 and "both start and end" in half.text


def _lag(text: str, group: str) -> int:
    return sum(
        int(float(v)) for v in re.findall(rf'denialflow_consumer_lag{{group="{re.escape(group)}"[^}}]*}} (\S+)', text)
    )


def test_metrics_report_consumer_lag_from_the_broker(api: Any, settings: Settings) -> None:
    client, headers = api
    touch = {"note": "called", "next_action_date": "2026-12-01"}
    for n in range(3):  # one batch per message: the bundled broker's log end is exact only then
        publish(settings, [event_doc("denial.touched", DENIAL, LEAD, touch, day=n + 1)])
    before = client.get("/metrics", headers=headers[Role.ADMIN]).text
    assert "denialflow_kafka_up 1.0" in before
    assert _lag(before, settings.group_id) == 3
    run_worker(settings, 3)
    after = client.get("/metrics", headers=headers[Role.ADMIN]).text
    assert _lag(after, settings.group_id) == 0
