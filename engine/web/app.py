"""The FastAPI application: a JSON API over the shared queries; actions become events.

Reads go to the store through `engine.queries` (the same code as the CLI). Actions
(assign, touch, appeal, ...) are published to `denials.events` like any producer's
events: the API never writes denial state; the caller polls `/api/events/{id}` for
the engine's outcome.
"""

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import queries, store
from engine.audit import touched_between, verify
from engine.clock import Clock, clock_from
from engine.config import Settings
from engine.db import make_engine
from engine.errors import Rejected
from engine.kpis import Filters, midnight
from engine.netcheck import broker_admin
from engine.render import denial_json
from engine.replay import replay
from engine.web.common import (
    SEES_PHI,
    Actor,
    Admin,
    Reader,
    Supervisor,
    event_outcome,
    evidence_pack,
    publish_action,
    stored,
    today,
)
from engine.web.ingests import router as ingests_router
from engine.web.metrics import exposition
from engine.web.pages import router, scope_from_query, templates
from workflows.escalation import EscalationRules
from workflows.payers import PayerPolicies

log = structlog.get_logger("denialflow.web")


class Action(BaseModel):
    """An event to send about one denial: its type and data, as in the event schema."""

    type: str
    data: dict[str, Any] = {}


async def _refused(request: Request, exc: StarletteHTTPException) -> Response:
    """API clients get JSON; a browser on a page is sent to log in (401) or shown why (403)."""
    if request.url.path.startswith(("/api/", "/metrics")) or exc.status_code not in (401, 403):
        return await http_exception_handler(request, exc)
    if exc.status_code == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return templates.TemplateResponse(request, "refused.html", {"detail": exc.detail}, status_code=403)


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = FastAPI(title="denialflow", version="1", summary="Denial management: queues, escalations, audit.")
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.clock = clock or clock_from(settings.now)
    app.state.rules = EscalationRules.load(settings.escalation_file)
    app.state.producer = None
    app.state.admin = None
    app.add_exception_handler(StarletteHTTPException, _refused)  # type: ignore[arg-type]
    app.include_router(router)
    app.include_router(ingests_router)

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, str]:
        """Liveness and database reachability, for the container's health check (no token)."""
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/api/denials/{denial_id}")
    def get_denial(denial_id: str, request: Request, who: Reader) -> dict[str, Any]:
        """One denial with its history; the patient masked for auditors and admins."""
        with request.app.state.engine.connect() as conn:
            denial = stored(conn, denial_id)
            return denial_json(denial, store.history(conn, denial_id), today(request), phi=who.role in SEES_PHI)

    @app.get("/api/dashboard")
    def get_dashboard(request: Request, _: Reader) -> dict[str, Any]:
        """The dashboard's numbers. Query: payer, team, category, site, start, end (YYYY-MM-DD)."""
        state = request.app.state
        return queries.dashboard(state.engine, scope_from_query(request), today(request), state.rules)

    @app.get("/api/stuck")
    def get_stuck(request: Request, _: Reader, team: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[Any]:  # fmt: skip
        """Denials that will not move without someone acting, with why, the most dollars first
        (``limit`` of them; the dashboard's numbers give the total)."""
        with request.app.state.engine.connect() as conn:
            items = queries.stuck(conn, today(request), request.app.state.rules, Filters(team=team), limit)
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
    def get_verify(request: Request, _: Supervisor, start: date | None = None, end: date | None = None
                   ) -> dict[str, Any]:  # fmt: skip
        """Check the hash chains: every denial's, or (``start``..``end``, inclusive) the chains of
        the denials with entries recorded in that range."""
        denials = None
        if start or end:
            if not (start and end):
                raise HTTPException(422, "give both start and end, or neither")
            denials = touched_between(midnight(start), midnight(end + timedelta(days=1)))
        with request.app.state.engine.connect() as conn:
            checked, broken = verify(conn, denials)
        return {"entries": checked, "intact": broken is None, "broken": str(broken) if broken else None}

    @app.get("/api/denials/{denial_id}/replay")
    def get_replay(denial_id: str, request: Request, _: Supervisor) -> dict[str, Any]:
        """Replay one denial's log from nothing: each step, and whether it reaches the stored state."""
        with request.app.state.engine.connect() as conn:
            report = replay(stored(conn, denial_id), store.history(conn, denial_id))
        return {"denial_id": denial_id, "ok": report.ok, "steps": report.lines, "mismatches": report.mismatches}

    @app.get("/api/denials/{denial_id}/evidence")
    def get_evidence(denial_id: str, request: Request, who: Supervisor) -> dict[str, Any]:
        """The closure evidence pack (printable at /audit/denials/{id}/evidence)."""
        with request.app.state.engine.connect() as conn:
            return evidence_pack(conn, denial_id, who, request.app.state.clock())

    @app.post("/api/denials/{denial_id}/events", status_code=202)
    def post_event(denial_id: str, action: Action, request: Request, who: Actor) -> dict[str, Any]:
        """Send an event about this denial as the caller; the engine applies (or refuses) it."""
        try:
            event_id = publish_action(request, denial_id, action.type, action.data, who)
        except Rejected as exc:
            raise HTTPException(422, exc.as_dict()) from None
        return {"event_id": event_id, "status": "published", "check": f"/api/events/{event_id}"}

    @app.get("/api/events/{event_id}")
    def get_event(event_id: str, request: Request, _: Reader) -> dict[str, Any]:
        """What the engine did with an event: pending, applied, or the rejection code."""
        with request.app.state.engine.connect() as conn:
            return event_outcome(conn, event_id)

    @app.get("/metrics", response_class=PlainTextResponse)
    def get_metrics(request: Request, _: Admin) -> str:
        """Prometheus text format (admin token)."""
        state = request.app.state
        if state.admin is None:  # a missing broker costs a scrape ~3 s, not kafka-python's 30 s bootstrap
            state.admin = broker_admin(state.settings.bootstrap_servers, request_timeout_ms=5000)
            if state.admin is None:
                log.warning("metrics.kafka_unreachable", bootstrap_servers=state.settings.bootstrap_servers)
        groups = {state.settings.group_id: state.settings.events_topic,
                  state.settings.remits_group_id: state.settings.remits_topic}  # fmt: skip
        return exposition(state.engine, state.clock(), state.admin, groups)

    return app
