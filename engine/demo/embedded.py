"""`denialflow run`: the whole engine on one machine with nothing installed but the package.

Starts the bundled broker, creates the topics and the SQLite schema, publishes the
demo feed (with a few poison messages) and an authorization record, runs the worker;
once that is committed, ingests the demo 835 remittance the way `denialflow ingest`
does (authorizations are on file before the remits that need them); once that is in,
runs one tick of the timer service at the engine's clock (`--now`), so what is
overdue escalates; runs the worker until every record is committed and prints what
happened.
"""

import io
import json
import os
import signal
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from consumers.denial_events import build_worker
from engine.audit.chain import verify
from engine.cli.intake import ingest_paths, print_summary
from engine.clock import Clock, clock_from
from engine.config import Settings
from engine.demo.feed import DEMO_START, LEAD, demo_events, poison_messages
from engine.demo.outbound import demo_claims, expiring_authorization
from engine.demo.remit import DEMO_AUTHORIZATION, demo_remittance
from engine.intake.events import Role, partition_key
from engine.intake.ingest import ingest_file
from engine.intake.outbound_claims import ClaimFile, publish_file, read_claim_file
from engine.read.kpis import Scope
from engine.read.prevention import authorization_queue, prevention
from engine.read.render import dollars
from engine.runtime.broker import BundledBroker
from engine.runtime.kafka import ensure_topics, make_producer
from engine.runtime.outbox import build_relay
from engine.runtime.runtime_file import EmbeddedEngine, advertised
from engine.runtime.supervisor import RESTARTS, Loop, RestartPolicy, Supervised
from engine.runtime.timers import build_timer_service
from engine.runtime.worker import Committed
from engine.storage import store
from engine.storage.db import make_engine, upgrade
from engine.web.tokens import replace_token

#: Who the demo lets you log in as: the billing lead who works the demo, and an auditor.
DEMO_LOGINS = ((LEAD, Role.LEAD), ("avery.auditor", Role.AUDITOR))


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


def _authorization_events(clock: Clock) -> list[dict[str, Any]]:
    """The authorization the demo's authorization denial is checked against, and one that runs
    out at the engine's clock (its window ends a few days from now)."""
    expiring = expiring_authorization(clock().date(), DEMO_START.date())
    return [{"event_id": f"demo-auth-{n}", "type": "authorization.recorded", "occurred_at": DEMO_START.isoformat(),
             "actor": "front.desk", "role": "staff", "data": data}
            for n, data in (("4471", DEMO_AUTHORIZATION), (f"4480-{expiring['valid_to']}", expiring))]  # fmt: skip


def _demo_claims(clock: Clock) -> ClaimFile:
    """The demo 837's claims, read as `denialflow claims check` reads a file."""
    raw = demo_claims(clock().date(), (DEMO_START + timedelta(days=30)).date())
    return read_claim_file(io.BytesIO(raw), "demo-claims.837", clock)


def _ingest_demo_remit(producer: KafkaProducer, s: Settings) -> int:
    """Write the demo 835 to a file and ingest it; return the events it published."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo-remit.835"
        path.write_bytes(demo_remittance((DEMO_START + timedelta(days=27)).date()))
        result = ingest_file(path, lambda key, value: producer.send(s.events_topic, key=key, value=value) and None)
    producer.flush()
    t = result.tally
    print(
        f"ingested a demo 835: {t.claims} claims, {t.paid_lines} paid line(s), {t.denials} denials, "
        f"{t.reversals} reversal, {t.skipped_adjustments} skipped adjustments (cost share, contractual)"
    )
    return result.published


def _fire_due_timers(s: Settings, clock: Clock) -> int:
    """One tick of the timer service once the feed is in: what is overdue at the engine's clock fires."""
    service = build_timer_service(s, clock)
    try:
        return service.tick()
    finally:
        service.producer.close()
        service.engine.dispose()


def engine_loops(s: Settings, clock: Clock) -> dict[str, Callable[[], Loop]]:
    """What `_serve` keeps running, each built afresh on every (re)start."""
    return {"worker": lambda: build_worker(s), "relay": lambda: build_relay(s),
            "timers": lambda: build_timer_service(s, clock)}  # fmt: skip


def _serve(s: Settings, clock: Clock, loops: dict[str, Callable[[], Loop]] | None = None,
           policy: RestartPolicy = RESTARTS) -> int:  # fmt: skip
    """Keep the engine running behind the web app until Ctrl-C: the worker applies what the
    pages send, the relay publishes the change feed, the timer service fires what falls due.
    Each runs supervised (`engine.runtime.supervisor`): a loop that dies is restarted; one that keeps
    dying ends the run (exit 1) rather than leaving the web app up on a half-dead engine."""
    from engine.web.app import create_app
    from engine.web.server import serve

    engine = make_engine(s.database_url)
    tokens = {name: replace_token(engine, name, role, clock()) for name, role in DEMO_LOGINS}
    engine.dispose()

    served = threading.Event()

    def give_up() -> None:
        """uvicorn shuts down on SIGTERM, then the loops are stopped below; a signal sent before
        it listens for one is sent again."""
        while not served.is_set():
            os.kill(os.getpid(), signal.SIGTERM)
            served.wait(1.0)

    supervised = [Supervised(name, build, give_up, policy) for name, build in (loops or engine_loops(s, clock)).items()]
    try:
        for loop in supervised:
            loop.start()

        def listening() -> None:
            print(f"\ndashboard: http://{s.web_host}:{s.web_port}/   (API docs: /docs)")
            for (name, role), token in zip(DEMO_LOGINS, tokens.values(), strict=True):
                print(f"  log in as {name} ({role.value}) with token {token}")
            print(f"your own 835s: .venv/bin/denialflow ingest FILE|DIR in another terminal (finds {s.runtime_file})")
            print("the worker, relay and timer service keep running; Ctrl-C stops everything", flush=True)

        serve(create_app(s, clock), s.web_host, s.web_port, listening)
    finally:
        served.set()
        for loop in supervised:
            loop.stop()
        for loop in supervised:
            loop.join()
    failed = [f"{loop.name} ({loop.gave_up})" for loop in supervised if loop.gave_up]
    if failed:
        print(f"stopped: {', '.join(failed)} kept dying; see the log", file=sys.stderr)
    return 1 if failed else 0


def run_embedded(settings: Settings, denials: int, fresh: bool, serve: bool = False, ingest: Sequence[Path] = ()
                 ) -> int:  # fmt: skip
    """The main job, then (``serve``) the engine behind the web app; ``ingest``: the user's own 835s,
    after the demo feed. While it runs, the runtime file says where (`engine.runtime.runtime_file`)."""
    url = make_url(settings.database_url)
    if fresh and url.get_backend_name() == "sqlite" and url.database:
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with BundledBroker() as broker:
        s = settings.model_copy(update={"bootstrap_servers": broker.bootstrap, "max_poll_interval_ms": 3000,
                                        "session_timeout_ms": 3000, "heartbeat_interval_ms": 500})  # fmt: skip
        ensure_topics(s)
        upgrade(s.database_url)
        here = EmbeddedEngine(s.bootstrap_servers, s.database_url, f"http://{s.web_host}:{s.web_port}/" if serve
                              else None, os.getpid(), datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
        with advertised(s.runtime_file, here):
            clock = clock_from(s.now)
            status = _main_job(s, clock, denials, ingest)
            if serve and status == 0:
                status = _serve(s, clock)
    return status


def _exit_on_sigterm(signum: int, _: object) -> None:
    """SIGTERM ends the run like Ctrl-C: the broker stops and the runtime file goes (the default
    action would kill the process and leave both behind)."""
    raise SystemExit(128 + signum)


def _main_job(s: Settings, clock: Clock, denials: int, ingest: Sequence[Path]) -> int:
    """Demo feed (and the user's files), worker until committed, demo 835, one timer tick, summary."""
    producer = make_producer(s)
    published = 0
    for event in demo_events(denials):
        producer.send(s.events_topic, key=partition_key(event), value=json.dumps(event).encode())
        published += 1
    for raw in poison_messages():
        producer.send(s.events_topic, value=raw)
        published += 1
    for auth in _authorization_events(clock):
        producer.send(s.events_topic, key=partition_key(auth), value=json.dumps(auth).encode())
        published += 1
    claims = _demo_claims(clock)
    published += publish_file(claims, lambda key, value: producer.send(s.events_topic, key=key, value=value))
    producer.flush()
    print(f"bundled broker on {s.bootstrap_servers}; published {published} events ({len(poison_messages())} poison, "
          f"2 authorization records, {len(claims.messages)} outgoing claims from a demo 837 to check)")  # fmt: skip
    if ingest:
        summary = ingest_paths(list(ingest), s)
        print_summary(summary)
        published += sum(f.published for f in summary.files)

    totals: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    expected = [published]  # records to apply: the feed, the demo 835, then each tick's fires

    def settled() -> bool:
        """Every record applied, and the last tick found nothing more due (a denial with
        several rules due fires them one tick after another)."""
        return totals["records"] >= sum(expected) and len(expected) >= 3 and not expected[-1]

    def tally(c: Committed) -> None:
        totals.update(records=c.records, applied=c.result.applied, transitions=c.result.transitions,
                      duplicates=c.result.duplicates, rejected=c.result.rejected)  # fmt: skip
        totals.update(c.result.rejected_by_code)
        fired.update(c.result.fired_rules())
        if totals["records"] >= sum(expected) and len(expected) == 1:
            expected.append(_ingest_demo_remit(producer, s))
        elif totals["records"] >= sum(expected) and not settled():
            expected.append(_fire_due_timers(s, clock))

    relay = build_relay(s)
    relaying = threading.Thread(target=relay.run, name="relay")
    relaying.start()
    try:
        worker = build_worker(s, on_commit=tally)
        worker.run(until=settled)
    finally:
        producer.close()
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
    applied = ", ".join(f"{rule} {n}" for rule, n in sorted(fired.items()))
    print(f"timers due at {clock():%Y-%m-%d %H:%M} UTC: {sum(expected[2:])} fired -> {applied or 'none applied'}")
    print(f"topics: {s.transitions_topic} {_topic_size(s.bootstrap_servers, s.transitions_topic)} messages, "
          f"{s.dlq_topic} {_topic_size(s.bootstrap_servers, s.dlq_topic)} messages")  # fmt: skip
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
        checks = conn.execute(select(t.c.claim_control_number, t.c.auth_check).where(t.c.auth_check.is_not(None)))
        causes: Counter[str] = Counter()
        for claim, check in checks:
            causes[check["sub_cause"]] += 1
            if check["record"]:
                print(f"authorization checklist on {claim}: {check['sub_cause']} -> {check['next_action']}")
        print("authorization denials by sub-cause: " + ", ".join(f"{k} {n}" for k, n in sorted(causes.items())))
        panel = prevention(conn, Scope(date.min.replace(year=1900), date.max.replace(year=2100)))
        queue = authorization_queue(conn, phi=False)
        print(f"outgoing claims checked before submission: {panel['claims_checked']}, held {panel['held']} ("
              + (", ".join(f"{i['key']} {i['count']}" for i in panel["holds_by_sub_cause"]) or "none")
              + f"); authorization queue: {len(queue)} item(s)   |   denialflow auth queue")  # fmt: skip
        reviews = conn.scalar(select(func.count()).select_from(store.REVIEWS))
        print(f"review items (reversals matching no denial): {reviews}   |   denialflow reviews")
        example = conn.scalar(select(t.c.id).where(t.c.state == "closed").order_by(t.c.id).limit(1))
        checked, broken = verify(conn)
    engine.dispose()
    print(f"audit log: {checked} entries, {'BROKEN: ' + str(broken) if broken else 'chain intact'}")
    if example:
        print(f"try: denialflow show {example}   |   denialflow audit replay {example}   |   denialflow triage")
    return 1 if broken else 0
