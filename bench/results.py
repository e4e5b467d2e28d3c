"""Where benchmark figures go (light on imports: bench.ingest measures memory in-process)."""

import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")


def save_results(name: str, results: Any) -> None:
    """Write a run's figures to bench/results/<name>-<time>.json and say where."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
