"""The FastAPI application: a JSON API over the shared queries; actions become events.

Reads go to the store through `engine.queries` (the same code as the CLI). Actions
(assign, touch, appeal, ...) are published to `denials.events` like any producer's
events: the API never writes denial state; the caller polls `/api/events/{id}` for
the engine's outcome.
"""

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import select

from engine import queries, store
from engine.audit import verify
from engine.clock import Clock, clock_from
from engine.config import Settings
from engine.db import make_engine
from engine.errors import NotFound, Rejected
from engine.events import Role, parse
from engine.kafka import make_producer
from engine.kpis import Filters
from engine.render import denial_json
from engine.replay import replay
from engine.web.auth import Principal, allow
from engine.web.metrics import exposition
from workflows.escalation import EscalationRules
from workflows.payers import PayerPolicies

#: Who may call what (admin always may): everyone reads, leads and auditors see the
#: supervisor views, staff and leads act, only admins scrape metrics.
Reader = Annotated[Principal, Depends(allow(Role.STAFF, Role.LEAD, Role.AUDITOR))]
Supervisor = Annotated[Principal, Depends(allow(Role.LEAD, Role.AUDITOR))]
Actor = Annotated[Principal, Depends(allow(Role.STAFF, Role.LEAD))]
Admin = Annotated[Principal, Depends(allow())]


class Action(BaseModel):
    """An event to send about one denial: its type and data, as in the event schema."""

    type: str
    data: dict[str, Any] = {}


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = FastAPI(title="denialflow", version="1", summary="Denial management: queues, escalations, audit.")
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.clock = clock or clock_from(settings.now)
    app.state.rules = EscalationRules.load(settings.escalation_file)
    app.state.producer = None

    def today(request: Request) -> date:
        return request.app.state.clock().date()

    def stored(conn: Any, denial_id: str) -> Any:
        try:
            return store.get_denial(conn, denial_id)
        except NotFound:
            raise HTTPException(404, f"no denial {denial_id}") from None

    @app.get("/api/denials/{denial_id}")
    def get_denial(denial_id: str, request: Request, _: Reader) -> dict[str, Any]:
        """One denial with its history; patient data masked."""
        with request.app.state.engine.connect() as conn:
            return denial_json(stored(conn, denial_id), store.history(conn, denial_id), today(request))

    @app.get("/api/stuck")
    def get_stuck(request: Request, _: Reader, team: str | None = None) -> list[Any]:
        """Denials that will not move without someone acting, with why, by dollars."""
        with request.app.state.engine.connect() as conn:
            items = queries.stuck(conn, today(request), request.app.state.rules, Filters(team=team))
        return [i.as_dict() for i in items]

    @app.get("/api/queue/{team}")
    def get_queue(team: str, request: Request, _: Reader) -> list[Any]:
        """A team's open work, what to do first on top."""
        with request.app.state.engine.connect() as conn:
            return [i.as_dict() for i in queries.queue(conn, team)]

    @app.get("/api/triage")
    def get_triage(request: Request, _: Reader, payer: str | None = None, limit: int = 70) -> list[Any]:
        """Open denials ranked within each payer (near deadline, then value)."""
        near = PayerPolicies.load(request.app.state.settings.payers_file).urgent_within_days
        with request.app.state.engine.connect() as conn:
            return [i.as_dict() for i in queries.triage(conn, today(request), near, payer, limit)]

    @app.get("/api/escalations")
    def get_escalations(request: Request, _: Supervisor) -> list[Any]:
        """The escalation queue by dollars: rule, figures, days waited."""
        with request.app.state.engine.connect() as conn:
            now = request.app.state.clock()
            return [i.as_dict() for i in queries.escalations(conn, now, request.app.state.rules.cycle_days)]

    @app.get("/api/reports/weekly")
    def get_weekly(request: Request, _: Supervisor, week: date | None = None, weeks: int = 4) -> dict[str, Any]:
        """DOMAIN.md's weekly numbers for the week starting ``week`` (a Monday; default this week)."""
        now = today(request)
        start = week or date.fromordinal(now.toordinal() - now.weekday())
        with request.app.state.engine.connect() as conn:
            return queries.weekly_report(conn, start, weeks)

    @app.get("/api/audit/verify")
    def get_verify(request: Request, _: Supervisor) -> dict[str, Any]:
        """Check every denial's hash chain."""
        with request.app.state.engine.connect() as conn:
            checked, broken = verify(conn)
        return {"entries": checked, "intact": broken is None, "broken": str(broken) if broken else None}

    @app.get("/api/denials/{denial_id}/replay")
    def get_replay(denial_id: str, request: Request, _: Supervisor) -> dict[str, Any]:
        """Replay one denial's log from nothing: each step, and whether it reaches the stored state."""
        with request.app.state.engine.connect() as conn:
            report = replay(stored(conn, denial_id), store.history(conn, denial_id))
        return {"denial_id": denial_id, "ok": report.ok, "steps": report.lines, "mismatches": report.mismatches}

    @app.post("/api/denials/{denial_id}/events", status_code=202)
    def post_event(denial_id: str, action: Action, request: Request, who: Actor) -> dict[str, Any]:
        """Send an event about this denial as the caller; the engine applies (or refuses) it."""
        doc = {"event_id": f"web-{uuid.uuid4().hex}", "type": action.type, "denial_id": denial_id,
               "occurred_at": request.app.state.clock().isoformat(), "actor": who.name, "role": who.role.value,
               "data": action.data}  # fmt: skip
        try:
            event = parse(doc)
        except Rejected as exc:
            raise HTTPException(422, exc.as_dict()) from None
        app_state = request.app.state
        if app_state.producer is None:
            app_state.producer = make_producer(app_state.settings)
        topic = app_state.settings.events_topic
        app_state.producer.send(topic, key=event.key.encode(), value=orjson.dumps(doc)).get(timeout=10)
        return {"event_id": doc["event_id"], "status": "published", "check": f"/api/events/{doc['event_id']}"}

    @app.get("/api/events/{event_id}")
    def get_event(event_id: str, request: Request, _: Reader) -> dict[str, Any]:
        """What the engine did with an event: pending, applied, or the rejection code."""
        with request.app.state.engine.connect() as conn:
            row = conn.execute(select(store.PROCESSED).where(store.PROCESSED.c.event_id == event_id)).first()
        if row is None:
            return {"event_id": event_id, "outcome": "pending"}
        processed: datetime = row.processed_at
        return {"event_id": event_id, "outcome": row.outcome, "processed_at": processed.isoformat()}

    @app.get("/metrics", response_class=PlainTextResponse)
    def get_metrics(request: Request, _: Admin) -> str:
        """Prometheus text format (admin token)."""
        return exposition(request.app.state.engine, request.app.state.clock())

    return app
