"""Garbage-collector settings for the worker's process.

A batch allocates a few hundred thousand short-lived objects (decoded events, rows, audit
entries) and keeps none of them; at CPython's default gen-0 threshold (700 allocations) the
collector ran hundreds of times a batch, each pass also walking the young survivors. Once
start-up is done its objects (modules, the machine, the rules) are frozen out of the
collector's sight and gen 0 runs every 20,000 allocations: about 10% more events/s on
SQLite, fewer pauses in the tail (bench/throughput.py, issue 13).
"""

import gc

GEN0_THRESHOLD = 20_000


def settle_heap() -> None:
    """Call once, after start-up and before the loop: later objects are collected as usual."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, 20, 100)
