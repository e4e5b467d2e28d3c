"""What each feature of the hot path costs: the engine run of `bench.throughput` (one worker,
the relay beside it) with everything on, then with one feature switched off at a time.

    .venv/bin/python -m bench.costs [--db sqlite postgresql] [--events 30000] [--rounds 3]

A feature is switched off here, in the benchmark's process only, by replacing the one
function that does its work (or, for the indexes, by dropping them from the fresh database);
the engine itself has no such switches. The runs are interleaved round by round, so a
machine that slows down slows every variant alike, each round starting one variant further
on, after a warm-up run that is not counted; each figure is the median of the rounds.
CPU per event is the worker's (this process), the steadier figure on a busy machine.
"""

import argparse
import statistics
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from sqlalchemy import text

from bench.common import event_set, published
from bench.results import RESULTS, save_results
from bench.throughput import bench_settings, run_engine
from engine.config import Settings
from engine.logs import configure
from engine.runtime import processor
from engine.runtime.broker import BundledBroker
from engine.storage import store
from engine.storage.db import make_engine

#: The read side's covering and partial indexes on `denials` (dashboard, queues, aging).
READ_INDEXES = ("ix_denials_received", "ix_denials_closed", "ix_denials_open")


def _no_timers(s: Settings) -> list[Any]:
    """No escalation timer worked out or kept on the denial (its columns are still written)."""
    return [mock.patch.object(processor, "desired_timers", lambda denial, rules: {})]


def _no_open_work(s: Settings) -> list[Any]:
    """No per-owner open-work counts kept or read (routing then sees every owner idle)."""
    return [mock.patch.object(processor, "_track_open_work", lambda *args: None),
            mock.patch.object(store, "open_work", lambda conn: {})]  # fmt: skip


def _no_outcomes(s: Settings) -> list[Any]:
    """No `outcome_events` rows (the payer answers and write-offs the KPIs read)."""
    return [mock.patch.object(processor, "_outcome_event", lambda denial, entry: None)]


def _no_counters(s: Settings) -> list[Any]:
    """No `event_counts` rows (the counters `/metrics` reads)."""
    return [mock.patch.object(store, "batch_counts", lambda batch: {})]


def _no_feed(s: Settings) -> list[Any]:
    """No change-feed records built, stored in the outbox or published (dead letters still are)."""
    write_batch = store.write_batch

    def without_feed(conn: Any, batch: store.BatchWrite, now: Any) -> int | None:
        batch.outbox = [m for m in batch.outbox if m.topic != s.transitions_topic]
        return write_batch(conn, batch, now)

    return [mock.patch.object(processor, "_feed_message", lambda denial, entry: b""),
            mock.patch.object(store, "write_batch", without_feed)]  # fmt: skip


def _drop_read_indexes(s: Settings) -> list[Any]:
    engine = make_engine(s.database_url)
    with engine.begin() as conn:
        for name in READ_INDEXES:  # SQLite's forms carry the included columns as keys (models/covering.py)
            conn.execute(text(f"DROP INDEX {name}_sqlite" if conn.dialect.name == "sqlite" else f"DROP INDEX {name}"))
    engine.dispose()
    return []


#: Variant name -> what switches its feature off (given the run's settings); "all on" first.
VARIANTS: dict[str, Callable[[Settings], list[Any]] | None] = {
    "all on": None,
    "timers off": _no_timers,
    "open-work counts off": _no_open_work,
    "outcome events off": _no_outcomes,
    "event counters off": _no_counters,
    "read indexes off": _drop_read_indexes,
    "change feed off": _no_feed,
}


@contextmanager
def switched_off(variant: str, s: Settings) -> Iterator[None]:
    with ExitStack() as stack:
        switch = VARIANTS[variant]
        for patch in switch(s) if switch else []:
            stack.enter_context(patch)
        yield


def summary(runs: list[dict[str, Any]], baseline: dict[str, float] | None) -> dict[str, float]:
    out = {
        "events_per_s": statistics.median(r["events_per_s"] for r in runs),
        "worker_cpu_us_per_event": statistics.median(r["cpu_us_per_event_workers"] for r in runs),
        "relay_cpu_us_per_event": statistics.median(r["cpu_us_per_event_relay"] for r in runs),
    }
    if baseline:  # what switching the feature off saves: the feature's price
        out["price_events_per_s_pct"] = (out["events_per_s"] / baseline["events_per_s"] - 1) * 100
        out["price_worker_cpu_us"] = baseline["worker_cpu_us_per_event"] - out["worker_cpu_us_per_event"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--denials", type=int, default=6_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS)[1:],
        default=list(VARIANTS)[1:],
        help="the features to price (each against everything on)",
    )
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    configure("ERROR")
    RESULTS.mkdir(exist_ok=True)
    messages = event_set(args.events, args.denials)
    print(f"{len(messages):,} events over {args.denials:,} denials, {args.rounds} rounds")
    report: dict[str, Any] = {}
    with BundledBroker() as broker:
        base = bench_settings(broker.bootstrap, args.batch_size)
        for kind in args.db:
            order = ["all on", *args.variants]
            runs: dict[str, list[dict[str, Any]]] = {v: [] for v in order}
            s = published(base, kind, f"{kind}_costs", args.pg_admin_url, messages)
            run_engine(s, len(messages), broker_pid=broker.pid)  # warm-up, not counted
            for round_no in range(args.rounds):
                for variant in order[round_no % len(order) :] + order[: round_no % len(order)]:
                    s = published(base, kind, f"{kind}_costs", args.pg_admin_url, messages)
                    with switched_off(variant, s):
                        run = run_engine(s, len(messages), broker_pid=broker.pid)
                    runs[variant].append(run)
                    print(f"{kind:<10} round {round_no + 1}  {variant:<22} {run['events_per_s']:8,.0f} ev/s  "
                          f"worker {run['cpu_us_per_event_workers']:5.0f} us/event")  # fmt: skip
            baseline = summary(runs["all on"], None)
            report[kind] = {v: summary(r, baseline if v != "all on" else None) for v, r in runs.items()}
            for variant, figures in report[kind].items():
                print(f"{kind:<10} {variant:<22} " + "  ".join(f"{k}={v:,.1f}" for k, v in figures.items()))
    save_results("costs", report)


if __name__ == "__main__":
    main()
