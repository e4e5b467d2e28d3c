"""What the JSON API and the pages share: who may do what, loading a denial, sending an
action as an event, the closure evidence pack."""

import hashlib
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, HTTPException, Request
from sqlalchemy import Connection, select

from engine.errors import NotFound
from engine.intake.events import Role, parse
from engine.read import queries
from engine.read.kpis import Filters
from engine.read.render import denial_json
from engine.runtime.kafka import make_producer
from engine.storage import store
from engine.web.audit_view import check_log
from engine.web.auth import Principal, allow
from workflows.codes import describe

#: Who may call what (admin always may): everyone reads, leads and auditors see the
#: supervisor views, staff and leads act, only admins scrape metrics.
Reader = Annotated[Principal, Depends(allow(Role.STAFF, Role.LEAD, Role.AUDITOR))]
Supervisor = Annotated[Principal, Depends(allow(Role.LEAD, Role.AUDITOR))]
Actor = Annotated[Principal, Depends(allow(Role.STAFF, Role.LEAD))]
Admin = Annotated[Principal, Depends(allow())]
Lead = Annotated[Principal, Depends(allow(Role.LEAD))]
#: Who works claims and so sees the patient; auditors and admins see it masked.
SEES_PHI = frozenset({Role.STAFF, Role.LEAD})


def today(request: Request) -> date:
    return request.app.state.clock().date()


def stored(conn: Connection, denial_id: str) -> Any:
    try:
        return store.get_denial(conn, denial_id)
    except NotFound:
        raise HTTPException(404, f"no denial {denial_id}") from None


def matching(conn: Connection, request: Request, name: str, typed: str | None) -> tuple[str, ...] | None:
    """The stored (or configured) values a typed filter names, any case or part of one; a 404
    saying it is unknown, with the known values, when it names nothing."""
    if not typed:
        return None
    matched = queries.match_filters(conn, Filters(**{name: typed}), queries.configured(request.app.state.settings))
    if name in matched.unmatched:
        raise HTTPException(404, matched.unmatched[name])
    return matched.values(name)


def publish_action(request: Request, denial_id: str, event_type: str, data: dict[str, Any], who: Principal) -> str:
    """Validate and publish an event about ``denial_id`` (the id or a unique prefix of it: the
    event names the full id; a 404 when none) as ``who``; return its event id.
    Raises `engine.errors.Rejected` naming the field and the rule when the schema refuses it."""
    with request.app.state.engine.connect() as conn:
        full_id = stored(conn, denial_id).id
    return send_event(request, event_type, data, who, denial_id=full_id)


def send_event(request: Request, event_type: str, data: dict[str, Any], who: Principal, **envelope: Any) -> str:
    """Validate and publish one event as ``who`` (keyed as its type is); return its event id.
    Raises `engine.errors.Rejected` naming the field and the rule when the schema refuses it."""
    doc = {"event_id": f"web-{uuid.uuid4().hex}", "type": event_type, **envelope,
           "occurred_at": request.app.state.clock().isoformat(), "actor": who.name, "role": who.role.value,
           "data": data}  # fmt: skip
    event = parse(doc)
    state = request.app.state
    if state.producer is None:
        state.producer = make_producer(state.settings)
    state.producer.send(state.settings.events_topic, key=event.key.encode(), value=orjson.dumps(doc)).get(timeout=10)
    return str(doc["event_id"])


def event_outcome(conn: Connection, event_id: str) -> dict[str, Any]:
    """What the engine did with an event: pending, applied, or the rejection code."""
    row = conn.execute(select(store.PROCESSED).where(store.PROCESSED.c.event_id == event_id)).first()
    if row is None:
        return {"event_id": event_id, "outcome": "pending"}
    processed: datetime = row.processed_at
    return {"event_id": event_id, "outcome": row.outcome, "processed_at": processed.isoformat()}


def codes_explained(denial: Any) -> list[dict[str, str]]:
    """Each CARC and RARC on the denial with X12's description."""
    carcs = [("CARC", c) for c in denial.carc_codes.split(",") if c]
    rarcs = [("RARC", c) for c in denial.rarc_codes.split(",") if c]
    return [{"kind": kind, "code": code, "description": describe(kind.lower(), code.split("-")[-1]) or "(unknown code)"}
            for kind, code in carcs + rarcs]  # fmt: skip


def evidence_pack(conn: Connection, denial_id: str, who: Principal, now: datetime) -> dict[str, Any]:
    """An auditor's closure evidence for one denial: the claim line, codes, root cause,
    evidence and payer answers, the whole timeline with its hashes, and the result of
    verifying the chain and replaying it, and every sign of tampering (``tampering``, each
    naming the entry's seq). ``pack_sha256`` covers everything else."""
    denial = stored(conn, denial_id)
    log = check_log(conn, denial)
    report, broken = log.report, log.broken
    view = denial_json(denial, log.entries, now.date(), phi=who.role in SEES_PHI)
    outcome = denial.outcome or {}
    pack = {
        "generated_at": now.replace(microsecond=0).isoformat(),
        "generated_by": {"name": who.name, "role": who.role.value},
        "denial": {k: v for k, v in view.items() if k != "history"},
        "codes": codes_explained(denial),
        "closure": {"state": denial.state, "resolution": denial.resolution, "root_cause": denial.root_cause,
                    "evidence": outcome.get("evidence"), "appeal": outcome.get("appeal"),
                    "resubmission": outcome.get("resubmission"), "payer_response": outcome.get("payer_response"),
                    "write_off": outcome.get("write_off"), "closed_at": view["closed_at"]},
        "timeline": view["history"],
        "chain": {"entries": log.checked, "intact": broken is None, "broken": str(broken) if broken else None},
        "replay": {"ok": report.ok, "steps": report.lines, "mismatches": report.mismatches},
        "tampering": log.findings,
    }  # fmt: skip
    pack["pack_sha256"] = hashlib.sha256(orjson.dumps(pack, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return pack
