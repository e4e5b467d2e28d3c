"""The relay process: publishes committed outbox rows, stops cleanly, and stays single on PostgreSQL."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from typer.testing import CliRunner

from consumers.denial_events import build_worker
from engine.cli.app import app
from engine.config import Settings
from engine.demo.feed import demo_events
from engine.runtime.messages import Message, pack
from engine.runtime.outbox import build_relay
from engine.storage import store
from engine.storage.db import make_engine
from engine.web.metrics import exposition
from tests.helpers import Progress, outbox_count, publish, read_topic, settings_env


def _commit_without_publishing(settings: Settings, events: int) -> Progress:
    total = publish(settings, list(demo_events(events)))
    progress = Progress()
    worker = build_worker(settings, on_commit=progress)
    worker.run(until=lambda: progress.records >= total)
    worker.engine.dispose()
    return progress


def test_relay_publishes_everything_then_exits_on_sigterm(settings: Settings, tmp_path: Path) -> None:
    progress = _commit_without_publishing(settings, 10)
    assert outbox_count(settings.database_url) > 0
    env = settings_env(settings)
    log = tmp_path / "relay.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "relay"], env={**os.environ, **env}, stderr=sink)
    deadline = time.monotonic() + 30
    while outbox_count(settings.database_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, log.read_text()
    assert len(read_topic(settings, settings.transitions_topic)) == progress.transitions


def test_a_second_relay_stands_by_while_the_first_is_active(pg_settings: Settings) -> None:
    relays = [build_relay(pg_settings), build_relay(pg_settings)]
    threads = [threading.Thread(target=r.run) for r in relays]
    threads[0].start()
    time.sleep(0.5)  # the first takes the lock
    threads[1].start()
    progress = _commit_without_publishing(pg_settings, 10)
    deadline = time.monotonic() + 30
    while outbox_count(pg_settings.database_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    relays[0].stop()
    threads[0].join(10)
    assert (relays[0].published, relays[1].published) == (progress.transitions, 0)
    # the active relay went away: the standby takes the lock and carries on
    more = _commit_without_publishing(pg_settings.model_copy(update={"group_id": pg_settings.group_id + ".2"}), 12)
    while outbox_count(pg_settings.database_url) and time.monotonic() < deadline + 30:
        time.sleep(0.05)
    assert relays[1].published == more.transitions > 0
    relays[1].stop()
    threads[1].join(10)
    for r in relays:
        r.producer.close()
        r.engine.dispose()


def _queue(settings: Settings, *rows: list[Message]) -> None:
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        for messages in rows:
            conn.execute(insert(store.OUTBOX), {"created_at": datetime.now(UTC), "messages": pack(messages)})
    engine.dispose()


def _cli(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(app, ["parked", *args, "--database-url", settings.database_url])


def test_a_message_the_broker_can_never_take_is_parked_and_the_feed_goes_on(settings: Settings) -> None:
    feed = settings.transitions_topic
    huge = Message(feed, b"d-1", b"x" * (2 * 1024 * 1024), [])  # over the producer's 1 MiB request limit
    _queue(settings, [Message(feed, b"d-1", b"first", []), huge], [Message(feed, b"d-2", b"after", [])])
    relay = build_relay(settings)
    assert relay.drain() == 3
    assert outbox_count(settings.database_url) == 0
    assert sorted(r.value for r in read_topic(settings, feed)) == [b"after", b"first"]
    listed = _cli(settings, "list")
    assert listed.exit_code == 0 and f"{feed}  {len(huge.value)} bytes  MessageSizeTooLargeError" in listed.output
    parked_id = listed.output.split()[0]
    engine = make_engine(settings.database_url)
    scraped = exposition(engine, datetime.now(UTC))
    engine.dispose()
    assert "denialflow_parked_messages 1.0" in scraped and "denialflow_outbox_pending 0.0" in scraped
    shown = json.loads(_cli(settings, "show", parked_id).output)
    assert shown["sha256"] == hashlib.sha256(huge.value).hexdigest() and shown["key_base64"] == "ZC0x"
    assert _cli(settings, "requeue", parked_id).exit_code == 2  # not without --yes
    assert "the relay sends it next" in _cli(settings, "requeue", parked_id, "--yes").output
    assert outbox_count(settings.database_url) == 1
    relay.drain()  # still too large: parked again, nothing lost, nothing sent twice
    relay.producer.close()
    [again] = _cli(settings, "list").output.splitlines()
    assert "MessageSizeTooLargeError" in again and outbox_count(settings.database_url) == 0
    assert _cli(settings, "show", "999999").exit_code == 1
