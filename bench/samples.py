"""What `denialflow ingest` makes of a folder of 835 files, without a broker: files accepted
(and with warnings), refused, claims, denials, payer answers and collisions.

    .venv/bin/python -m bench.samples [DIR ...]   (default: the public samples in ../shared)

Run it from an older checkout (``PYTHONPATH=OLD .venv/bin/python bench/samples.py``) to
compare releases on the same files.
"""

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from engine.intake.ingest import files_in, ingest_file

DEFAULT = Path(__file__).parents[2] / "shared" / "samples" / "835"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path, default=[DEFAULT])
    args = parser.parse_args()
    totals: Counter[str] = Counter()
    started = time.perf_counter()
    for path in files_in(args.dirs):
        if path.suffix.lower() in {".md", ".997"}:
            continue
        result = ingest_file(path, lambda key, value: None)
        totals["files"] += 1
        totals["bytes"] += path.stat().st_size
        if result.error is not None:
            totals["refused"] += 1
            continue
        warnings = getattr(result, "warnings", [])
        totals["accepted"] += 1
        totals["accepted with warnings"] += bool(warnings)
        totals["warnings"] += len(warnings)
        for name in ("claims", "denials", "answers", "reversals", "collisions"):
            totals[name] += getattr(result.tally, name, 0)
    totals["seconds"] = round(time.perf_counter() - started, 3)  # type: ignore[assignment]
    print(json.dumps(dict(totals), indent=1))


if __name__ == "__main__":
    main()
