"""Outgoing 837 files through the real broker into the pre-submission check: `denialflow claims
check` printing each verdict once the worker has checked it, the same file again counting
nothing twice, and the claims.outbound consumer dead-lettering a file it cannot read."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from consumers.outbound_claims import build as build_claims
from engine.config import Settings
from engine.intake.claim_identity import authorization_id_for
from engine.runtime.kafka import ensure_topics, make_producer
from engine.storage import prevention_store as ps
from engine.storage.db import make_engine
from tests.factories import T0
from tests.helpers import publish, read_topic, run_worker, settings_env

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "837"
UHIN = SAMPLES / "uhin__837.edi"  # FLHIN, member 601239742, one 90834 session on 2024-08-15, no REF*G1
UTF16 = SAMPLES / "oopx12__UnicodeExample.txt"


def _authorization(reference: str, **data: Any) -> dict[str, Any]:
    record = {"payer_id": "FLHIN", "reference": reference, "member_id": "601239742", "procedure_codes": ["90834"],
              "units_approved": 10, "units_used": 0, "obtained_on": "2024-08-01", "valid_from": "2024-08-01",
              "valid_to": "2024-12-31", **data}  # fmt: skip
    return {"event_id": f"auth-{reference}", "type": "authorization.recorded", "occurred_at": T0.isoformat(),
            "actor": "front.desk", "role": "staff", "data": record}  # fmt: skip


def _cli(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **settings_env(settings), "DENIALFLOW_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _units_claimed(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        row = ps.load_authorizations(conn, (), [authorization_id_for("FLHIN", "FL-1")])
    engine.dispose()
    return next(iter(row.values())).units_claimed


def test_claims_check_prints_each_verdict_once_the_worker_has_checked_it(settings: Settings) -> None:
    ensure_topics(settings)
    publish(settings, [_authorization("FL-1")])
    run_worker(settings, 1)
    check = _cli(settings, "claims", "check", str(UHIN), "--json", "--wait", "120")
    run_worker(settings, 1)  # the claim, while the command waits for its verdict
    out, err = check.communicate(timeout=120)
    assert check.returncode == 0, err
    [claim] = json.loads(out)["claims"]
    assert claim["checked"] and claim["verdict"] == "hold" and claim["sub_causes"] == ["auth_on_file_not_on_claim"]
    assert "FL-1" in claim["lines"][0]["failed"][0]["next_action"]
    assert _units_claimed(settings) == 0  # held: nothing counted

    again = _cli(settings, "claims", "check", str(UHIN), "--wait", "0")  # the same file: a duplicate
    assert again.wait(120) == 0
    progress = run_worker(settings, 1)
    assert progress.records == 1 and progress.rejected == 0
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        row = conn.execute(select(ps.CLAIM_CHECKS)).one()
    engine.dispose()
    assert (row.submissions, row.verdict) == (1, "hold")


def test_the_claims_consumer_checks_a_file_and_dead_letters_one_it_cannot_read(settings: Settings) -> None:
    ensure_topics(settings)
    publish(settings, [_authorization("FL-1")])
    producer = make_producer(settings)
    for path in (UHIN, UTF16):
        producer.send(settings.claims_outbound_topic, value=path.read_bytes())
    producer.flush()
    producer.close()
    claims = build_claims(settings)
    deadline = time.monotonic() + 60

    def consumed() -> bool:  # positions start at 0 on this test's own topic
        return sum(claims.consumer.position(p) or 0 for p in claims.consumer.assignment()) >= 2

    claims.run(until=lambda: consumed() or time.monotonic() > deadline)
    claims.producer.close()
    claims.engine.dispose()
    letters = read_topic(settings, settings.dlq_topic)
    assert len(letters) == 1 and letters[0].value == UTF16.read_bytes()
    error = json.loads(dict(letters[0].headers)["denialflow.error"])
    assert error["code"] == "x12.malformed" and "UTF-16" in error["message"]
    run_worker(settings, 2)  # the authorization and the claim
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        row = conn.execute(select(ps.CLAIM_CHECKS)).one()
    engine.dispose()
    assert (row.payer_id, row.patient_control_number, row.verdict, row.kind) == ("FLHIN", "1606", "hold", "837P")
