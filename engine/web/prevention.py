"""The authorization team's page and API: the queue (expired, exhausted, expiring and low
authorizations, held claims) with a lead's release of a hold, and the prevention panel."""

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.errors import Rejected
from engine.read.prevention import authorization_queue, prevention, prevention_actions
from engine.read.render import masked_patient
from engine.storage import prevention_store as ps
from engine.web.bounds import OptionalText, PathText
from engine.web.common import SEES_PHI, Lead, Reader, Supervisor, send_event
from engine.web.pages import QueryScope, templates

router = APIRouter()


def _held_claim(request: Request, claim_id: str) -> Any:
    with request.app.state.engine.connect() as conn:
        row = ps.load_claim_checks(conn, [claim_id]).get(claim_id)
    if row is None:
        raise HTTPException(404, f"no checked claim {claim_id}")
    return row


def _release(request: Request, claim_id: str, reason: str, who: Any) -> str:
    """Publish a lead's release of a held claim; 409 when it is not held (any more)."""
    row = _held_claim(request, claim_id)
    if row.verdict != "hold":
        raise HTTPException(409, f"claim {claim_id} is {row.verdict}: only a held claim is released")
    data = {"claim_id": claim_id, "payer_id": row.payer_id, "reason": reason}
    if member := (row.patient or {}).get("member_id"):
        data["member_id"] = member
    return send_event(request, "claim.released", data, who)


@router.get("/api/authorizations/queue", tags=["prevention"])
def get_queue(request: Request, who: Reader, payer: OptionalText = None) -> list[dict[str, Any]]:
    """Open authorization alerts and held claims, most urgent first; member ids masked for auditors."""
    with request.app.state.engine.connect() as conn:
        return [i.as_dict() for i in authorization_queue(conn, who.role in SEES_PHI, payer)]


@router.get("/api/prevention", tags=["prevention"])
def get_prevention(request: Request, _: Supervisor, scope: QueryScope) -> dict[str, Any]:
    """Claims checked in the range, their holds by sub-cause and payer, what became of them, and the
    authorization denials that followed; the prevention actions closed denials named."""
    with request.app.state.engine.connect() as conn:
        return {**prevention(conn, scope), "actions": prevention_actions(conn, scope)}


@router.get("/api/claims/{claim_id}", tags=["prevention"])
def get_claim(claim_id: PathText, request: Request, who: Reader) -> dict[str, Any]:
    """One outgoing claim's latest check, line by line."""
    row = _held_claim(request, claim_id)
    patient = row.patient if who.role in SEES_PHI else masked_patient(row.patient)
    return {**{k: v for k, v in vars(row).items() if k not in ("patient", "usage")}, "patient": patient,
            "first_checked_at": row.first_checked_at.isoformat(), "checked_at": row.checked_at.isoformat()}  # fmt: skip


@router.post("/api/claims/{claim_id}/release", status_code=202, tags=["prevention"])
def post_release(claim_id: PathText, request: Request, who: Lead, reason: Annotated[str, Form()]) -> dict[str, Any]:
    """A lead lets a held claim go to the payer as it is; poll /api/events/{event_id} for the outcome."""
    try:
        return {"event_id": _release(request, claim_id, reason, who)}
    except Rejected as exc:
        raise HTTPException(422, exc.as_dict()) from None


@router.get("/authorizations", response_class=HTMLResponse, include_in_schema=False)
def authorizations_page(request: Request, who: Reader, scope: QueryScope, released: OptionalText = None,
                        error: OptionalText = None) -> HTMLResponse:  # fmt: skip
    with request.app.state.engine.connect() as conn:
        items = authorization_queue(conn, who.role in SEES_PHI)
        panel = prevention(conn, scope)
        actions = prevention_actions(conn, scope)
    return templates.TemplateResponse(request, "authorizations.html", {
        "who": who, "items": items, "panel": panel, "actions": actions, "released": released, "error": error,
        "start": scope.start, "end": scope.end,
    })  # fmt: skip


@router.post("/authorizations/release", include_in_schema=False)
async def release_form(request: Request, who: Lead, claim_id: Annotated[str, Form()],
                       reason: Annotated[str, Form()]) -> Response:  # fmt: skip
    try:
        event_id = await run_in_threadpool(_release, request, claim_id, reason, who)
    except Rejected as exc:
        return RedirectResponse(f"/authorizations?error={quote(exc.message)}", status_code=303)
    return RedirectResponse(f"/authorizations?released={quote(event_id)}", status_code=303)
