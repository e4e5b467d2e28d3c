"""835 ingest throughput and memory on a large file built from the real samples.

    .venv/bin/python -m bench.ingest [--mb 60] [--publish]

Builds (streaming, on disk) one interchange of at least ``--mb`` MB by repeating the
5010 sample transactions with fresh trace numbers, patient control numbers and claim
control numbers, so every claim is distinct. Then, in a fresh process per size (so peak
RSS is this run's):
  parse   : read, check envelopes, find denials, build and validate every event (the
            events go to a spool file, as `denialflow ingest` does) - MB/s, claims/s;
  publish : the same plus publishing to the bundled broker (with --publish).
Twice the size with the same peak memory is what "streams, not loads whole" looks like.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.results import RESULTS, save_results
from engine.intake.x12.tokens import segments

SAMPLES = Path(__file__).parents[1] / "tests" / "data" / "835"
BASES = ["edi-835-parser/emedny_sample.txt", "edi-835-parser/united_healthcare_legacy_sample.txt",
         "pyx12/835_mult_loops.txt", "LinuxForHealth-x12/demo.835"]  # fmt: skip


def _transactions() -> list[list[list[str]]]:
    """Each base file's ST..SE segments as element lists, components re-joined with ':'."""
    out = []
    for name in BASES:
        with (SAMPLES / name).open("rb") as stream:
            current: list[list[str]] | None = None
            for seg in segments(stream):
                if seg.id == "ST":
                    current = []
                if current is not None:
                    current.append([e.replace(seg.separators.component, ":") for e in seg.elements])
                if seg.id == "SE" and current is not None:
                    out.append(current)
                    current = None
    return out


def build(path: Path, target_bytes: int) -> int:
    """Write one interchange of at least ``target_bytes``; return the number of claims."""
    bases = _transactions()
    claims = n = 0
    with path.open("w", encoding="latin-1") as out:
        out.write("ISA*00*          *00*          *ZZ*BENCH          *ZZ*DENIALFLOW     *261123*1200*^*00501*"
                  "000000001*0*P*:~\nGS*HP*BENCH*DENIALFLOW*20261123*1200*1*X*005010X221A1~\n")  # fmt: skip
        while out.tell() < target_bytes:
            for tx in bases:
                n += 1
                for elements in tx:
                    e = list(elements)
                    if e[0] in ("ST", "SE"):
                        e[2] = f"{n:09d}"
                    elif e[0] == "TRN":
                        e[2] = f"BENCH{n:012d}"
                    elif e[0] == "CLP":  # a claim is the practice's claim id (CLP01); the ICN (CLP07) varies too
                        e[1], e[7] = f"{e[1]}-{n}", f"{e[7] or 'CCN'}-{n}"
                        claims += 1
                    out.write("*".join(e) + "~\n")
        out.write(f"GE*{n}*1~\nIEA*1*000000001~\n")
    return claims


def _measure(path: Path, publish: bool) -> dict[str, Any]:
    """One run in this process; prints a JSON line."""
    from engine.intake.ingest import ingest_file

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sink: Any
    if publish:
        from engine.config import Settings
        from engine.runtime.broker import BundledBroker
        from engine.runtime.kafka import ensure_topics, make_producer

        broker = BundledBroker().start()
        s = Settings(bootstrap_servers=broker.bootstrap, events_topic="bench.ingest.events")
        ensure_topics(s)
        producer = make_producer(s, max_in_flight_requests_per_connection=5)

        def sink(key: bytes, value: bytes) -> None:
            producer.send(s.events_topic, key=key, value=value)
    else:

        def sink(key: bytes, value: bytes) -> None:
            pass

    started = time.perf_counter()
    result = ingest_file(path, sink)
    if publish:
        producer.flush()
    seconds = time.perf_counter() - started
    if publish:
        producer.close()
        broker.stop()
    assert result.error is None, result.error
    mb = path.stat().st_size / 1e6
    t = result.tally
    return {"mode": "publish" if publish else "parse", "mb": round(mb, 1), "seconds": round(seconds, 2),
            "mb_per_s": round(mb / seconds, 2), "claims": t.claims, "claims_per_s": round(t.claims / seconds),
            "denials": t.denials, "events": result.published,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_mb": round(rss_before / 1024, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=60, help="size of the large file (a second one is twice that)")
    ap.add_argument("--publish", action="store_true", help="also publish to the bundled broker")
    ap.add_argument("--measure", nargs=2, metavar=("FILE", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(_measure(Path(args.measure[0]), args.measure[1] == "publish")))
        return
    RESULTS.mkdir(exist_ok=True)
    runs = []
    for mb in (args.mb, args.mb * 2):
        path = RESULTS / f"large-{mb}mb.835"
        claims = build(path, mb * 1_000_000)
        print(f"built {path} ({path.stat().st_size / 1e6:.1f} MB, {claims:,} claims)", flush=True)
        for mode in ("parse", "publish") if args.publish else ("parse",):
            cmd = [sys.executable, "-m", "bench.ingest", "--measure", str(path), mode]
            run = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            runs.append(run)
            print(json.dumps(run), flush=True)
        path.unlink()
    save_results("ingest", runs)


if __name__ == "__main__":
    main()
