"""The API's reference, behind login like every other page: the OpenAPI schema and Swagger UI,
whose assets come from the installed `fastapi_offline` package (the page works offline, and the
Content-Security-Policy needs no CDN and no inline script)."""

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from engine.web.common import Reader
from engine.web.pages import templates

ASSETS = Path(fastapi_offline.__file__).parent / "static"
SHIPPED = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi(request: Request, _: Reader) -> dict[str, Any]:
    return request.app.openapi()


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request, who: Reader) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs.html", {"who": who})


@router.get("/static/docs/{name}")
def asset(name: str) -> FileResponse:
    """Only the two files the page loads; anything else is not found."""
    if name not in SHIPPED:
        raise HTTPException(404, f"no asset {name}")
    return FileResponse(ASSETS / name, media_type=SHIPPED[name], headers={"Cache-Control": "max-age=86400"})
