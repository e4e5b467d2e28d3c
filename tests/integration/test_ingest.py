"""835 files and authorization records through the real broker into the engine, by the CLI
and by the clearinghouse.remits consumer: each file's ingest record, warnings and quarantine."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from sqlalchemy import select

from consumers.clearinghouse_remits import build as build_remits
from engine.config import Settings
from engine.intake import ingest_records
from engine.runtime.kafka import ensure_topics, make_producer
from engine.storage import store
from engine.storage.db import make_engine
from tests.helpers import read_topic, run_worker, settings_env
from tests.ingest.test_samples import SAMPLES

FILES = ["pyx12/835_mult_loops.txt", "edi-835-parser/emedny_sample.txt", "X12Parser/Example1_GripElements.txt"]
BROKEN = "envelope/truncated-in-transaction.835"
WARNED = "envelope/se01-count.835"
BAD_DATE = "envelope/bad-date.835"
# 2 reversals that match no denial
REVERSALS = 2
AUTH_CSV = (
    "payer_id,reference,member_id,auth_type,procedure_codes,rendering_npi,location,units_approved,units_used,"
    "obtained_on,valid_from,valid_to\n"
    "PAYER,PA-55,00001612,prior,T1005,,,100,0,2003-10-20,2003-10-01,2003-12-31\n"
)


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings), "DENIALFLOW_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def _records(settings: Settings) -> dict[str, Any]:
    """The ingest records by file name (the sample's path below tests/data/835)."""
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = ingest_records.recent(conn)
    engine.dispose()
    return {str(Path(r.file_name).relative_to(SAMPLES)) if r.file_name.startswith(str(SAMPLES)) else r.file_name: r
            for r in rows}  # fmt: skip


def _digest(name: str) -> str:
    return hashlib.sha256((SAMPLES / name).read_bytes()).hexdigest()


def _unmatched_reversals(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        kinds = conn.execute(select(store.REVIEWS.c.kind)).scalars().all()
    engine.dispose()
    return kinds.count("reversal_unmatched")


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
    assert f"REFUSED {SAMPLES / BROKEN}: segment 3: the file ends inside the transaction set" in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["files"], summary["claims"], summary["reversals"]) == (4, 13, REVERSALS)
    assert len(summary["refused"]) == 1 and summary["warnings"] == 1  # Example1's BPR02 does not balance
    published, received = summary["published"], summary["denials"]
    records = _records(settings)
    assert {name: r.status for name, r in records.items()} == {**dict.fromkeys(FILES, "accepted"), BROKEN: "refused"}
    assert [w["code"] for w in records["X12Parser/Example1_GripElements.txt"].warnings] == ["balance.bpr02"]
    events = read_topic(settings, settings.events_topic)
    assert len(events) == published  # nothing from the broken file
    run_worker(settings, published)
    denials, audit, reviews = _counts(settings)
    assert denials == received and _unmatched_reversals(settings) == REVERSALS
    listed = cli(settings, "reviews")
    assert listed.returncode == 0 and "0000000657575757" in listed.stdout and "0000000648484848" in listed.stdout
    ranked = json.loads(cli(settings, "triage", "--json").stdout)
    workable = {(i["payer_id"], i["rank"]) for i in ranked}
    assert len(ranked) == received and ("NYSDOH", 1) in workable  # fresh denials: all still to be worked
    # the same files again: same event ids, the engine changes nothing
    again = cli(settings, "ingest", "--quiet", *(str(SAMPLES / f) for f in FILES))
    assert again.returncode == 0, again.stderr
    progress = run_worker(settings, published)
    assert progress.transitions == 0
    assert _counts(settings) == (denials, audit, reviews)
    seen_again = _records(settings)  # one record per file, seen twice
    assert seen_again.keys() == records.keys()
    assert all(seen_again[f].last_seen_at > records[f].last_seen_at == seen_again[f].first_seen_at for f in FILES)


def test_refused_files_are_quarantined_listed_and_released_by_a_lead(settings: Settings) -> None:
    done = cli(settings, "ingest", "--json", str(SAMPLES / WARNED), str(SAMPLES / BROKEN), str(SAMPLES / BAD_DATE))
    assert done.returncode == 1, done.stderr
    broken, bad_date = _digest(BROKEN), _digest(BAD_DATE)
    assert f"REFUSED {SAMPLES / BROKEN}: segment 3: the file ends inside" in done.stderr
    assert f"(sha256 {broken[:12]}, quarantined)" in done.stderr
    results = {Path(r["path"]).name: r for r in json.loads(done.stdout)["results"]}
    assert results["se01-count.835"]["digest"] == _digest(WARNED) and results["se01-count.835"]["warnings"] == [
        {"code": "envelope.se01_count", "segment": 34, "message": "SE01 says '30' segments but the transaction has 32"}
    ]  # fmt: skip
    folder = settings.quarantine_dir
    assert folder is not None and sorted(p.name for p in folder.iterdir()) == sorted([broken, bad_date])
    assert (folder / broken).read_bytes() == (SAMPLES / BROKEN).read_bytes()
    listed = json.loads(cli(settings, "ingest", "--quarantine", "--json").stdout)
    assert {(q["digest"], Path(q["file"]).name) for q in listed} == {(broken, "truncated-in-transaction.835"),
                                                                     (bad_date, "bad-date.835")}  # fmt: skip
    assert broken in cli(settings, "ingest", "--quarantine").stdout
    before = _records(settings)
    # the quarantined copy as it is: still refused, nothing changes
    still = cli(settings, "ingest", "--release", broken[:12], "--reason", "re-sent", "--actor", "lee.lead")
    assert still.returncode == 1 and "still refused, nothing changed: segment 3: the file ends inside" in still.stderr
    assert cli(settings, "ingest", "--release", broken[:12]).returncode == 2  # a release needs a reason and an actor
    assert _records(settings) == before
    # a fixed file: published, recorded as accepted, and the quarantined record released to it
    fixed = cli(settings, "ingest", "--release", broken[:12], "--reason", "payer re-sent the whole file",
                "--actor", "lee.lead", "--json", str(SAMPLES / "envelope/intact.835"))  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert f"released {broken[:12]}" in fixed.stderr and "by lee.lead: payer re-sent the whole file" in fixed.stderr
    records = _records(settings)
    old = records[BROKEN]
    assert (old.status, old.released_as, old.released_by, old.release_reason) == (
        "released", _digest("envelope/intact.835"), "lee.lead", "payer re-sent the whole file")  # fmt: skip
    assert records["envelope/intact.835"].status == "accepted"
    again = cli(settings, "ingest", "--release", broken, "--reason", "again", "--actor", "lee.lead")
    assert again.returncode == 1 and f"{broken} is released, not in quarantine" in again.stderr
    # the other one fixed in place, in quarantine
    (folder / bad_date).write_bytes((SAMPLES / BAD_DATE).read_bytes().replace(b"20261340", b"20261113"))
    in_place = cli(settings, "ingest", "--release", bad_date, "--reason", "date typo", "--actor", "lee.lead")
    assert in_place.returncode == 0, in_place.stderr
    assert _records(settings)[BAD_DATE].status == "released"
    assert json.loads(cli(settings, "ingest", "--quarantine", "--json").stdout) == []
    published = sum(json.loads(out.stdout)["published"] for out in (done, fixed))
    assert len(read_topic(settings, settings.events_topic)) > published  # the in-place fix published too


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
    producer.send(settings.remits_topic, value=(SAMPLES / WARNED).read_bytes())
    producer.flush()
    producer.close()
    remits = build_remits(settings)
    deadline = time.monotonic() + 60
    remits.run(until=lambda: _consumed(remits.consumer) >= 3 or time.monotonic() > deadline)
    remits.producer.close()
    remits.engine.dispose()
    letters = read_topic(settings, settings.dlq_topic)
    assert len(letters) == 1 and letters[0].value == (SAMPLES / BROKEN).read_bytes()
    error = json.loads(dict(letters[0].headers)["denialflow.error"])
    assert error["code"] == "x12.malformed" and "the file ends inside the transaction set" in error["message"]
    records = _records(settings)
    assert sorted((r.status, r.counts.get("warnings")) for r in records.values()) == [
        ("accepted", 0), ("accepted", 1), ("refused", 0)]  # fmt: skip
    assert all(name.startswith(f"{settings.remits_topic}/") for name in records)
    assert settings.quarantine_dir is not None and (settings.quarantine_dir / _digest(BROKEN)).exists()
    events = [json.loads(e.value) for e in read_topic(settings, settings.events_topic)]
    warned = [e for e in events if e["data"].get("source_file", {}).get("digest") == _digest(WARNED)]
    assert warned and all(e["data"]["source_file"]["warnings"] == ["envelope.se01_count"] for e in warned)
    run_worker(settings, len(events) - 1)  # the authorization record is in already
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(store.DENIALS.c.line, store.DENIALS.c.category, store.DENIALS.c.auth_check)
                            .where(store.DENIALS.c.patient_control_number == "2005555A")).all()  # fmt: skip
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
