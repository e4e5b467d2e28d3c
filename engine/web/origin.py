"""Cross-site request forgery, refused twice: the session cookie is SameSite=Strict, and every
state-changing request (POST, PUT, PATCH, DELETE) that a browser could send must name this
site as its Origin (or, without one, its Referer). A foreign or missing origin is a 403.

A request carrying ``Authorization: Bearer`` is exempt: it is an API client, and no page on
another site can make a browser add that header to a cross-site request (that takes a CORS
preflight this app never grants). The login form is checked like any other form.
"""

from urllib.parse import urlsplit

from fastapi import Request

from engine.web.auth import bearer_token, refuse

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def same_origin(request: Request) -> None:
    """A dependency of every route: lets reads and bearer-token calls through, refuses a
    browser's state change whose Origin (else Referer) is not this host."""
    if request.method not in STATE_CHANGING or bearer_token(request) is not None:
        return
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        refuse(request, 403, "a form or call from a browser must carry an Origin or Referer header", None)
    own = request.headers.get("host", "").lower()
    if not own or _netloc(source) != own:
        refuse(request, 403, f"refused: origin {source[:100]!r} is not this site ({own})", None)
