"""What `audit verify` costs: every chain of a store checked, in entries per second.

    .venv/bin/python -m bench.verify [--db sqlite postgresql] [--denials 125000] [--rounds 3]

Per database: a fresh store holding ``--denials`` denials (the rows `bench.queries` loads),
each with the eight entries of the receipt-to-close path, chained and hashed exactly as the
worker writes them (`engine.audit.chain.entry_hash` over the previous hash), with the
payloads, source positions and times the worker records. The load ends with VACUUM ANALYZE
(PostgreSQL) or ANALYZE (SQLite). Then `verify` runs over the whole store ``--rounds`` times
on a new connection each; the figure is the median entries per second, and every round must
find the chains intact.
"""

import argparse
import json
import random
import statistics
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from bench.common import database, settled
from bench.queries import _rows
from bench.results import save_results
from engine.audit.chain import entry_hash, verify
from engine.logs import configure
from engine.storage import store
from engine.storage.bulk import BulkTable
from engine.storage.db import make_engine

PATH = [("receive", None, "received", "denial.received"), ("classify", "received", "classified", "denial.received"),
        ("assign", "classified", "assigned", "denial.received"), ("touch", "assigned", "worked", "denial.touched"),
        ("appeal", "worked", "appealed", "denial.appealed"), ("uphold", "appealed", "worked", "denial.payer_answered"),
        ("write_off", "worked", "resolved", "denial.write_off_approved"),
        ("close", "resolved", "closed", "denial.closed")]  # fmt: skip
CHUNK = 10_000


def _chain(row: dict[str, Any], offset: int) -> list[dict[str, Any]]:
    """A denial's eight entries, each hashed over the one before, as the worker writes them."""
    entries, prev = [], None
    at = row["received_at"]
    for seq, (trigger, source, dest, event_type) in enumerate(PATH, start=1):
        at += timedelta(hours=seq)
        payload = {"note": "called payer, ref 118", "amount": f"{row['denied_cents'] / 100:.2f}",
                   "adjustment_type": "small_balance"} if trigger == "write_off" else {"note": None}  # fmt: skip
        entry = {"denial_id": row["id"], "seq": seq, "event_id": f"{row['id']}-{seq}", "event_type": event_type,
                 "trigger": trigger, "from_state": source, "to_state": dest, "actor": "staff@example.org",
                 "role": "staff", "occurred_at": at, "recorded_at": at + timedelta(seconds=2), "reason": None,
                 "payload": payload, "source_topic": "denials.events", "source_partition": offset % 6,
                 "source_offset": offset + seq, "prev_hash": prev}  # fmt: skip
        entry["hash"] = prev = entry_hash(entry)
        entries.append(entry)
    row.update(audit_seq=len(PATH), audit_head=prev)
    return entries


def fill(engine: Engine, denials: int) -> int:
    rng = random.Random(13)
    dialect = engine.dialect.name
    rows, audit = BulkTable(store.DENIALS, dialect), BulkTable(store.AUDIT, dialect)
    entries = 0
    for start in range(0, denials, CHUNK):
        made = [_rows(i, rng)[0] for i in range(start, min(start + CHUNK, denials))]
        chained = [e for i, row in enumerate(made) for e in _chain(row, (start + i) * len(PATH))]
        entries += len(chained)
        with engine.begin() as conn:
            rows.insert(conn, made)
            audit.insert(conn, chained)
    settled(engine)
    return entries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--denials", type=int, default=125_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    configure("ERROR")
    results = []
    for kind in args.db:
        engine = make_engine(database(kind, "verify", args.pg_admin_url))
        entries = fill(engine, args.denials)
        rates = []
        for _ in range(args.rounds):
            with engine.connect() as conn:
                started = time.perf_counter()
                checked, broken = verify(conn)
                elapsed = time.perf_counter() - started
            if broken is not None or checked != entries:
                raise SystemExit(f"{kind}: verify found {broken} after {checked} of {entries} entries")
            rates.append(checked / elapsed)
        run = {"db": kind, "denials": args.denials, "entries": entries,
               "entries_per_s": round(statistics.median(rates)), "rounds": [round(r) for r in rates]}  # fmt: skip
        results.append(run)
        print(json.dumps(run), flush=True)
        engine.dispose()
    save_results("verify", results)


if __name__ == "__main__":
    main()
