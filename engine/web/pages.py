"""Server-rendered pages for people: log in, the supervisors' dashboard, a denial with its
timeline and actions, and the auditor's replay, chain check and evidence pack.

Pages read through the same queries as the JSON API and the CLI, and act by publishing
events; a browser holds its token in an HttpOnly, SameSite=Strict cookie.
"""

import importlib.resources
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from engine import queries, store
from engine.audit import touched_between, verify
from engine.errors import Rejected
from engine.kpis import Filters, Scope, midnight, week_of
from engine.render import deadline_note, denial_json, dollars
from engine.replay import replay
from engine.web import charts
from engine.web.actions import BY_SLUG, available, form_data
from engine.web.auth import COOKIE, principal_for
from engine.web.common import (
    SEES_PHI,
    Actor,
    Reader,
    Supervisor,
    codes_explained,
    event_outcome,
    evidence_pack,
    publish_action,
    stored,
    today,
)
from workflows.classification import NEEDS_REVIEW, carc_rules
from workflows.payers import PayerPolicies
from workflows.routing import Routing

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["dollars"] = dollars
templates.env.filters["deadline_note"] = deadline_note
templates.env.filters["money"] = lambda v: "-" if v is None else f"${v:,.2f}"
log = structlog.get_logger("denialflow.web")
router = APIRouter(include_in_schema=False)
PLOTLY_JS = Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))
#: The default range: a quarter (DOMAIN.md's quarterly view), its weeks as the trend's bars.
DEFAULT_WEEKS = 13


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


def scope_from_query(request: Request) -> Scope:
    """Filters and date range from the query string; blank means all, the range defaults to
    the last thirteen weeks (from a Monday) up to and including today."""
    q = request.query_params
    now = today(request)
    end = _day(q.get("end"), "end") or now
    start = _day(q.get("start"), "start") or week_of(end) - timedelta(weeks=DEFAULT_WEEKS - 1)
    if start > end:
        raise HTTPException(422, f"start {start} is after end {end}")
    filters = Filters(*(q.get(name) or None for name in ("payer", "team", "category", "site")))
    return Scope(start, end + timedelta(days=1), filters)


def _filter_choices(request: Request) -> dict[str, list[str]]:
    settings = request.app.state.settings
    routing = Routing.load(settings.routing_file)
    categories = {r.category for r in carc_rules().values()} - {"not_a_denial"} | {NEEDS_REVIEW}
    return {
        "payer": sorted(PayerPolicies.load(settings.payers_file).payers),
        "team": sorted({r.team for r in (*routing.defaults.values(), *routing.overrides.values())}),
        "category": sorted(categories),
    }


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a login link cannot send the browser elsewhere."""
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@router.get("/static/app.css")
def stylesheet() -> FileResponse:
    return FileResponse(HERE / "static" / "app.css", media_type="text/css")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
def login(request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    principal = principal_for(request.app.state.engine, token.strip())
    if principal is None:
        log.warning("web.refused", status=401, path="/login", method="POST", caller=None, detail="unknown token")
        return _render(request, "login.html", 401, next=_safe_next(next), error="Unknown or revoked token.")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=12 * 3600)  # fmt: skip
    log.info("web.login", caller=principal.name, role=principal.role.value)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, who: Reader) -> HTMLResponse:
    scope = scope_from_query(request)
    now = today(request)
    data = queries.dashboard(request.app.state.engine, scope, now, request.app.state.rules)
    figures = {
        "aging": charts.aging(data["aging"]),
        "by_team": charts.open_by_team(data["open_by_owner"]),
        "trend_category": charts.weekly_trend(data["trend"]["by_category"], "New denials per week, by category"),
        "trend_payer": charts.weekly_trend(data["trend"]["by_payer"], "New denials per week, by payer"),
        "write_offs": charts.write_offs(data["payer_answers"]["write_offs_by_reason"]),
    }
    query = {k: v for k, v in request.query_params.items() if v}
    return _render(request, "dashboard.html", who=who, data=data, figures=figures, choices=_filter_choices(request),
                   query=query, last_day=scope.end - timedelta(days=1))  # fmt: skip


def _denial_page(request: Request, who: Any, denial_id: str, status: int = 200, error: Any = None) -> HTMLResponse:
    event_id = request.query_params.get("event")
    with request.app.state.engine.connect() as conn:
        denial = stored(conn, denial_id)
        view = denial_json(denial, store.history(conn, denial_id), today(request), phi=who.role in SEES_PHI)
        outcome = event_outcome(conn, event_id) if event_id else None
    return _render(request, "denial.html", status, who=who, d=view, codes=codes_explained(denial), outcome=outcome,
                   actions=available(denial.state, who.role.value), error=error,
                   escalation=(denial.outcome or {}).get("escalation"))  # fmt: skip


@router.get("/denials/{denial_id}", response_class=HTMLResponse)
def denial_page(denial_id: str, request: Request, who: Reader) -> HTMLResponse:
    return _denial_page(request, who, denial_id)


@router.post("/denials/{denial_id}/actions/{slug}")
async def act(denial_id: str, slug: str, request: Request, who: Actor) -> Response:
    """A form becomes an event; the page then follows the event until the engine answers."""
    action = BY_SLUG.get(slug)
    if action is None:
        raise HTTPException(404, f"no action {slug}")
    data = form_data(action, await request.form())
    try:
        event_id = await run_in_threadpool(publish_action, request, denial_id, action.event_type, data, who)
    except Rejected as exc:
        error = {"action": action.label, **exc.as_dict()}
        return await run_in_threadpool(_denial_page, request, who, denial_id, 422, error)
    return RedirectResponse(f"/denials/{quote(denial_id)}?event={quote(event_id)}", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, who: Supervisor) -> HTMLResponse:
    """Chain verification for a date range (when the entries were recorded)."""
    q = request.query_params
    start, end = _day(q.get("start"), "start"), _day(q.get("end"), "end")
    result = None
    if start and end:
        began = datetime.now()
        with request.app.state.engine.connect() as conn:
            checked, broken = verify(conn, touched_between(midnight(start), midnight(end + timedelta(days=1))))
        result = {"entries": checked, "intact": broken is None, "broken": str(broken) if broken else None,
                  "ms": round((datetime.now() - began).total_seconds() * 1000)}  # fmt: skip
    return _render(request, "audit.html", who=who, start=start, end=end, result=result)


@router.get("/audit/denials/{denial_id}", response_class=HTMLResponse)
def audit_replay(denial_id: str, request: Request, who: Supervisor) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        denial = stored(conn, denial_id)
        entries = store.history(conn, denial_id)
    report = replay(denial, entries)
    return _render(request, "replay.html", who=who, denial=denial, entries=entries, report=report)


@router.get("/audit/denials/{denial_id}/evidence", response_class=HTMLResponse)
def evidence_printable(denial_id: str, request: Request, who: Supervisor) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        pack = evidence_pack(conn, denial_id, who, request.app.state.clock())
    return _render(request, "evidence.html", who=who, pack=pack)
