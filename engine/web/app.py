"""The FastAPI application: a JSON API over the shared queries; actions become events.

Reads go to the store through `engine.read.queries` (the same code as the CLI). Actions
(assign, touch, appeal, ...) are published to `denials.events` like any producer's
events: the API never writes denial state; the caller polls `/api/events/{id}` for
the engine's outcome.

Every response carries the security headers (engine/web/headers.py); every state change from
a browser must come from this site (engine/web/origin.py); every query parameter is bounded
(engine/web/bounds.py) and refused with a 422 naming it.
"""

from datetime import date
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.clock import Clock, clock_from
from engine.config import Settings
from engine.errors import Rejected
from engine.read import queries
from engine.read.kpis import Filters
from engine.read.render import denial_json
from engine.runtime.health import LagReader, consumer_groups, report
from engine.runtime.netcheck import broker_admin
from engine.storage import store
from engine.storage.db import make_engine
from engine.web.audit_view import check_log
from engine.web.bounds import Limit, OptionalDay, OptionalText, PathText, Weeks, refuse
from engine.web.common import (
    SEES_PHI,
    Actor,
    Admin,
    Reader,
    Supervisor,
    event_outcome,
    evidence_pack,
    matching,
    publish_action,
    stored,
    today,
)
from engine.web.docs import router as docs_router
from engine.web.headers import HEADERS, SecurityHeaders
from engine.web.ingests import router as ingests_router
from engine.web.metrics import exposition
from engine.web.origin import same_origin
from engine.web.pages import QueryScope, router, templates, verify_range
from engine.web.prevention import router as prevention_router
from workflows.escalation import EscalationRules
from workflows.payers import PayerPolicies

log = structlog.get_logger("denialflow.web")


class Action(BaseModel):
    """An event to send about one denial: its type and data, as in the event schema."""

    type: str
    data: dict[str, Any] = {}


def _for_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/metrics", "/openapi.json"))


#: What an error page is titled, by status (any other is "Refused").
TITLES = {404: "Not found", 405: "Not allowed here", 500: "Something went wrong"}


def _error_page(request: Request, status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    title = TITLES.get(status, "Refused")
    return templates.TemplateResponse(request, "refused.html", {"title": title, "detail": detail}, status_code=status,
                                      headers=headers)  # fmt: skip


async def _refused(request: Request, exc: StarletteHTTPException) -> Response:
    """API clients get JSON; a browser on a page is sent to log in (401) or shown a page saying
    why (403, 404, 405, 422, ...), never FastAPI's raw JSON."""
    if _for_api(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return _error_page(request, exc.status_code, exc.detail, exc.headers)


async def _failed(request: Request, exc: Exception) -> Response:
    """An unexpected error: a 500 as JSON for API clients, as a page for a browser (the server
    logs the traceback). It is answered outside the middleware, so it carries the security
    headers itself."""
    log.error("web.failed", path=request.url.path, method=request.method, error=type(exc).__name__)
    detail = "the server failed to answer this request; the error is logged for the administrator"
    if _for_api(request):
        return JSONResponse({"detail": detail}, 500, headers=HEADERS)
    return _error_page(request, 500, detail, HEADERS)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    """A refused parameter: FastAPI's JSON (``loc`` names it, ``msg`` the rule) for API clients,
    the same words on a page for a browser."""
    if _for_api(request):
        return await request_validation_exception_handler(request, exc)
    return _error_page(request, 422, "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()))


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = FastAPI(title="denialflow", version="1", summary="Denial management: queues, escalations, audit.",
                  docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(same_origin)])  # fmt: skip
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.clock = clock or clock_from(settings.now)
    app.state.rules = EscalationRules.load(settings.escalation_file)
    app.state.producer = None
    app.state.admin = None
    app.add_exception_handler(StarletteHTTPException, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _failed)
    app.include_router(router)
    app.include_router(ingests_router)
    app.include_router(prevention_router)
    app.include_router(docs_router)

    app.state.lag = LagReader(settings.bootstrap_servers)

    @app.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        """Each engine process alive or not, consumer lag, the outbox's backlog, parked messages
        (`engine.runtime.health`): 200 when every expected process is alive, 503 when one is not or the
        database does not answer. No token (the container's health check), no PHI, no secrets."""
        state = request.app.state
        lag = state.lag.read(consumer_groups(state.settings))
        try:
            with state.engine.connect() as conn:
                health = report(conn, state.settings, state.clock(), lag)
        except SQLAlchemyError as exc:
            log.warning("healthz.database_unreachable", error=type(exc).__name__)
            return JSONResponse({"status": "unhealthy", "problems": ["the database does not answer"]}, 503)
        return JSONResponse(health.as_dict(), 200 if health.ok else 503)

    @app.get("/api/denials/{denial_id}")
    def get_denial(denial_id: PathText, request: Request, who: Reader) -> dict[str, Any]:
        """One denial with its history; the patient masked for auditors and admins."""
        with request.app.state.engine.connect() as conn:
            denial = stored(conn, denial_id)
            return denial_json(denial, store.history(conn, denial.id), today(request), phi=who.role in SEES_PHI)

    @app.get("/api/dashboard")
    def get_dashboard(request: Request, _: Reader, scope: QueryScope) -> dict[str, Any]:
        """The dashboard's numbers. Query: payer, team, category, site, start, end (YYYY-MM-DD,
        1900-01-01..2100-12-31, at most 520 weeks apart)."""
        state = request.app.state
        also = queries.configured(state.settings)
        return queries.dashboard(state.engine, scope, today(request), state.rules, also=also)

    @app.get("/api/stuck")
    def get_stuck(request: Request, _: Reader, team: OptionalText = None, limit: Limit = 100) -> list[Any]:
        """Denials that will not move without someone acting, with why, the most dollars first
        (``limit`` of them; the dashboard's numbers give the total). ``team``: any case or part of
        one; a 404 names a team that matches none."""
        with request.app.state.engine.connect() as conn:
            teams = matching(conn, request, "team", team)
            items = queries.stuck(conn, today(request), request.app.state.rules, Filters(team=teams), limit)
        return [i.as_dict() for i in items]

    @app.get("/api/queue/{team}")
    def get_queue(team: PathText, request: Request, _: Reader) -> list[Any]:
        """A team's open work, what to do first on top (``team`` as in /api/stuck)."""
        with request.app.state.engine.connect() as conn:
            return [i.as_dict() for i in queries.queue(conn, matching(conn, request, "team", team) or (team,))]

    @app.get("/api/triage")
    def get_triage(request: Request, _: Reader, payer: OptionalText = None, limit: Limit = 70) -> list[Any]:
        """Open denials ranked within each payer (near deadline, then value); ``payer``: any
        case or part of one, a 404 naming a payer that matches none."""
        near = PayerPolicies.load(request.app.state.settings.payers_file).urgent_within_days
        with request.app.state.engine.connect() as conn:
            payers = matching(conn, request, "payer", payer)
            return [i.as_dict() for i in queries.triage(conn, today(request), near, payers, limit)]

    @app.get("/api/escalations")
    def get_escalations(request: Request, _: Supervisor) -> list[Any]:
        """The escalation queue by dollars: rule, figures, days waited."""
        with request.app.state.engine.connect() as conn:
            rules = request.app.state.rules
            items = queries.escalations(conn, request.app.state.clock(), rules.cycle_days, rules.deadline_lead_days)
            return [i.as_dict() for i in items]

    @app.get("/api/reports/weekly")
    def get_weekly(request: Request, _: Supervisor, week: OptionalDay = None, weeks: Weeks = 4) -> dict[str, Any]:
        """DOMAIN.md's weekly numbers for the week of ``week`` (default this week), with the trend
        over the ``weeks`` (1..520) before it."""
        now = today(request)
        start = week or date.fromordinal(now.toordinal() - now.weekday())
        with request.app.state.engine.connect() as conn:
            return queries.weekly_report(conn, start, weeks)

    @app.get("/api/audit/verify")
    def get_verify(request: Request, _: Supervisor, start: OptionalDay = None, end: OptionalDay = None
                   ) -> dict[str, Any]:  # fmt: skip
        """Check the hash chains: every denial's, or (``start``..``end``, inclusive, at most 520
        weeks) the chains of the denials with entries recorded in that range."""
        if bool(start) != bool(end):
            raise refuse("end" if start else "start", "give both start and end, or neither", start or end)
        result = verify_range(request.app.state.engine, start, end)
        return {k: result[k] for k in ("entries", "intact", "broken")}

    @app.get("/api/denials/{denial_id}/replay")
    def get_replay(denial_id: PathText, request: Request, _: Supervisor) -> dict[str, Any]:
        """Replay one denial's log from nothing: each step, whether it reaches the stored state,
        and every sign of tampering (an entry that no longer reads or parses, a broken chain)."""
        with request.app.state.engine.connect() as conn:
            denial = stored(conn, denial_id)
            log_check = check_log(conn, denial)
        report = log_check.report
        return {"denial_id": denial.id, "ok": report.ok and not log_check.tampered, "steps": report.lines,
                "mismatches": report.mismatches, "tampering": log_check.findings}  # fmt: skip

    @app.get("/api/denials/{denial_id}/evidence")
    def get_evidence(denial_id: PathText, request: Request, who: Supervisor) -> dict[str, Any]:
        """The closure evidence pack (printable at /audit/denials/{id}/evidence)."""
        with request.app.state.engine.connect() as conn:
            return evidence_pack(conn, denial_id, who, request.app.state.clock())

    @app.post("/api/denials/{denial_id}/events", status_code=202)
    def post_event(denial_id: PathText, action: Action, request: Request, who: Actor) -> dict[str, Any]:
        """Send an event about this denial as the caller; the engine applies (or refuses) it."""
        try:
            event_id = publish_action(request, denial_id, action.type, action.data, who)
        except Rejected as exc:
            raise HTTPException(422, exc.as_dict()) from None
        return {"event_id": event_id, "status": "published", "check": f"/api/events/{event_id}"}

    @app.get("/api/events/{event_id}")
    def get_event(event_id: PathText, request: Request, _: Reader) -> dict[str, Any]:
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
