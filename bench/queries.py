"""Supervisor queries at scale: the stuck list and the dashboard's aggregates.

    .venv/bin/python -m bench.queries [--db postgresql sqlite] [--rows 1000000]

Per database: a fresh store with ``--rows`` denials received over two years up to
2026-11-20, loaded in bulk, shaped like a practice's history: most old denials are
closed (3% of those older than 90 days still open, 40% of 30-90 days, 70% of the last
30), eight payers, eight teams, twenty owners, five sites; each closed denial has its
payer answer or write-off and its close in the audit log (about 2.8 audit rows per
denial) and its row in `outcome_events`. The load ends with VACUUM ANALYZE (PostgreSQL),
the state autovacuum keeps a live table in. Then each query runs once to warm the cache and five times timed; the figure
is the median. Queries: the dashboard's stuck list (top 25 and the totals), the API's
first page of it (100), and every aggregate the dashboard shows, for the default range
(13 weeks) unfiltered and filtered by payer and by team.
"""

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bench.common import database, settled
from bench.results import RESULTS, save_results
from engine.logs import configure
from engine.read import kpis, queries
from engine.read.kpis import Filters, Scope
from engine.storage import store
from engine.storage.bulk import BulkTable
from engine.storage.db import make_engine
from workflows.escalation import EscalationRules

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TODAY = NOW.date()
CHUNK = 50_000
PAYERS = ("AETNA", "UHC", "BCBS-NC", "CIGNA", "MEDICARE-JL", "MEDICAID-NY", "HUMANA", "TRICARE")
TEAMS = {"coding": ("4", "coding"), "authorization": ("197", "authorization"), "clinical": ("50", "documentation"),
         "billing": ("16", "claim_data"), "front_desk": ("27", "eligibility"), "credentialing": ("B7", "credentialing"),
         "payer_follow_up": ("45", "contract"), "needs_review": ("999", "needs_review")}  # fmt: skip
OWNERS = [f"owner{i:02d}" for i in range(20)]
SITES = ("Main", "North", "South", "East", "Telehealth")
OPEN_STATES = ("assigned", "worked", "escalated", "appealed", "resubmitted")


def _open_share(age_days: int) -> float:
    return 0.7 if age_days < 30 else 0.4 if age_days < 90 else 0.03


def _rows(i: int, rng: random.Random) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One denial, its audit entries (the receipt, the payer's answer or the write-off, the
    close) and the `outcome_events` row the worker writes with the answer or write-off."""
    received = NOW - timedelta(minutes=rng.randrange(730 * 24 * 60))
    age = (NOW - received).days
    team = rng.choice(list(TEAMS))
    carc, category = TEAMS[team]
    cents = int(rng.lognormvariate(10.5, 1.0)) + 2_000
    opened = rng.random() < _open_share(age)
    touches = rng.randint(0, 4) if opened else rng.randint(1, 4)
    first_touch = received + timedelta(hours=rng.randint(4, 400)) if touches else None
    closed = None if opened else received + timedelta(days=rng.randint(5, 120))
    denial_id = f"{i:032x}"
    row: dict[str, Any] = {c.name: None for c in store.DENIALS.c}
    row.update(id=denial_id, state=rng.choice(OPEN_STATES) if opened else "closed", category=category, side="back_end",
               team=team, owner=None if rng.random() < 0.02 else rng.choice(OWNERS), touches=touches,
               liability="provider", priority="standard", payer_id=rng.choice(PAYERS), payer_name="Payer",
               claim_control_number=f"C{i}", line=1, patient_control_number=f"P{i}", site=rng.choice(SITES),
               primary_group="CO", primary_reason=carc, carc_codes=f"CO-{carc}", rarc_codes="",
               billed_cents=cents + 5_000, paid_cents=0, denied_cents=cents,
               date_of_service=(received - timedelta(days=10)).date(), remit_date=received.date(),
               received_at=received, next_action_date=(received + timedelta(days=rng.randint(3, 60))).date(),
               first_touch_at=first_touch, last_touch_at=first_touch, outcome={},
               root_cause=None if opened else {"category": "coding", "preventable": rng.random() < 0.6},
               filing_deadline=(received + timedelta(days=80)).date(),
               appeal_deadline=(received + timedelta(days=180)).date(), payer_profile_known=i % 20 != 0,
               closed_at=closed, updated_at=NOW, version=1, audit_seq=1,
               timer_generation=0, timers_fired={})  # fmt: skip
    entries = [_entry(denial_id, 1, "receive", None, "received", received, {})]
    outcomes = []
    if closed is not None:
        answer = rng.choice(("resolve", "uphold", "write_off"))
        payload = {"adjustment_type": rng.choice(("administrative", "small_balance", "timely_filing")),
                   "amount": f"{cents / 100:.2f}"} if answer == "write_off" else {}  # fmt: skip
        entries.append(_entry(denial_id, 2, answer, "appealed" if answer != "write_off" else "worked", "resolved",
                              closed - timedelta(days=1), payload))  # fmt: skip
        entries.append(_entry(denial_id, 3, "close", "resolved", "closed", closed, {}))
        kind = {"resolve": "overturned", "uphold": "upheld", "write_off": "written_off"}[answer]
        outcomes.append({"denial_id": denial_id, "seq": 2, "occurred_at": closed - timedelta(days=1), "kind": kind,
                         "adjustment_type": payload.get("adjustment_type"),
                         "amount_cents": cents if answer == "write_off" else None, "payer_id": row["payer_id"],
                         "team": team, "category": category, "site": row["site"]})  # fmt: skip
    return row, entries, outcomes


def _entry(denial_id: str, seq: int, trigger: str, source: str | None, dest: str, at: datetime,
           payload: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {"denial_id": denial_id, "seq": seq, "event_id": f"{denial_id}-{seq}", "event_type": "bench",
            "trigger": trigger, "from_state": source, "to_state": dest, "actor": "bench", "role": "system",
            "occurred_at": at, "recorded_at": at, "reason": None, "payload": payload, "source_topic": None,
            "source_partition": None, "source_offset": None, "prev_hash": None, "hash": "0" * 64}  # fmt: skip


def fill(engine: Engine, rows: int) -> tuple[float, int]:
    started, audit_rows = time.perf_counter(), 0
    rng = random.Random(11)
    dialect = engine.dialect.name
    denials, audit = BulkTable(store.DENIALS, dialect), BulkTable(store.AUDIT, dialect)
    outcomes = BulkTable(store.OUTCOMES, dialect)
    for start in range(0, rows, CHUNK):
        made = [_rows(i, rng) for i in range(start, min(start + CHUNK, rows))]
        entries = [e for _, es, _ in made for e in es]
        audit_rows += len(entries)
        with engine.begin() as conn:
            denials.insert(conn, [d for d, _, _ in made])
            audit.insert(conn, entries)
            outcomes.insert(conn, [o for _, _, os in made for o in os])
    settled(engine)
    return time.perf_counter() - started, audit_rows


def _median_ms(engine: Engine, query: Callable[[Any], Any]) -> float:
    times = []
    for _ in range(6):  # the first warms the cache and is not counted
        with engine.connect() as conn:
            started = time.perf_counter()
            query(conn)
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times[1:]), 1)


def measurements(rules: EscalationRules) -> dict[str, Callable[[Any], Any]]:
    scope = Scope(kpis.week_of(TODAY) - timedelta(weeks=12), TODAY + timedelta(days=1))
    f = scope.filters
    by_payer = Scope(scope.start, scope.end, Filters(payer="UHC"))
    by_team = Scope(scope.start, scope.end, Filters(team="coding"))
    return {
        "stuck list: top 25": lambda c: queries.stuck(c, TODAY, rules, f, 25),
        "stuck list: API first page (100)": lambda c: queries.stuck(c, TODAY, rules, f, 100),
        "open work (totals, owners, aging, stuck count)": lambda c: kpis.open_work(c, f, TODAY, rules),
        "received in range (trend, reasons, first touch)": lambda c: kpis.received(c, scope, "category", "payer",
                                                                                   "reason"),
        "closed in range (close time, preventable)": lambda c: kpis.closed(c, scope),
        "payer answers (overturn, write-offs)": lambda c: kpis.payer_answers(c, scope),
        "whole dashboard": lambda c: queries.dashboard(c.engine, scope, TODAY, rules),
        "whole dashboard, payer=UHC": lambda c: queries.dashboard(c.engine, by_payer, TODAY, rules),
        "whole dashboard, team=coding": lambda c: queries.dashboard(c.engine, by_team, TODAY, rules),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", default=["postgresql", "sqlite"], choices=["sqlite", "postgresql"])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    configure("ERROR")
    RESULTS.mkdir(exist_ok=True)
    rules = EscalationRules()
    results = []
    for kind in args.db:
        url = database(kind, "queries", args.pg_admin_url)
        engine = make_engine(url)
        loaded, audit_rows = fill(engine, args.rows)
        with engine.connect() as conn:
            now_open = kpis.open_work(conn, Filters(), TODAY, rules)
        open_now, stuck_now = now_open["totals"]["count"], now_open["stuck"]["count"]
        print(json.dumps({"db": kind, "denials": args.rows, "audit_rows": audit_rows, "open": open_now,
                          "stuck": stuck_now, "load_s": round(loaded, 1)}), flush=True)  # fmt: skip
        for name, query in measurements(rules).items():
            run = {"db": kind, "rows": args.rows, "query": name, "median_ms": _median_ms(engine, query)}
            results.append(run)
            print(json.dumps(run), flush=True)
        engine.dispose()
    save_results("queries", results)


if __name__ == "__main__":
    main()
