"""835 files and authorization records through the real broker into the engine, by the CLI
and by the clearinghouse.remits consumer."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer
from sqlalchemy import select

from consumers.clearinghouse_remits import build as build_remits
from engine import store
from engine.config import Settings
from engine.db import make_engine
from engine.kafka import ensure_topics, make_producer
from tests.helpers import read_topic, run_worker, settings_env
from tests.ingest.test_samples import SAMPLES

FILES = ["pyx12/835_mult_loops.txt", "edi-835-parser/emedny_sample.txt", "X12Parser/Example1_GripElements.txt"]
BROKEN = "edi-835-parser_CHS-CDS-AIML/test.835"
# 3 + 4 + 5 denials, and 2 reversals that match no denial
EVENTS, DENIALS, REVERSALS = 14, 12, 2
AUTH_CSV = (
    "payer_id,reference,member_id,auth_type,procedure_codes,rendering_npi,location,units_approved,units_used,"
    "obtained_on,valid_from,valid_to\n"
    "PAYER,PA-55,00001612,prior,T1005,,,100,0,2003-10-20,2003-10-01,2003-12-31\n"
)


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings), "DENIALFLOW_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def _counts(settings: Settings) -> tuple[int, int, int]:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        denials = sum(store.count_by(conn, "state").values())
        audit = len(conn.execute(select(store.AUDIT.c.id)).all())
        reviews = len(conn.execute(select(store.REVIEWS.c.id)).all())
    engine.dispose()
    return denials, audit, reviews


def test_ingest_publishes_each_denial_once_and_refuses_a_broken_file_whole(settings: Settings) -> None:
    done = cli(settings, "ingest", "--json", *(str(SAMPLES / f) for f in [*FILES, BROKEN]))
    assert done.returncode == 1, done.stderr
    assert f"REFUSED {SAMPLES / BROKEN}: segment 18: SE01 says '17' segments" in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["files"], summary["claims"], summary["denials"], summary["reversals"]) == (4, 13, DENIALS, 2)
    assert summary["published"] == EVENTS and len(summary["refused"]) == 1
    events = read_topic(settings, settings.events_topic)
    assert len(events) == EVENTS  # nothing from the broken file
    run_worker(settings, EVENTS)
    denials, audit, reviews = _counts(settings)
    assert (denials, reviews) == (DENIALS, REVERSALS)
    listed = cli(settings, "reviews")
    assert listed.returncode == 0 and "0000000657575757" in listed.stdout and "0000000648484848" in listed.stdout
    ranked = json.loads(cli(settings, "triage", "--json").stdout)
    workable = {(i["payer_id"], i["rank"]) for i in ranked}
    assert len(ranked) == DENIALS and ("NYSDOH", 1) in workable  # fresh denials: all still to be worked
    # the same files again: same event ids, the engine changes nothing
    again = cli(settings, "ingest", "--quiet", *(str(SAMPLES / f) for f in FILES))
    assert again.returncode == 0, again.stderr
    progress = run_worker(settings, EVENTS)
    assert progress.transitions == 0
    assert _counts(settings) == (denials, audit, reviews)


def test_ingest_names_a_missing_path(settings: Settings) -> None:
    done = cli(settings, "ingest", "/nonexistent/remit.835")
    assert done.returncode == 2 and "does not exist" in done.stderr


def _authorization_denial() -> bytes:
    """The pyx12 sample with its first line denied for authorization (CO-197) instead of CO-16."""
    raw = (SAMPLES / "pyx12/835_mult_loops.txt").read_bytes()
    return raw.replace(b"CAS*CO*16*500.04", b"CAS*CO*197*500.04")


def _consumed(consumer: KafkaConsumer) -> int:
    """Records the consumer has handled: its positions start at 0 on a fresh topic."""
    return sum(consumer.position(tp) or 0 for tp in consumer.assignment())


def test_remits_topic_and_auth_import_feed_the_checklist(settings: Settings, tmp_path: Path) -> None:
    csv_path = tmp_path / "auths.csv"
    csv_path.write_text(AUTH_CSV)
    imported = cli(settings, "auth", "import", str(csv_path))
    assert imported.returncode == 0 and "published 1 authorization records" in imported.stdout, imported.stderr
    run_worker(settings, 1)
    ensure_topics(settings)
    producer = make_producer(settings)
    producer.send(settings.remits_topic, value=_authorization_denial())
    producer.send(settings.remits_topic, value=(SAMPLES / BROKEN).read_bytes())
    producer.flush()
    producer.close()
    remits = build_remits(settings)
    deadline = time.monotonic() + 60
    remits.run(until=lambda: _consumed(remits.consumer) >= 2 or time.monotonic() > deadline)
    remits.producer.close()
    letters = read_topic(settings, settings.dlq_topic)
    assert len(letters) == 1 and letters[0].value == (SAMPLES / BROKEN).read_bytes()
    error = json.loads(dict(letters[0].headers)["denialflow.error"])
    assert error["code"] == "x12.malformed" and "SE01" in error["message"]
    run_worker(settings, 3)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(store.DENIALS.c.line, store.DENIALS.c.category, store.DENIALS.c.auth_check)).all()
    engine.dispose()
    by_line = {r.line: r for r in rows}
    assert by_line[1].category == "authorization"
    assert by_line[1].auth_check["record"] == "PA-55"
    assert by_line[1].auth_check["sub_cause"] == "auth_on_file_not_on_claim"
    assert by_line[2].auth_check is None


def test_auth_import_refuses_a_bad_row_naming_it(settings: Settings, tmp_path: Path) -> None:
    csv_path = tmp_path / "auths.csv"
    csv_path.write_text(AUTH_CSV + "PAYER,PA-56,00001612,prior,T1005,123,,1,0,2003-10-20,2003-10-01,2003-12-31\n")
    done = cli(settings, "auth", "import", str(csv_path))
    assert done.returncode == 2
    assert f"{csv_path}:3: data.rendering_npi:" in done.stderr
