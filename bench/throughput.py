"""End-to-end worker throughput and latency against the bundled broker, and the floor.

    .venv/bin/python -m bench.throughput [--db sqlite postgresql] [--events 100000] [--denials 20000]

Per database it runs, each on fresh topics and a fresh database:
  engine   : publish all events, then time the worker draining them (events/s);
  latency  : publish a slice of fresh events at a fixed rate while the worker runs;
             latency = commit of the batch holding the record - the record's publish time;
  floor    : the same consumer settings and batches with no engine logic: per record one
             processed-event row and one audit row, per batch one outbox row (then deleted),
             in one transaction per batch, offsets committed after it.
"""

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.common import event_set, fresh_postgres, fresh_settings, percentiles, publish, rows
from consumers.denial_events import build_worker
from engine import store
from engine.broker import BundledBroker
from engine.config import Settings
from engine.db import make_engine, upgrade
from engine.kafka import make_consumer
from engine.logs import configure
from engine.worker import Committed

RESULTS = Path(__file__).with_name("results")


def database(kind: str, tag: str, pg_admin: str) -> str:
    if kind == "sqlite":
        path = RESULTS / f"{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        upgrade(f"sqlite:///{path}")
        return f"sqlite:///{path}"
    return fresh_postgres(pg_admin, f"denialflow_bench_{tag}")


def run_engine(s: Settings, total: int, pace: float | None = None, messages: Any = None) -> dict[str, Any]:
    """Drain ``total`` records with the production worker; if ``pace`` is set, publish at that rate meanwhile."""
    committed = {"records": 0, "transitions": 0, "rejected": 0}
    latencies: list[float] = []

    def on_commit(c: Committed) -> None:
        committed["records"] += c.records
        committed["transitions"] += c.result.transitions
        committed["rejected"] += c.result.rejected
        if pace:
            latencies.extend(c.committed_at * 1000 - ts for ts in c.timestamps_ms)

    worker = build_worker(s, on_commit=on_commit)
    if pace:
        feeder = threading.Thread(target=_paced_publish, args=(s, messages, pace))
        feeder.start()
    started = time.perf_counter()
    first = [0.0]

    def until() -> bool:
        if committed["records"] and not first[0]:
            first[0] = time.perf_counter()
        return committed["records"] >= total

    worker.run(until=until)
    elapsed = time.perf_counter() - (first[0] or started)
    worker.relay.producer.close()
    worker.engine.dispose()
    out: dict[str, Any] = {**committed, "seconds": elapsed, "events_per_s": total / elapsed}
    if pace:
        feeder.join()
        out |= {f"latency_ms_{k}": v for k, v in percentiles(latencies).items()}
    return out


def _paced_publish(s: Settings, messages: list[tuple[bytes, bytes]], rate: float) -> None:
    from engine.kafka import make_producer

    producer = make_producer(s, linger_ms=1)
    start = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        producer.send(s.events_topic, key=key, value=value)
    producer.flush()
    producer.close()


def run_floor(s: Settings, total: int) -> dict[str, Any]:
    """Consume the same records and write rows without decoding, machine, hashing or publishing."""
    from kafka.structs import OffsetAndMetadata

    engine = make_engine(s.database_url)
    consumer = make_consumer(s, s.events_topic)
    seen = 0
    first = 0.0
    while seen < total:
        polled = consumer.poll(timeout_ms=s.poll_timeout_ms, max_records=s.batch_size)
        if not polled:
            continue
        first = first or time.perf_counter()
        records = [r for batch in polled.values() for r in batch]
        with engine.begin() as conn:
            keys = [f"{r.topic}:{r.partition}:{r.offset}" for r in records]
            conn.execute(insert(store.PROCESSED), [{"event_id": k, "outcome": "applied", "processed_at": _NOW}
                                                   for k in keys])  # fmt: skip
            conn.execute(insert(store.AUDIT), [_audit_row(k, r.value) for k, r in zip(keys, records, strict=True)])
            packed = b"".join(r.value for r in records)
            outbox_id = conn.execute(insert(store.OUTBOX).returning(store.OUTBOX.c.id),
                                     {"created_at": _NOW, "messages": packed}).scalar_one()  # fmt: skip
        with engine.begin() as conn:
            store.delete_outbox(conn, [outbox_id])
        consumer.commit({tp: OffsetAndMetadata(b[-1].offset + 1, "", -1) for tp, b in polled.items()})
        seen += len(records)
    elapsed = time.perf_counter() - first
    consumer.close()
    engine.dispose()
    return {"records": seen, "seconds": elapsed, "events_per_s": total / elapsed}


from datetime import UTC, datetime  # noqa: E402

_NOW = datetime.now(UTC)


def _audit_row(key: str, value: bytes) -> dict[str, Any]:
    return {
        "denial_id": key[-60:], "seq": 1, "event_id": key, "event_type": "bench",
        "trigger": "bench", "from_state": None, "to_state": "bench", "actor": "bench", "role": "system",
        "occurred_at": _NOW, "recorded_at": _NOW, "reason": None, "payload": {"bytes": len(value)},
        "source_topic": "t", "source_partition": 0, "source_offset": 0, "prev_hash": None, "hash": "0" * 64,
    }  # fmt: skip


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
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    configure("ERROR")
    RESULTS.mkdir(exist_ok=True)
    messages = event_set(args.events, args.denials)
    print(f"{len(messages):,} events over {args.denials:,} denials, "
          f"{sum(len(v) for _, v in messages) / len(messages):.0f} bytes average")  # fmt: skip
    report: dict[str, Any] = {}
    with BundledBroker() as broker:
        base = Settings(bootstrap_servers=broker.bootstrap, batch_size=args.batch_size, max_poll_interval_ms=3000,
                        session_timeout_ms=3000, heartbeat_interval_ms=500)  # fmt: skip
        for kind in args.db:
            s = fresh_settings(base, database(kind, f"{kind}_engine", args.pg_admin_url))
            publish(s, messages)
            engine_run = run_engine(s, len(messages))
            print(f"{kind:<10} engine   {rows(engine_run)}")
            s = fresh_settings(base, database(kind, f"{kind}_floor", args.pg_admin_url))
            publish(s, messages)
            floor = run_floor(s, len(messages))
            share = engine_run["events_per_s"] / floor["events_per_s"]
            print(f"{kind:<10} floor    {rows(floor)}  engine/floor={share:.0%}")
            rate = args.latency_rate or engine_run["events_per_s"] * 0.5
            s = fresh_settings(base, database(kind, f"{kind}_latency", args.pg_admin_url))
            sample = messages[: args.latency_events]
            latency = run_engine(s, len(sample), pace=rate, messages=sample)
            print(f"{kind:<10} latency  at {rate:,.0f} ev/s: {rows(latency)}")
            report[kind] = {"engine": engine_run, "floor": floor, "latency": {"rate": rate, **latency}}
    out = RESULTS / f"throughput-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
