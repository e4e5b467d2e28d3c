"""The authorization team's API and page on both databases: who may read the queue and the
prevention panel, who may release a held claim, masking, and a release that travels through
Kafka and the worker before the claim reads released."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.config import Settings
from engine.intake.claim_identity import claim_id_for
from engine.intake.event_data import Role
from engine.storage.db import make_engine
from engine.web.app import create_app
from engine.web.tokens import create_token
from tests.factories import T0, authorization_doc, claim_doc
from tests.helpers import run_worker
from tests.store.batches import commit, inbound

ROLES = (Role.STAFF, Role.LEAD, Role.AUDITOR, Role.ADMIN)
HELD = claim_id_for("AETNA", "PCN-H1")


@pytest.fixture
def api(settings: Settings) -> tuple[TestClient, dict[Role, dict[str, str]]]:
    engine = make_engine(settings.database_url)
    commit(engine, inbound([authorization_doc("AUTH-1", units_approved=5, units_used=4)]))
    commit(engine, inbound([claim_doc(pcn="PCN-H1")]))  # no authorization number on the claim: held
    headers = {role: {"Authorization": f"Bearer {create_token(engine, role.value, role, T0)}"} for role in ROLES}
    engine.dispose()
    return TestClient(create_app(settings)), headers


@pytest.mark.parametrize(("path", "allowed"), [
    ("/api/authorizations/queue", set(ROLES)),
    ("/api/prevention?start=2026-09-01&end=2026-12-31", {Role.LEAD, Role.AUDITOR, Role.ADMIN}),
    (f"/api/claims/{HELD}", set(ROLES)),
    ("/authorizations", set(ROLES)),
])  # fmt: skip
def test_who_may_read_the_queue_and_the_panel(api: Any, path: str, allowed: set[Role]) -> None:
    client, headers = api
    assert client.get(path, follow_redirects=False).status_code in (401, 303)  # a page sends a browser to log in
    for role in ROLES:
        assert client.get(path, headers=headers[role]).status_code == (200 if role in allowed else 403), role


def test_the_queue_shows_the_member_to_staff_and_masks_it_for_auditors(api: Any) -> None:
    client, headers = api
    staff = client.get("/api/authorizations/queue", headers=headers[Role.STAFF]).json()
    auditor = client.get("/api/authorizations/queue", headers=headers[Role.AUDITOR]).json()
    assert [i["kind"] for i in staff] == ["hold", "units_low"]
    assert staff[0]["member"] == "MBR-PHI-778899" and auditor[0]["member"].endswith("8899")
    assert "MBR-PHI" not in str(auditor)
    assert "AUTH-1" in staff[0]["next_action"]
    claim = client.get(f"/api/claims/{HELD}", headers=headers[Role.AUDITOR]).json()
    assert claim["verdict"] == "hold" and claim["patient"]["member_id"].startswith("*")


def test_only_a_lead_releases_a_hold_and_the_worker_applies_it(api: Any, settings: Settings) -> None:
    client, headers = api
    form = {"reason": "the payer confirmed by phone"}
    for role in (Role.STAFF, Role.AUDITOR):
        assert client.post(f"/api/claims/{HELD}/release", data=form, headers=headers[role]).status_code == 403
    assert client.post("/api/claims/clm-000000000000000000000000/release", data=form,
                       headers=headers[Role.LEAD]).status_code == 404  # fmt: skip
    sent = client.post(f"/api/claims/{HELD}/release", data=form, headers=headers[Role.LEAD])
    assert sent.status_code == 202
    run_worker(settings, 1)
    assert (
        client.get(f"/api/events/{sent.json()['event_id']}", headers=headers[Role.LEAD]).json()["outcome"] == "applied"
    )
    claim = client.get(f"/api/claims/{HELD}", headers=headers[Role.LEAD]).json()
    assert (claim["verdict"], claim["release"], claim["released_by"]) == ("released", "submitted_anyway", "lead")
    again = client.post(f"/api/claims/{HELD}/release", data=form, headers=headers[Role.LEAD])
    assert again.status_code == 409 and "released" in again.json()["detail"]
    panel = client.get("/api/prevention?start=2026-09-01&end=2026-12-31", headers=headers[Role.AUDITOR]).json()
    assert (panel["held"], panel["holds"]["submitted_anyway"]) == (1, 1)
