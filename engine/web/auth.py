"""API tokens and roles: every request names who it is, and each endpoint who may call it.

Tokens are made and revoked in `engine.web.tokens`; one may carry an end
(``expires_at``). API clients send it as a bearer header; a browser trades it for a session
(engine/web/sessions.py) on the login page. A missing, unknown, revoked or expired token or
session is a 401; a known one whose role may not call the endpoint is a 403. Both are logged
with the path and the caller's name (never the token).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, NoReturn

import structlog
from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine, select

from engine.intake.event_data import Role
from engine.web.sessions import COOKIE, TOKENS, digest, holder, token_is_live

log = structlog.get_logger("denialflow.web")


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


def bearer_token(request: Request) -> str | None:
    """The token from the Authorization header (API clients; a browser logs in instead)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def live_token(engine: Engine, token: str, now: datetime) -> tuple[int, Principal] | None:
    """The stored id and holder of ``token`` if it authenticates at ``now`` (known, not revoked, not expired)."""
    with engine.connect() as conn:
        row = conn.execute(select(TOKENS.c.id, TOKENS.c.name, TOKENS.c.role)
                           .where(TOKENS.c.token_hash == digest(token), *token_is_live(now))).first()  # fmt: skip
    return None if row is None else (row.id, Principal(row.name, Role(row.role)))


def principal_for(engine: Engine, token: str, now: datetime) -> Principal | None:
    live = live_token(engine, token, now)
    return None if live is None else live[1]


def authenticate(request: Request) -> Principal:
    """The caller: a bearer token's holder, else the holder of the browser's live session."""
    state = request.app.state
    token, session_id = bearer_token(request), request.cookies.get(COOKIE)
    if token is None and not session_id:
        refuse(request, 401, "missing bearer token: send 'Authorization: Bearer <token>' or log in", None)
    if token is not None:
        principal = principal_for(state.engine, token, state.clock())
    else:
        held = holder(state.engine, session_id, state.clock())  # type: ignore[arg-type]
        principal = None if held is None else Principal(held[0], Role(held[1]))
    if principal is None:
        refuse(request, 401, "unknown, revoked or expired token or session", None)
    return principal


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only ``roles`` through (admin always)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def check(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            refuse(request, 403, f"role {principal.role.value} may not do this; allowed: {names}", principal.name)
        return principal

    return check


def refuse(request: Request, status: int, detail: str, who: str | None) -> NoReturn:
    log.warning("web.refused", status=status, path=request.url.path, method=request.method, caller=who, detail=detail)
    raise HTTPException(status, detail, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
