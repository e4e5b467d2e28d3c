"""Timer ticks stay proportional to what is due, not to how many timers exist.

    .venv/bin/python -m bench.timers [--db sqlite postgresql] [--rows 1000000]

Per database: a fresh store with ``--rows`` open denials, each with its pending timer
(due in 2030), loaded in bulk; then, for 0, 100 and 10,000 timers made due, one tick
of the real timer service against the bundled broker (claim the due denials through the
partial index, publish a `denial.timer_fired` each, wait for the acknowledgements,
mark them fired), timed. Each figure is the median of three ticks.
"""

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, text

from bench.common import database
from bench.results import RESULTS, save_results
from engine.clock import ManualClock
from engine.config import Settings
from engine.logs import configure
from engine.runtime.broker import BundledBroker
from engine.runtime.kafka import ensure_topics
from engine.runtime.timers import build_timer_service
from engine.storage import store
from engine.storage.bulk import BulkTable
from engine.storage.db import make_engine

NOW = datetime(2026, 11, 1, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)
CHUNK = 50_000


def _denial(i: int) -> dict[str, Any]:
    row: dict[str, Any] = {c.name: None for c in store.DENIALS.c}
    row.update(id=f"{i:032x}", state="assigned", priority="middle", touches=0, payer_id="AETNA", payer_name="Aetna",
               claim_control_number=f"C{i}", line=1, patient_control_number=f"P{i}", carc_codes="CO-4",
               rarc_codes="", billed_cents=40_000, paid_cents=0, denied_cents=35_000,
               date_of_service=date(2026, 9, 1), remit_date=date(2026, 9, 30), received_at=NOW, outcome={},
               updated_at=NOW, version=1, audit_seq=3, owner="o", payer_profile_known=True, timer_rule="aging",
               timer_due_at=LATER, timer_generation=1, timer_detail={"age_days": 61}, timers_fired={})  # fmt: skip
    return row


def fill(engine: Engine, rows: int) -> float:
    started = time.perf_counter()
    dialect = engine.dialect.name
    denials = BulkTable(store.DENIALS, dialect)
    for start in range(0, rows, CHUNK):
        with engine.begin() as conn:
            denials.insert(conn, [_denial(i) for i in range(start, min(start + CHUNK, rows))])
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def make_due(engine: Engine, first: int, count: int) -> None:
    if count:
        with engine.begin() as conn:
            conn.execute(store.DENIALS.update().where(store.DENIALS.c.id.in_(
                [f"{i:032x}" for i in range(first, first + count)])).values(timer_due_at=NOW))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--rows", type=int, default=1_000_000, help="at least 31,000 (the ticks use 30,300)")
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    configure("ERROR")
    RESULTS.mkdir(exist_ok=True)
    results = []
    with BundledBroker() as broker:
        for kind in args.db:
            url = database(kind, "timers", args.pg_admin_url)
            engine = make_engine(url)
            loaded = fill(engine, args.rows)
            s = Settings(database_url=url, bootstrap_servers=broker.bootstrap, events_topic=f"bench.timers.{kind}",
                         timer_batch=10_000)  # fmt: skip
            ensure_topics(s)
            service = build_timer_service(s, ManualClock(NOW))
            cursor = 0
            for due in (0, 100, 10_000):
                times = []
                for _ in range(3):
                    make_due(engine, cursor, due)
                    cursor += due
                    started = time.perf_counter()
                    fired = service.tick()
                    times.append((time.perf_counter() - started) * 1000)
                    assert fired == due, (fired, due)
                run = {"db": kind, "rows": args.rows, "due": due, "tick_ms": round(statistics.median(times), 1),
                       "per_timer_ms": round(statistics.median(times) / due, 3) if due else None,
                       "load_s": round(loaded, 1)}  # fmt: skip
                results.append(run)
                print(json.dumps(run), flush=True)
            service.producer.close()
            service.engine.dispose()
            engine.dispose()
    save_results("timers", results)


if __name__ == "__main__":
    main()
