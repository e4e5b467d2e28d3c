"""What signing the audit log costs: one checkpoint covering 1,000 closed denials.

    .venv/bin/python -m bench.checkpoints [--db sqlite postgresql] [--history 100000] [--closes 1000]

Per database: a fresh store holding ``--history`` denials already signed (8 audit entries
each, the receipt-to-close path), then ``--closes`` more denials closed since the last
checkpoint (8 entries each); the timer service's checkpoint over them is timed (the share
lock on PostgreSQL, the delta query, the HMAC, the row and its outbox message), three
rounds, median. The figure is set beside the worker's cost for the same closes
(8 events a close at the events/s given by ``--rate``, from bench.throughput).
"""

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from bench.common import database
from bench.results import save_results
from engine.audit.checkpoints import AuditKey, Checkpointer
from engine.logs import configure
from engine.storage import store
from engine.storage.bulk import BulkTable
from engine.storage.db import make_engine

NOW = datetime(2026, 11, 1, tzinfo=UTC)
PATH = ["received", "classified", "assigned", "worked", "appealed", "worked", "resolved", "closed"]
CHUNK = 2_000


def _entries(first: int, count: int) -> list[dict[str, Any]]:
    """The audit entries of denials ``first`` .. ``first + count``: shaped like the engine's, hashes made up."""
    rows = []
    for i in range(first, first + count):
        denial = f"{i:032x}"
        for seq, state in enumerate(PATH, start=1):
            rows.append({"denial_id": denial, "seq": seq, "event_id": f"e-{i}-{seq}", "event_type": "denial.touched",
                         "trigger": "touch", "from_state": None, "to_state": state, "actor": "bench",
                         "role": "staff", "occurred_at": NOW, "recorded_at": NOW, "reason": None, "payload": {},
                         "source_topic": None, "source_partition": None, "source_offset": None,
                         "prev_hash": None, "hash": f"{i:056x}{seq:08x}"})  # fmt: skip
    return rows


def add_closes(engine: Engine, first: int, count: int) -> None:
    audit = BulkTable(store.AUDIT, engine.dialect.name)
    for start in range(first, first + count, CHUNK):
        with engine.begin() as conn:
            audit.insert(conn, _entries(start, min(CHUNK, first + count - start)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--history", type=int, default=100_000, help="denials signed before the timed rounds")
    ap.add_argument("--closes", type=int, default=1_000, help="denials closed since the last checkpoint")
    ap.add_argument("--rate", type=float, default=2_600, help="the worker's events/s, for the comparison")
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    configure("ERROR")
    results = []
    for kind in args.db:
        engine = make_engine(database(kind, "checkpoints", args.pg_admin_url))
        signer = Checkpointer(engine, AuditKey(b"bench-key-of-32-bytes-for-hmac!!"), "bench.audit.checkpoints")
        add_closes(engine, 0, args.history)
        signer.checkpoint("history")
        cursor, times, made = args.history, [], 0
        for _ in range(3):
            add_closes(engine, cursor, args.closes)
            cursor += args.closes
            started = time.perf_counter()
            made = len(signer.checkpoint("close"))
            times.append((time.perf_counter() - started) * 1000)
        ms = statistics.median(times)
        worker_ms = args.closes * len(PATH) / args.rate * 1000
        run = {"db": kind, "history_denials": args.history, "closes": args.closes, "checkpoints_per_round": made,
               "checkpoint_ms": round(ms, 1), "per_1000_closes_ms": round(ms * 1000 / args.closes, 1),
               "worker_ms_same_closes": round(worker_ms), "share_of_worker": round(ms / worker_ms, 4)}  # fmt: skip
        results.append(run)
        print(json.dumps(run), flush=True)
        engine.dispose()
    save_results("checkpoints", results)


if __name__ == "__main__":
    main()
