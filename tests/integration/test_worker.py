"""The worker against the real broker and both databases."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import select

from engine.audit.chain import verify
from engine.audit.replay import replay
from engine.config import Settings
from engine.demo.feed import SCENARIOS, demo_events, poison_messages
from engine.runtime.kafka import make_producer
from engine.storage import store
from engine.storage.db import make_engine
from tests.factories import received_doc, received_id
from tests.helpers import publish, read_topic, run_worker, settings_env, snapshot

DENIALS = 48  # four of each demo scenario


def test_demo_feed_walks_every_lifecycle_path_and_dead_letters_poison(settings: Settings) -> None:
    events = list(demo_events(DENIALS))
    total = publish(settings, [*events, *poison_messages()])
    progress = run_worker(settings, total)
    assert progress.rejected == len(poison_messages())

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        states = store.count_by(conn, "state")
        checked, broken = verify(conn)
        ids = list(conn.scalars(select(store.DENIALS.c.id)))
        assert all(replay(store.get_denial(conn, i), store.history(conn, i)).ok for i in ids)
    engine.dispose()
    per_scenario = DENIALS // len(SCENARIOS)
    closing = sum(1 for s in SCENARIOS if s.path and s.path[-1] == "close")
    assert states["closed"] == closing * per_scenario
    assert "classified" not in states  # even the unreadable reason has a named reviewer
    assert broken is None and checked == progress.transitions

    feed = read_topic(settings, settings.transitions_topic)
    assert len({json.loads(r.value)["transition_id"] for r in feed}) == checked
    by_denial: dict[str, list[int]] = {}
    for r in feed:
        doc = json.loads(r.value)
        assert r.key.decode() == doc["denial_id"]
        by_denial.setdefault(doc["denial_id"], []).append(doc["seq"])
    assert all(seqs == sorted(seqs) for seqs in by_denial.values()), "one denial's transitions stay in order"
    assert not any("patient" in r.value.decode() or b"Demo Patient" in r.value for r in feed)

    letters = read_topic(settings, settings.dlq_topic)
    assert sorted(r.value for r in letters) == sorted(poison_messages())
    codes = Counter(json.loads(dict(r.headers)["denialflow.error"].decode())["code"] for r in letters)
    assert codes == {"schema.malformed_json": 1, "schema.unknown_type": 1, "schema.missing_field": 1,
                     "workflow.unknown_denial": 1}  # fmt: skip
    assert snapshot(settings.database_url)["outbox_left"] == 0


def test_the_same_events_delivered_twice_make_one_transition_each(settings: Settings) -> None:
    events = list(demo_events(12))
    once = publish(settings, events)
    run_worker(settings, once)
    first = snapshot(settings.database_url)
    again = publish(settings, events)  # redelivery: same event ids, new offsets
    progress = run_worker(settings, again)
    assert progress.transitions == 0
    second = snapshot(settings.database_url)
    assert second["denials"] == first["denials"]
    assert second["audit"] == first["audit"]


def test_sigterm_finishes_the_batch_and_exits_cleanly(settings: Settings) -> None:
    total = publish(settings, list(demo_events(20)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "worker"],
        env={**os.environ, **settings_env(settings)},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(snapshot(settings.database_url)["processed"]) < total:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert len(snapshot(settings.database_url)["processed"]) == total


def test_hostile_records_on_the_real_broker_are_dead_lettered_and_the_worker_goes_on(settings: Settings) -> None:
    """A tombstone, JSON nested past Python's limit and a far-future date, among valid events."""
    good, later = received_doc(71), received_doc(72)
    far = {**received_doc(73), "occurred_at": "9999-12-31T00:00:00+00:00"}
    producer = make_producer(settings)
    producer.send(settings.events_topic, key=b"tombstone", value=None)
    producer.flush()
    producer.close()
    total = 1 + publish(settings, [good, b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", json.dumps(far).encode(), later])
    progress = run_worker(settings, total)
    assert (progress.records, progress.rejected) == (total, 3)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        assert set(conn.scalars(select(store.DENIALS.c.id))) == {received_id(good), received_id(later)}
    engine.dispose()
    letters = read_topic(settings, settings.dlq_topic)
    codes = sorted(json.loads(dict(r.headers)["denialflow.error"].decode())["code"] for r in letters)
    assert codes == ["schema.invalid_field", "schema.malformed_json", "schema.malformed_json"]
