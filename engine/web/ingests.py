"""The `/ingests` page: every 835 file read, newest first, with its warnings or why it was refused."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from engine.intake import ingest_records
from engine.web.common import Reader
from engine.web.pages import templates

router = APIRouter(include_in_schema=False)
SHOWN = 200


@router.get("/ingests", response_class=HTMLResponse)
def ingests(request: Request, who: Reader) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        rows = ingest_records.recent(conn, limit=SHOWN)
    files: list[dict[str, Any]] = [
        {**r._mapping, "codes": list(r.counts.get("warning_codes", {}).items())} for r in rows
    ]
    return templates.TemplateResponse(request, "ingests.html", {"who": who, "files": files})
