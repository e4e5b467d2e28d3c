"""The pre-submission check's cost: an 837 of many claims read, turned into events and checked.

    .venv/bin/python -m bench.claims837 [--claims 100000] [--worker 20000] [--db sqlite]

Generates (streaming, on disk) one 837P of ``--claims`` claims: 2,000 patients at 4 payers,
1-3 service lines each (90834/90837/90847/H0035/96130, 1-2 units), REF*G1 on most, one in 20
a replacement (frequency 7) and one in 50 a void (8). Then, in a fresh process (so peak RSS
is this run's):
  read   : the 837 reader alone - claims/s, MB/s;
  events : the reader and every claim built and validated as a `claim.submitted` event
           (what `denialflow claims check` and the claims.outbound consumer do before publishing);
  check  : the checklist over every claim against the patients' authorizations (one or two
           each, in memory), units counted as the worker counts them.
With ``--worker N``: the first N claims' events through the real worker on the bundled broker
and a fresh database (``--db``), timed from the first commit to the last (events/s).
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.results import RESULTS, save_results

PAYERS = ("AETNA", "UHC", "CIGNA", "MEDICAID-MCO")
CODES = ("90834", "90837", "90847", "H0035", "96130")
PATIENTS = 2000
START = date(2026, 9, 1)


def _member(n: int) -> str:
    return f"MBR{n:07d}"


def authorizations(patients: int = PATIENTS) -> list[dict[str, Any]]:
    """One or two authorizations per patient, as `authorization.recorded` data."""
    out = []
    for n in range(patients):
        payer = PAYERS[n % len(PAYERS)]
        for k in range(1 + n % 2):
            out.append({"payer_id": payer, "reference": f"A{n:06d}-{k}", "member_id": _member(n), "auth_type": "prior",
                        "procedure_codes": list(CODES[k::2]), "rendering_npi": "1234567893", "units_approved": 60,
                        "units_used": 0, "obtained_on": START.isoformat(), "valid_from": START.isoformat(),
                        "valid_to": (START + timedelta(days=180)).isoformat()})  # fmt: skip
    return out


def generate_837(path: Path, claims: int, seed: int = 7) -> int:
    """Write the file; return its size in bytes."""
    rng = random.Random(seed)
    with path.open("w", encoding="latin-1") as out:
        out.write("ISA*00*          *00*          *ZZ*BENCH          *ZZ*CLEARINGHOUSE  *261201*1200*^*00501*"
                  "000000001*0*P*:~\nGS*HC*BENCH*CH*20261201*1200*1*X*005010X222A1~\n")  # fmt: skip
        out.write("ST*837*0001*005010X222A1~\nBHT*0019*00*1*20261201*1200*CH~\nHL*1**20*1~\n"
                  "NM1*85*2*MAIN ST BEHAVIORAL HEALTH*****XX*1234567893~\n")  # fmt: skip
        segments = 4  # ST, BHT, HL, NM1 (SE counts itself below)
        for c in range(claims):
            n = rng.randrange(PATIENTS)
            payer = PAYERS[n % len(PAYERS)]
            frequency = "8" if c % 50 == 49 else ("7" if c % 20 == 19 else "1")
            pcn = f"PCN{c - 1 if frequency != '1' else c:08d}"
            lines = rng.randint(1, 3)
            body = [
                f"HL*{c + 2}*1*22*0",
                "SBR*P*18*******CI",
                f"NM1*IL*1*PATIENT*P{n}****MI*{_member(n)}",
                f"NM1*PR*2*{payer}*****PI*{payer}",
                f"CLM*{pcn}*{200 * lines}***11:B:{frequency}*Y*A*Y*Y",
            ]
            if c % 4:
                body.append(f"REF*G1*A{n:06d}-0")
            for k in range(lines):
                day = START + timedelta(days=rng.randrange(120))
                body += [f"LX*{k + 1}", f"SV1*HC:{rng.choice(CODES)}*200*UN*{rng.randint(1, 2)}***1",
                         f"DTP*472*D8*{day:%Y%m%d}"]  # fmt: skip
            out.write("~\n".join(body) + "~\n")
            segments += len(body)
        out.write(f"SE*{segments + 1}*0001~\nGE*1*1~\nIEA*1*000000001~\n")
    return path.stat().st_size


def _records() -> dict[tuple[str, str], list[Any]]:
    from workflows.authorization import AuthRecord

    found: dict[tuple[str, str], list[Any]] = {}
    for a in authorizations():
        record = AuthRecord(a["reference"], a["payer_id"], a["member_id"], "prior", tuple(a["procedure_codes"]),
                            a["rendering_npi"], None, 60, 0, START, START, START + timedelta(days=180))  # fmt: skip
        found.setdefault((a["payer_id"], a["member_id"]), []).append(record)
    return found


def _measure(path: Path, mode: str) -> dict[str, Any]:
    from dataclasses import replace

    from engine.intake.outbound_claims import read_claim_file
    from engine.intake.x12.submitted import read_837
    from workflows.auth_rules import AuthRules
    from workflows.authorization import ClaimLine
    from workflows.presubmission import Line, check_claim

    started = time.perf_counter()
    held = 0
    if mode == "read":
        with path.open("rb") as fh:
            claims = sum(1 for _ in read_837(fh))
    elif mode == "events":
        with path.open("rb") as fh:
            result = read_claim_file(fh, str(path), lambda: datetime(2026, 12, 1, tzinfo=UTC))
        assert result.error is None, result.error
        claims = len(result.messages)
    else:
        rules, records = AuthRules.load(), _records()
        with path.open("rb") as fh:
            parsed = list(read_837(fh))
        started = time.perf_counter()  # the checklist alone
        for claim in parsed:
            key = (claim.payer_id, claim.member_id or "")
            lines = [Line(n.number, ClaimLine(n.procedure_code, n.rendering_npi or claim.billing_npi, None,
                                              n.date_of_service or START, n.units), n.prior_authorization, n.referral)
                     for n in claim.lines]  # fmt: skip
            verdict = check_claim(lines, claim.prior_authorization, claim.referral, records.get(key, []),
                                  rules.of(claim.payer_id))  # fmt: skip
            held += verdict["verdict"] == "hold"
            if verdict["verdict"] == "clear":
                records[key] = [replace(r, units_claimed=r.units_claimed + verdict["usage"].get(r.reference, 0))
                                for r in records.get(key, [])]  # fmt: skip
        claims = len(parsed)
    seconds = time.perf_counter() - started
    mb = path.stat().st_size / 1e6
    return {"mode": mode, "claims": claims, "held": held, "seconds": round(seconds, 2),
            "claims_per_s": round(claims / seconds), "mb_per_s": round(mb / seconds, 2) if mode != "check" else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}  # fmt: skip


def _through_worker(path: Path, claims: int, db: str) -> dict[str, Any]:
    """The first ``claims`` claims (after the authorizations) through the real worker."""
    import orjson

    from bench.common import database, fresh_settings
    from consumers.denial_events import build_worker
    from engine.config import Settings
    from engine.intake.events import parse
    from engine.intake.outbound_claims import read_claim_file
    from engine.runtime.broker import BundledBroker
    from engine.runtime.kafka import make_producer

    with path.open("rb") as fh:
        events = read_claim_file(fh, str(path), lambda: datetime(2026, 12, 1, tzinfo=UTC)).messages[:claims]
    auths = [parse({"event_id": f"bench-auth-{i}", "type": "authorization.recorded", "actor": "bench",
                    "role": "system", "occurred_at": "2026-09-01T00:00:00+00:00", "data": a})
             for i, a in enumerate(authorizations())]  # fmt: skip
    broker = BundledBroker().start()
    try:
        url = database(db, "claims837", "postgresql://postgres@127.0.0.1:5432/postgres")
        s = fresh_settings(Settings(bootstrap_servers=broker.bootstrap), url)
        producer = make_producer(s, max_in_flight_requests_per_connection=5)
        for key, value in [(a.key.encode(), orjson.dumps(a.model_dump(mode="json"))) for a in auths] + events:
            producer.send(s.events_topic, key=key, value=value)
        producer.flush()
        producer.close()
        total, done, first = len(auths) + len(events), [0], [0.0, 0]

        def counted(c: Any) -> None:  # timed from the first commit: the group's join is not the worker's cost
            if not first[0]:
                first[0], first[1] = time.perf_counter(), c.records
            done[0] += c.records

        worker = build_worker(s, on_commit=counted)
        worker.run(until=lambda: done[0] >= total)
        seconds = time.perf_counter() - first[0]
        worker.engine.dispose()
    finally:
        broker.stop()
    return {"mode": f"worker-{db}", "events": total, "claims": len(events), "authorizations": len(auths),
            "seconds": round(seconds, 2), "events_per_s": round((total - first[1]) / seconds)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--worker", type=int, default=0, help="also run the first N claims through the worker")
    ap.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    ap.add_argument("--measure", nargs=2, metavar=("FILE", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(_measure(Path(args.measure[0]), args.measure[1])))
        return
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"claims-{args.claims}.837"
    size = generate_837(path, args.claims)
    print(f"built {path} ({size / 1e6:.1f} MB, {args.claims:,} claims)", flush=True)
    runs = []
    for mode in ("read", "events", "check"):
        cmd = [sys.executable, "-m", "bench.claims837", "--measure", str(path), mode]
        runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
        print(json.dumps(runs[-1]), flush=True)
    if args.worker:
        runs.append(_through_worker(path, args.worker, args.db))
        print(json.dumps(runs[-1]), flush=True)
    path.unlink()
    save_results("claims837", runs)


if __name__ == "__main__":
    main()
