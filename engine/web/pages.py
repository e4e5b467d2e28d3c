"""Server-rendered pages for people: log in, the supervisors' dashboard, a denial with its
timeline and actions, and the auditor's replay, chain check and evidence pack.

Pages read through the same queries as the JSON API and the CLI, and act by publishing
events; a browser trades its token for a session (engine/web/sessions.py) whose id it holds
in an HttpOnly, SameSite=Strict cookie.
"""

import importlib.resources
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from engine.audit.chain import touched_between, verify
from engine.errors import Rejected
from engine.read import queries
from engine.read.kpis import Filters, Scope, midnight, week_of
from engine.read.render import amount, deadline_note, denial_json, dollars, moment, yes_no
from engine.web import charts, sessions
from engine.web.actions import BY_SLUG, available, form_data
from engine.web.audit_view import UNREADABLE, check_log, readable_history
from engine.web.auth import live_token
from engine.web.bounds import OptionalDay, OptionalText, PathText, QueryText, check_span
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

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
#: The fields of an outcome's records (write-off, payer answer, evidence) that hold decimal dollars.
MONEY_FIELDS = frozenset({"amount", "paid_amount"})


def shown(value: Any, field: str) -> str:
    """One field of an outcome's record as people read it: money as dollars, yes or no."""
    if field in MONEY_FIELDS:
        return amount(value)
    return yes_no(value) if isinstance(value, bool) else str(value)


templates.env.filters.update(dollars=dollars, deadline_note=deadline_note, moment=moment, yes_no=yes_no, shown=shown,
                             money=lambda v: "-" if v is None else f"${v:,.2f}")  # fmt: skip
log = structlog.get_logger("denialflow.web")
router = APIRouter(include_in_schema=False)
PLOTLY_JS = Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))
STATIC = {"app.css": "text/css", "charts.js": "text/javascript", "docs.js": "text/javascript",
          "print.js": "text/javascript"}  # fmt: skip
#: The default range: a quarter (DOMAIN.md's quarterly view), its weeks as the trend's bars.
DEFAULT_WEEKS = 13


def scope_from_query(request: Request, start: OptionalDay = None, end: OptionalDay = None,
                     payer: OptionalText = None, team: OptionalText = None, category: OptionalText = None,
                     site: OptionalText = None) -> Scope:  # fmt: skip
    """Filters and date range from the query string; blank means all, the range defaults to
    the last thirteen weeks (from a Monday) up to and including today. Dates outside the
    event schema's window, or a range of more than ten years, are refused naming the parameter."""
    end = end or today(request)
    start = start or week_of(end) - timedelta(weeks=DEFAULT_WEEKS - 1)
    check_span(start, end)
    return Scope(start, end + timedelta(days=1), Filters(payer, team, category, site))


QueryScope = Annotated[Scope, Depends(scope_from_query)]


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a login link cannot send the browser elsewhere."""
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """The pages' own stylesheet and scripts (engine/web/static), nothing else."""
    kind = STATIC.get(name)
    if kind is None:
        raise HTTPException(404, f"no static file {name}")
    return FileResponse(HERE / "static" / name, media_type=kind, headers={"Cache-Control": "max-age=3600"})


def _over_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or (request.app.state.settings.trust_forwarded_proto and forwarded == "https")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
def login(request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    """A live token starts a session; the cookie carries only the session's random id."""
    state = request.app.state
    live = live_token(state.engine, token.strip(), state.clock())
    if live is None:
        log.warning("web.refused", status=401, path="/login", method="POST", caller=None, detail="unknown token")
        return _render(request, "login.html", 401, next=_safe_next(next), error="Unknown, revoked or expired token.")
    token_id, principal = live
    hours = state.settings.session_hours
    session_id = sessions.start(state.engine, token_id, state.clock(), hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(sessions.COOKIE, session_id, httponly=True, samesite="strict", secure=_over_https(request),
                        max_age=round(hours * 3600))  # fmt: skip
    log.info("web.login", caller=principal.name, role=principal.role.value)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """Revoke this browser's session (a copy of the cookie stops working too) and drop the cookie."""
    session_id = request.cookies.get(sessions.COOKIE)
    if session_id:
        sessions.revoke(request.app.state.engine, session_id, request.app.state.clock())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, who: Reader, scope: QueryScope) -> HTMLResponse:
    now = today(request)
    choices = queries.configured(request.app.state.settings)
    data = queries.dashboard(request.app.state.engine, scope, now, request.app.state.rules, also=choices)
    trend = data["trend"]
    figures = {
        "aging": charts.aging(data["aging"]),
        "by_team": charts.open_by_team(data["open_by_owner"]),
        **{
            f"trend_{key}": charts.weekly_trend(trend[f"by_{key}"], trend["weeks"], f"New denials per week, by {key}")
            for key in ("category", "payer")
        },
        "write_offs": charts.write_offs(data["payer_answers"]["write_offs_by_reason"]),
    }
    query = {k: v for k, v in request.query_params.items() if v}
    return _render(request, "dashboard.html", who=who, data=data, figures=figures, choices=choices,
                   query=query, last_day=scope.end - timedelta(days=1))  # fmt: skip


def _denial_page(request: Request, who: Any, denial_id: str, event_id: str | None = None, status: int = 200,
                 error: Any = None) -> HTMLResponse:  # fmt: skip
    with request.app.state.engine.connect() as conn:
        # the outcome first: each read sees the latest commit, so a denial read after "applied"
        # shows the event's change (read before it, a commit between could leave the page stale)
        outcome = event_outcome(conn, event_id) if event_id else None
        denial = stored(conn, denial_id)
        entries, unreadable = readable_history(conn, denial.id)
        view = denial_json(denial, entries, today(request), phi=who.role in SEES_PHI)
    return _render(request, "denial.html", status, who=who, d=view, codes=codes_explained(denial), outcome=outcome,
                   actions=available(denial, who, request.app.state.clock()), error=error, unreadable=unreadable,
                   escalation=(denial.outcome or {}).get("escalation"))  # fmt: skip


@router.get("/denials/{denial_id}", response_class=HTMLResponse)
def denial_page(denial_id: PathText, request: Request, who: Reader, event: OptionalText = None) -> HTMLResponse:
    return _denial_page(request, who, denial_id, event)


@router.post("/denials/{denial_id}/actions/{slug}")
async def act(denial_id: PathText, slug: str, request: Request, who: Actor) -> Response:
    """A form becomes an event; the page then follows the event until the engine answers."""
    action = BY_SLUG.get(slug)
    if action is None:
        raise HTTPException(404, f"no action {slug}")
    data = form_data(action, await request.form())
    try:
        event_id = await run_in_threadpool(publish_action, request, denial_id, action.event_type, data, who)
    except Rejected as exc:
        error = {"action": action.label, **exc.as_dict()}
        return await run_in_threadpool(_denial_page, request, who, denial_id, None, 422, error)
    return RedirectResponse(f"/denials/{quote(denial_id)}?event={quote(event_id)}", status_code=303)


def verify_range(engine: Any, start: date | None, end: date | None) -> dict[str, Any]:
    """Verify every chain, or those of the denials with entries recorded in ``start``..``end``
    (inclusive, at most ten years); an entry that no longer reads breaks the check like an edited one."""
    denials = None
    if start and end:
        check_span(start, end)
        denials = touched_between(midnight(start), midnight(end + timedelta(days=1)))
    began = datetime.now()
    with engine.connect() as conn:
        try:
            checked, broken = verify(conn, denials)
            problem = str(broken) if broken else None
        except UNREADABLE as exc:
            checked, problem = 0, f"an entry no longer reads ({type(exc).__name__}): altered outside the engine"
    return {"entries": checked, "intact": problem is None, "broken": problem,
            "ms": round((datetime.now() - began).total_seconds() * 1000)}  # fmt: skip


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, who: Supervisor, start: OptionalDay = None, end: OptionalDay = None) -> HTMLResponse:
    """Chain verification for a date range (when the entries were recorded)."""
    result = verify_range(request.app.state.engine, start, end) if start and end else None
    return _render(request, "audit.html", who=who, start=start, end=end, result=result)


@router.get("/audit/denials")
def audit_lookup(denial: QueryText, _: Supervisor) -> RedirectResponse:
    """The audit page's "replay" form: a denial id (or unique prefix) to its replay page."""
    return RedirectResponse(f"/audit/denials/{quote(denial.strip(), safe='')}", status_code=303)


@router.get("/audit/denials/{denial_id}", response_class=HTMLResponse)
def audit_replay(denial_id: PathText, request: Request, who: Supervisor) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        denial = stored(conn, denial_id)
        log_check = check_log(conn, denial)
    return _render(request, "replay.html", who=who, denial=denial, log=log_check)


@router.get("/audit/denials/{denial_id}/evidence", response_class=HTMLResponse)
def evidence_printable(denial_id: PathText, request: Request, who: Supervisor) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        pack = evidence_pack(conn, denial_id, who, request.app.state.clock())
    return _render(request, "evidence.html", who=who, pack=pack)
