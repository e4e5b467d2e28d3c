"""Commands for prevention: outgoing claims checked before the payer sees them (`claims`), and
the authorization team's queue (`auth queue`, `auth show`)."""

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from engine.cli.common import DbOpt, KafkaOpt, console, settings
from engine.cli.intake import Publisher, auth_app
from engine.clock import clock_from
from engine.intake.claim_identity import authorization_id_for
from engine.intake.events import parse
from engine.intake.outbound_claims import ClaimFile, publish_file, read_claim_file
from engine.read.prevention import authorization_queue
from engine.runtime.kafka import ensure_topics, make_producer
from engine.storage import prevention_store as ps
from engine.storage.db import make_engine

claims_app = typer.Typer(no_args_is_help=True, help="Outgoing claims (X12 837) checked against authorizations.")


@claims_app.command("consume")
def claims_consume(database_url: DbOpt = None, bootstrap_servers: KafkaOpt = None) -> None:
    """Turn raw 837 files on claims.outbound into claim.submitted events until SIGTERM."""
    from consumers.outbound_claims import run as run_claims

    run_claims(settings(database_url, bootstrap_servers, broker=True))


#: How long `claims check` waits for the engine's verdicts by default.
WAIT_S = 60.0


def _files(target: Path) -> list[Path]:
    return sorted(p for p in target.iterdir() if p.is_file()) if target.is_dir() else [target]


def _read(paths: list[Path], clock: Any) -> list[ClaimFile]:
    results = []
    for path in paths:
        with path.open("rb") as fh:
            results.append(read_claim_file(fh, str(path), clock))
    return results


def _verdicts(database_url: str, wanted: dict[str, str], wait_s: float) -> dict[str, Any]:
    """Each claim's check row once the engine has checked this submission (its event id), or
    whatever is there when ``wait_s`` runs out."""
    engine = make_engine(database_url)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            with engine.connect() as conn:
                rows = {r.claim_id: r for r in conn.execute(select(ps.CLAIM_CHECKS).where(
                    ps.CLAIM_CHECKS.c.claim_id.in_(list(wanted))))}  # fmt: skip
            done = {c: r for c, r in rows.items() if r.event_id == wanted[c]}
            if len(done) == len(wanted) or time.monotonic() >= deadline:
                return rows
            time.sleep(0.2)
    finally:
        engine.dispose()


@claims_app.command("check")
def claims_check(
    target: Annotated[Path, typer.Argument(exists=True, help="an 837 file, or a folder of them")],
    wait: Annotated[float, typer.Option(help="seconds to wait for the engine's verdicts (0: publish only)")] = WAIT_S,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
    bootstrap_servers: KafkaOpt = None,
) -> None:
    """Publish each claim of the 837(s) as claim.submitted and show the engine's verdict per
    claim: clear, or hold with every failed item and its next action. A refused file publishes
    nothing (exit 2 after the others)."""
    s = settings(database_url, bootstrap_servers, broker=True)
    results = _read(_files(target), clock_from(s.now))
    ensure_topics(s)
    publisher = Publisher(make_producer(s), s.events_topic)
    wanted: dict[str, str] = {}
    for result in results:
        publish_file(result, publisher)
        publisher.confirm()
        wanted |= result.claims
    publisher.producer.close()
    rows = _verdicts(s.database_url, wanted, wait) if wait > 0 and wanted else {}
    _show(results, wanted, rows, as_json)
    for result in results:
        if result.error:
            typer.echo(f"REFUSED {result.name}: {result.error}", err=True)
    if any(r.error for r in results):
        raise typer.Exit(2)


def _show(results: list[ClaimFile], wanted: dict[str, str], rows: dict[str, Any], as_json: bool) -> None:
    checked = [{"claim_id": c, "checked": c in rows and rows[c].event_id == e,
                **({"verdict": rows[c].verdict, "sub_causes": rows[c].result.get("sub_causes", []),
                    "lines": rows[c].result.get("lines", []), "patient_control_number": rows[c].patient_control_number,
                    "payer_id": rows[c].payer_id} if c in rows else {})}
               for c, e in wanted.items()]  # fmt: skip
    if as_json:
        files = [{"file": r.name, "digest": r.digest, "claims": len(r.messages), "warnings": r.warnings,
                  "error": r.error} for r in results]  # fmt: skip
        typer.echo(json.dumps({"files": files, "claims": checked}))
        return
    table = Table(title=f"837 check: {len(wanted)} claim(s) in {len(results)} file(s)")
    for name in ("claim (CLM01)", "payer", "verdict", "failed", "next action"):
        table.add_column(name)
    for item in checked:
        if not item["checked"]:
            table.add_row(item.get("patient_control_number", item["claim_id"]), item.get("payer_id", "-"),
                          "pending", "-", "the engine has not checked it yet: see `denialflow auth queue`")  # fmt: skip
            continue
        failed = [f for line in item["lines"] for f in line["failed"]]
        table.add_row(item["patient_control_number"], item["payer_id"], item["verdict"],
                      ", ".join(item["sub_causes"]) or "-", "; ".join(dict.fromkeys(f["next_action"] for f in failed))
                      or "-")  # fmt: skip
    console().print(table)
    for r in results:
        for warning in r.warnings[:20]:
            typer.echo(f"warning {r.name}: {warning}", err=True)


@claims_app.command("release")
def claims_release(
    claim_id: Annotated[str, typer.Argument(help="the held claim's id (clm-...), from `auth queue`")],
    reason: Annotated[str, typer.Option(help="why it goes to the payer as it is (audit)")],
    actor: Annotated[str, typer.Option(help="the lead releasing it")],
    database_url: DbOpt = None,
    bootstrap_servers: KafkaOpt = None,
) -> None:
    """Let a held claim go to the payer as it is (a lead's decision): its units count then."""
    s = settings(database_url, bootstrap_servers, broker=True)
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        row = ps.load_claim_checks(conn, [claim_id]).get(claim_id)
    engine.dispose()
    if row is None or row.verdict != "hold":
        typer.echo(f"claim {claim_id} is {row.verdict if row else 'not checked'}: only a held claim is released",
                   err=True)  # fmt: skip
        raise typer.Exit(1)
    doc = {"event_id": f"release-{claim_id}-{row.submissions}", "type": "claim.released", "actor": actor,
           "role": "lead", "occurred_at": clock_from(s.now)().isoformat(),
           "data": {"claim_id": claim_id, "payer_id": row.payer_id, "reason": reason,
                    "member_id": (row.patient or {}).get("member_id")}}  # fmt: skip
    event = parse({**doc, "data": {k: v for k, v in doc["data"].items() if v is not None}})
    publisher = Publisher(make_producer(s), s.events_topic)
    publisher(event.key.encode(), event.model_dump_json(exclude_none=True).encode())
    publisher.confirm()
    publisher.producer.close()
    typer.echo(f"published the release of {claim_id} ({event.event_id})")


@auth_app.command("queue")
def auth_queue(
    payer: Annotated[str | None, typer.Option(help="one payer only")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    database_url: DbOpt = None,
) -> None:
    """The authorization team's queue: expired, exhausted, expiring and low authorizations and
    held claims, most urgent first (member ids masked)."""
    s = settings(database_url)
    engine = make_engine(s.database_url)
    with engine.connect() as conn:
        items = authorization_queue(conn, phi=False, payer=payer)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in items]))
        return
    table = Table(title=f"authorization queue: {len(items)} item(s)")
    for name in ("what", "payer", "auth / claim", "member", "since", "figures", "next action", "id"):
        table.add_column(name)
    for i in items:
        table.add_row(i.kind, i.payer_id, i.reference, i.member or "-", i.since.date().isoformat(), i.what,
                      i.next_action, i.subject)  # fmt: skip
    console().print(table)


@auth_app.command("show")
def auth_show(
    reference: Annotated[str, typer.Argument(help="the authorization number")],
    payer: Annotated[str, typer.Option(help="the payer it is from")],
    database_url: DbOpt = None,
) -> None:
    """One authorization: status, window, units approved, used and counted from claims, its history."""
    s = settings(database_url)
    engine = make_engine(s.database_url)
    auth_id = authorization_id_for(payer, reference)
    with engine.connect() as conn:
        row = ps.load_authorizations(conn, (), [auth_id]).get(auth_id)
        history = ps.authorization_history(conn, auth_id) if row else []
    engine.dispose()
    if row is None:
        typer.echo(f"no authorization {reference} at payer {payer}", err=True)
        raise typer.Exit(1)
    approved = "-" if row.units_approved is None else row.units_approved
    typer.echo(f"{reference} at {payer} ({row.auth_type}): {row.status}, valid {row.valid_from} to {row.valid_to}, "
               f"units approved {approved}, used {row.units_used}, counted from claims {row.units_claimed}"
               + (f", superseded by {row.superseded_by}" if row.superseded_by else ""))  # fmt: skip
    for e in history:
        typer.echo(
            f"{e['seq']:>4}  {e['occurred_at']:%Y-%m-%d %H:%M}  {e['trigger']:<12} "
            f"{e['from_state'] or '-':>10} -> {e['to_state']:<10} {e['actor']}  {e['reason'] or ''}"
        )
