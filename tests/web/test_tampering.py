"""An audit entry edited in the database behind the engine's back (a payload that is no longer
JSON, a field whose hash no longer matches, an event that no longer parses) is reported as
tampering naming the entry's seq, on the replay page, the denial page, the evidence pack and the
JSON API: never a 500. The insider lifts the append-only trigger first (tests.helpers.tampering)."""

from typing import Any

import pytest
from sqlalchemy import text, update

from engine.storage import store
from tests.helpers import tampering
from tests.web.conftest import DENIAL, Web, log_in


def _edit_reason(conn: Any) -> None:
    conn.execute(update(store.AUDIT).where(store.AUDIT.c.denial_id == DENIAL, store.AUDIT.c.seq == 2)
                 .values(reason="edited later"))  # fmt: skip


def _unparseable_assignment(conn: Any) -> None:
    """seq 3 is the routing's assignment: its payload stays JSON but is no longer an event's data."""
    conn.execute(update(store.AUDIT).where(store.AUDIT.c.denial_id == DENIAL, store.AUDIT.c.seq == 3)
                 .values(payload={"owner": 42, "next_action_date": "soon"}))  # fmt: skip


def _not_json(conn: Any) -> None:
    conn.execute(text("UPDATE audit_entries SET payload = '{not json' WHERE denial_id = :d AND seq = 2"), {"d": DENIAL})


CASES = [
    pytest.param(_edit_reason, "seq 2", id="hash-mismatch"),
    pytest.param(_unparseable_assignment, "seq 3", id="fields-no-longer-parse"),
    pytest.param(_not_json, "seq 2", id="payload-not-json"),
]


@pytest.mark.parametrize(("edit", "where"), CASES)
def test_a_tampered_entry_is_shown_as_tampering_with_its_seq(web: Web, edit: Any, where: str) -> None:
    if edit is _not_json and web.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL refuses to store text that is not JSON in a JSON column")
    with tampering(web.engine) as conn:
        edit(conn)
    log_in(web, "auditor")
    replay = web.client.get(f"/audit/denials/{DENIAL}")
    assert replay.status_code == 200 and "Tampering: the log fails validation." in replay.text
    banner = replay.text.split('id="replay"', 1)[1].split("</div>", 1)[0]
    assert where in banner, banner
    pack = web.client.get(f"/audit/denials/{DENIAL}/evidence")
    assert pack.status_code == 200 and 'id="tampering"' in pack.text and where in pack.text
    as_json = web.client.get(f"/api/denials/{DENIAL}/evidence").json()
    assert any(where in f for f in as_json["tampering"]) and not (
        as_json["chain"]["intact"] and as_json["replay"]["ok"]
    )
    api_replay = web.client.get(f"/api/denials/{DENIAL}/replay").json()
    assert not api_replay["ok"] and any(where in f for f in api_replay["tampering"])
    assert web.client.get(f"/denials/{DENIAL}").status_code == 200
    verified = web.client.get("/audit?start=2026-01-01&end=2026-12-31")
    assert verified.status_code == 200 and "Broken" in verified.text


def test_an_untouched_log_shows_no_tampering(web: Web) -> None:
    log_in(web, "auditor")
    assert "Replay reproduces all 3 entries" in web.client.get(f"/audit/denials/{DENIAL}").text
    assert web.client.get(f"/api/denials/{DENIAL}/evidence").json()["tampering"] == []
