"""`denialflow run`: the whole engine on one machine with nothing installed but the package.

Starts the bundled broker, creates the topics and the SQLite schema, publishes the
demo feed (with a few poison messages), runs the worker until every record is
committed, and prints what happened.
"""

import json
import threading
from collections import Counter
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from consumers.denial_events import build_worker
from engine import store
from engine.audit import verify
from engine.broker import BundledBroker
from engine.config import Settings
from engine.db import make_engine, upgrade
from engine.demo import demo_events, poison_messages
from engine.events import partition_key
from engine.kafka import ensure_topics, make_producer
from engine.outbox import build_relay
from engine.render import dollars
from engine.worker import Committed


def _topic_size(bootstrap: str, topic: str) -> int:
    """Count a topic's messages by reading it: the bundled broker's ListOffsets answer
    for the latest offset is the last batch's base offset + 1, not the log end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()])
        count = 0
        while polled := consumer.poll(timeout_ms=500):
            count += sum(len(batch) for batch in polled.values())
        return count
    finally:
        consumer.close()


def run_embedded(settings: Settings, denials: int, fresh: bool) -> int:
    url = make_url(settings.database_url)
    if fresh and url.get_backend_name() == "sqlite" and url.database:
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
    with BundledBroker() as broker:
        s = settings.model_copy(update={"bootstrap_servers": broker.bootstrap, "max_poll_interval_ms": 3000,
                                        "session_timeout_ms": 3000, "heartbeat_interval_ms": 500})  # fmt: skip
        ensure_topics(s)
        upgrade(s.database_url)
        producer = make_producer(s)
        published = 0
        for event in demo_events(denials):
            producer.send(s.events_topic, key=partition_key(event), value=json.dumps(event).encode())
            published += 1
        for raw in poison_messages():
            producer.send(s.events_topic, value=raw)
            published += 1
        producer.flush()
        print(f"bundled broker on {broker.bootstrap}; published {published} events ({len(poison_messages())} poison)")

        totals: Counter[str] = Counter()

        def tally(c: Committed) -> None:
            totals.update(records=c.records, applied=c.result.applied, transitions=c.result.transitions,
                          duplicates=c.result.duplicates, rejected=c.result.rejected)  # fmt: skip
            totals.update(c.result.rejected_by_code)

        relay = build_relay(s)
        relaying = threading.Thread(target=relay.run, name="relay")
        relaying.start()
        worker = build_worker(s, on_commit=tally)
        worker.run(until=lambda: totals["records"] >= published)
        relay.stop()
        relaying.join()
        relay.drain()
        relay.producer.close()
        print(
            f"worker: {totals['applied']} applied, {totals['transitions']} transitions, "
            f"{totals['duplicates']} already processed (idempotent re-run), {totals['rejected']} rejected"
        )
        for code in sorted(k for k in totals if "." in k):
            print(f"  dead-lettered {code}: {totals[code]}")
        print(f"topics: {s.transitions_topic} {_topic_size(broker.bootstrap, s.transitions_topic)} messages, "
              f"{s.dlq_topic} {_topic_size(broker.bootstrap, s.dlq_topic)} messages")  # fmt: skip
    return _summary(s.database_url)


def _summary(database_url: str) -> int:
    engine = make_engine(database_url)
    t = store.DENIALS
    with engine.connect() as conn:
        print(f"\ndenials in {database_url}")
        for state, n in store.count_by(conn, "state").items():
            print(f"  {state:<12} {n:>5}")
        print("open denials by team and owner (denied $)")
        rows = conn.execute(
            select(t.c.team, t.c.owner, func.count(), func.sum(t.c.denied_cents))
            .where(t.c.state != "closed")
            .group_by(t.c.team, t.c.owner)
            .order_by(t.c.team, t.c.owner)
        )
        for team, owner, n, cents in rows:
            print(f"  {team:<15} {owner or '(unassigned)':<20} {n:>4}  {dollars(cents):>12}")
        example = conn.scalar(select(t.c.id).where(t.c.state == "closed").order_by(t.c.id).limit(1))
        checked, broken = verify(conn)
    engine.dispose()
    print(f"audit log: {checked} entries, {'BROKEN: ' + str(broken) if broken else 'chain intact'}")
    if example:
        print(f"try: denialflow show {example}   |   denialflow audit replay {example}")
    return 1 if broken else 0
