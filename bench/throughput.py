"""End-to-end worker throughput and latency against the bundled broker, and the floor.

    .venv/bin/python -m bench.throughput [--db sqlite postgresql] [--events 100000] [--denials 20000]

The touch limit is lifted for the benchmark (the event set touches open denials again and
again); every other escalation rule, and so every timer, is scheduled as in production.

Per database it runs, each on fresh topics and a fresh database:
  engine   : publish all events, then time the worker draining them (events/s), once per
             count given to --workers (1 2 4: the scale-out curve), with the CPU time per event
             of the workers, the relay and the broker;
  latency  : publish a slice of fresh events at a fixed rate while the worker runs;
             latency = commit of the batch holding the record - the record's publish time;
  floor    : the same consumer settings and batches, writing the rows the engine run wrote
             (audit entries, processed ids, denial inserts/updates, timer rows, one outbox row
             per batch, then deleted) with the same bulk writers, offsets committed after; no decoding,
             workflow, hashing or publishing.
"""

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from bench.common import cpu_seconds, database, event_set, fresh_settings, percentiles, published, rows
from bench.results import RESULTS, save_results
from consumers.denial_events import build_worker
from engine.config import Settings
from engine.logs import configure
from engine.runtime.broker import BundledBroker
from engine.runtime.heap import settle_heap
from engine.runtime.kafka import make_consumer, make_producer
from engine.runtime.messages import Message
from engine.runtime.worker import Committed
from engine.storage import store
from engine.storage.db import count_rows, make_engine
from engine.storage.wal import writer_engine

Process = subprocess.Popen[bytes]


def run_engine(
    s: Settings,
    total: int,
    pace: float | None = None,
    messages: Any = None,
    workers: int = 1,
    broker_pid: int | None = None,
    changes: dict[tuple[int, int], tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """The production worker drains ``total`` records while a relay process publishes the
    outbox. With ``pace``, the records are published at that rate once the worker has its
    partitions, and latency is the batch's commit time minus each record's publish time.
    CPU per event is counted per role (the workers together, the relay, the broker) over the
    whole run, so the curve on a machine with more cores can be predicted from it. ``changes``
    gathers, per source record (partition, offset), the columns the update of its denial set."""
    committed = {"records": 0, "transitions": 0, "rejected": 0}
    marks: dict[str, float] = {}
    latencies: list[float] = []

    def on_commit(c: Committed) -> None:
        if not committed["records"]:
            marks["first"], marks["first_batch"] = time.perf_counter(), c.records
            cpu_at_start.update(cpu_use(relay, others, broker_pid))  # start-up and imports not counted
        committed["records"] += c.records
        committed["transitions"] += c.result.transitions
        committed["rejected"] += c.result.rejected
        if changes is not None:
            updated = {row["id"]: row["_changed"] for row in c.result.write.changed_denials}
            changes.update(((e["source_partition"], e["source_offset"]), updated[e["denial_id"]])
                           for e in c.result.write.audit if e["denial_id"] in updated)  # fmt: skip
        if pace:
            latencies.extend(c.committed_at * 1000 - ts for ts in c.timestamps_ms)

    relay = spawn(s, "relay")
    others = [spawn(s, "worker") for _ in range(workers - 1)]  # more members of the same group
    cpu_at_start: dict[str, float] = {}
    checked = [0.0]
    worker = build_worker(s, on_commit=on_commit)
    settle_heap()  # as the worker process does
    go = multiprocessing.Event()
    # the paced publisher is its own process, as a real upstream would be
    feeder = multiprocessing.Process(target=_paced_publish, args=(s, messages, pace or 0, go))
    if pace:
        feeder.start()

    def until() -> bool:
        if not go.is_set() and worker.consumer.assignment():
            go.set()
        if not others:
            return committed["records"] >= total
        if time.perf_counter() - checked[0] < 0.2:
            return False
        checked[0] = time.perf_counter()
        return processed_rows(s.database_url) >= total

    worker.run(until=until)
    done = time.perf_counter()
    worker.engine.dispose()
    while outbox_rows(s.database_url):  # the change feed catches up
        time.sleep(0.02)
    fed = time.perf_counter()
    cpu = cpu_use(relay, others, broker_pid)
    for proc in (relay, *others):
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    counted = total - marks["first_batch"] if not others else total
    out: dict[str, Any] = {
        **committed,
        "seconds": done - marks["first"],
        "events_per_s": counted / (done - marks["first"]),
        "feed_events_per_s": counted / (fed - marks["first"]),
        **{f"cpu_us_per_event_{role}": (spent - cpu_at_start[role]) / counted * 1e6 for role, spent in cpu.items()},
    }
    if pace:
        feeder.join()
        out |= {f"latency_ms_{k}": v for k, v in percentiles(latencies).items()}
    return out


def cpu_use(relay: Process, others: list[Process], broker: int | None) -> dict[str, float]:
    """CPU seconds so far: the workers (this process and the other members), the relay, the broker."""
    return {"workers": cpu_seconds() + sum(cpu_seconds(p.pid) for p in others), "relay": cpu_seconds(relay.pid),
            "broker": cpu_seconds(broker) if broker else 0.0}  # fmt: skip


def spawn(s: Settings, command: str) -> Process:
    env = {f"DENIALFLOW_{k.upper()}": str(v) for k, v in s.model_dump().items() if v is not None}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", command], env={**os.environ, **env,
                            "DENIALFLOW_LOG_LEVEL": "WARNING"})  # fmt: skip


def outbox_rows(url: str) -> int:
    return count_rows(url, store.OUTBOX)


def processed_rows(url: str) -> int:
    return count_rows(url, store.PROCESSED)


def _paced_publish(s: Settings, messages: list[tuple[bytes, bytes]], rate: float, go: Any) -> None:
    producer = make_producer(s, linger_ms=1)
    go.wait()
    start = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        producer.send(s.events_topic, key=key, value=value)
    producer.flush()
    producer.close()


def recorded_rows(database_url: str) -> dict[tuple[int, int], dict[str, Any]]:
    """What the engine run wrote, per source record: its audit entries, its event id and the
    denial's final row (which carries its timer). The floor writes exactly these rows again."""
    engine = make_engine(database_url)
    out: dict[tuple[int, int], dict[str, Any]] = {}
    with engine.connect() as conn:
        denials = {r.id: dict(r._mapping) for r in conn.execute(select(store.DENIALS))}
        for r in conn.execute(select(store.AUDIT).order_by(store.AUDIT.c.id)):
            source = (r.source_partition, r.source_offset)
            slot = out.setdefault(source, {"audit": [], "event_id": r.event_id, "denial": denials[r.denial_id]})
            slot["audit"].append({k: v for k, v in r._mapping.items() if k != "id"})
    engine.dispose()
    return out


def run_floor(
    s: Settings,
    total: int,
    recorded: dict[tuple[int, int], dict[str, Any]],
    changes: dict[tuple[int, int], tuple[str, ...]],
) -> dict[str, Any]:
    """Consume the same records and write the same rows with the same bulk writers, with
    no decoding, workflow, hashing or publishing: the cost of Kafka plus the database.
    A denial's update sets the columns the engine's updates for the same records set
    (``changes``): the floor's batches are cut elsewhere, so its updates do not match the
    engine's one for one; where the engine's run cannot say (several workers), all of them."""
    from kafka.structs import OffsetAndMetadata

    engine, checkpointer = writer_engine(s.database_url)  # the worker's commits, checkpoints and all
    consumer = make_consumer(s, s.events_topic)
    versions: dict[str, int] = {}
    seen = 0
    first = 0.0
    while seen < total:
        polled = consumer.poll(timeout_ms=s.poll_timeout_ms, max_records=s.batch_size)
        if not polled:
            continue
        first = first or time.perf_counter()
        write = store.BatchWrite()
        changed: dict[str, dict[str, Any]] = {}
        sets: dict[str, set[str]] = defaultdict(set)
        for record in (r for batch in polled.values() for r in batch):
            slot = recorded[(record.partition, record.offset)]
            denial = slot["denial"]
            write.audit.extend(slot["audit"])
            write.processed.append({"event_id": slot["event_id"], "outcome": "applied", "processed_at": _NOW,
                                    "digest": _DIGEST})  # fmt: skip
            write.outbox.extend(Message("t", record.key, orjson.dumps(a, default=str)) for a in slot["audit"])
            version = versions.get(denial["id"])
            if version is None:
                write.new_denials.append({**denial, "version": 1})
                versions[denial["id"]] = 1
            elif denial["id"] not in changed and version > 0:
                changed[denial["id"]] = {**denial, "version": version + 1, "_version": version}
            if (columns := changes.get((record.partition, record.offset))) and denial["id"] in changed:
                sets[denial["id"]].update(columns)
        for denial_id, row in changed.items():
            versions[denial_id] += 1
            if denial_id in sets:
                row["_changed"] = tuple(c for c in store.MUTABLE if c in sets[denial_id])
        write.changed_denials = list(changed.values())
        with engine.begin() as conn:
            outbox_id = store.write_batch(conn, write, _NOW)
        with engine.begin() as conn:
            store.delete_outbox(conn, [outbox_id])
        if checkpointer:
            checkpointer.nudge()
        consumer.commit({tp: OffsetAndMetadata(b[-1].offset + 1, "", -1) for tp, b in polled.items()})
        seen += sum(len(b) for b in polled.values())
    elapsed = time.perf_counter() - first
    if checkpointer:
        checkpointer.close()
    consumer.close()
    engine.dispose()
    return {"records": seen, "seconds": elapsed, "events_per_s": total / elapsed}


_DIGEST = "0" * 32  # as wide as the engine's body digests: the floor writes, it does not hash
_NOW = datetime.now(UTC)


def mixed_sample(messages: list[tuple[bytes, bytes]], size: int) -> list[tuple[bytes, bytes]]:
    """Whole denials (every event of each), about ``size`` events, in event-time order: new
    receipts interleaved with follow-ups on older denials, as a live feed sends them."""
    step = max(1, len(messages) // size)
    sample = [m for m in messages if zlib.crc32(m[0]) % step == 0]
    return sorted(sample, key=lambda m: orjson.loads(m[1])["occurred_at"])


def bench_settings(bootstrap: str, batch_size: int) -> Settings:
    """The engine's settings for a benchmark run: quick group joins (Tansu's JoinGroup waits
    out the poll interval), the touch limit lifted."""
    return Settings(bootstrap_servers=bootstrap, batch_size=batch_size, max_poll_interval_ms=3000,
                    session_timeout_ms=3000, heartbeat_interval_ms=500,
                    escalation_file=_no_touch_limit())  # fmt: skip


def _no_touch_limit() -> Path:
    """The event set keeps touching open denials; with the default touch limit of 3 they would
    escalate and later touches be refused. Same rules otherwise, so timers are still scheduled."""
    path = RESULTS / "escalation-no-touch-limit.toml"
    RESULTS.mkdir(exist_ok=True)
    default = resources.files("workflows.data").joinpath("escalation.toml").read_text()
    path.write_text(default.replace("touch_limit = 3", "touch_limit = 1000000"))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--denials", type=int, default=20_000)
    ap.add_argument("--latency-events", type=int, default=20_000)
    ap.add_argument(
        "--latency-rate", type=float, default=None, help="events/s for the latency run (default 50%% of measured)"
    )
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="worker processes in the consumer group: one engine run per count (the scale-out curve)",
    )
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    configure("ERROR")
    RESULTS.mkdir(exist_ok=True)
    messages = event_set(args.events, args.denials)
    print(f"{len(messages):,} events over {args.denials:,} denials, "
          f"{sum(len(v) for _, v in messages) / len(messages):.0f} bytes average")  # fmt: skip
    report: dict[str, Any] = {}
    with BundledBroker() as broker:
        base = bench_settings(broker.bootstrap, args.batch_size)
        for kind in args.db:
            curve: dict[int, dict[str, Any]] = {}
            changes: dict[tuple[int, int], tuple[str, ...]] = {}
            for workers in args.workers:  # each count on fresh topics and a fresh database
                s = published(base, kind, f"{kind}_engine", args.pg_admin_url, messages)
                run_changes = changes if workers == args.workers[0] else None
                curve[workers] = run_engine(s, len(messages), workers=workers, broker_pid=broker.pid,
                                            changes=run_changes)  # fmt: skip
                print(f"{kind:<10} engine   workers={workers}  {rows(curve[workers])}")
            engine_run = curve[args.workers[0]]  # the floor is one consumer
            recorded = recorded_rows(s.database_url)
            s = published(base, kind, f"{kind}_floor", args.pg_admin_url, messages)
            floor = run_floor(s, len(messages), recorded, changes)
            share = engine_run["events_per_s"] / floor["events_per_s"]
            print(f"{kind:<10} floor    {rows(floor)}  engine/floor={share:.0%}")
            rate = args.latency_rate or engine_run["events_per_s"] * 0.5
            s = fresh_settings(base, database(kind, f"{kind}_latency", args.pg_admin_url))
            sample = mixed_sample(messages, args.latency_events)
            latency = run_engine(s, len(sample), pace=rate, messages=sample, broker_pid=broker.pid)
            print(f"{kind:<10} latency  at {rate:,.0f} ev/s: {rows(latency)}")
            report[kind] = {"engine": curve, "floor": floor, "latency": {"rate": rate, **latency}}
    save_results("throughput", report)


if __name__ == "__main__":
    main()
