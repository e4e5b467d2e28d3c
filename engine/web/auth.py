"""API tokens and roles: every request names who it is, and each endpoint who may call it.

A token is random, shown once and stored only as its SHA-256. A missing or unknown
token is a 401; a known token whose role may not call the endpoint is a 403. Both
are logged with the path and the caller's name (never the token).
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, NoReturn

import structlog
from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine, delete, insert, select, update

from engine.events import Role
from engine.models import ApiToken

TOKENS = ApiToken.__table__
#: The browser's login cookie: the token itself, HttpOnly and SameSite=Strict (a form on
#: another site cannot send it, which is the pages' CSRF protection).
COOKIE = "denialflow_token"
log = structlog.get_logger("denialflow.web")


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: Engine, name: str, role: Role, now: datetime) -> str:
    """A new token for ``name``; the only time it is ever visible."""
    token = f"dfk_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        conn.execute(insert(TOKENS).values(name=name, role=role.value, token_hash=_hash(token), created_at=now))
    return token


def replace_token(engine: Engine, name: str, role: Role, now: datetime) -> str:
    """A fresh token for ``name``, dropping any earlier one (the embedded demo's logins)."""
    with engine.begin() as conn:
        conn.execute(delete(TOKENS).where(TOKENS.c.name == name))
    return create_token(engine, name, role, now)


def revoke_token(engine: Engine, name: str, now: datetime) -> bool:
    with engine.begin() as conn:
        done = conn.execute(update(TOKENS).where(TOKENS.c.name == name, TOKENS.c.revoked_at.is_(None))
                            .values(revoked_at=now))  # fmt: skip
    return bool(done.rowcount)


def list_tokens(engine: Engine) -> list[tuple[str, str, datetime, datetime | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(TOKENS.c.name, TOKENS.c.role, TOKENS.c.created_at, TOKENS.c.revoked_at)
                            .order_by(TOKENS.c.name))  # fmt: skip
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _presented(request: Request) -> str | None:
    """The token from the Authorization header (API clients) or the login cookie (browsers)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token
    return request.cookies.get(COOKIE) or None


def principal_for(engine: Engine, token: str) -> Principal | None:
    with engine.connect() as conn:
        live = (TOKENS.c.token_hash == _hash(token), TOKENS.c.revoked_at.is_(None))
        row = conn.execute(select(TOKENS.c.name, TOKENS.c.role).where(*live)).first()
    return None if row is None else Principal(row.name, Role(row.role))


def authenticate(request: Request) -> Principal:
    token = _presented(request)
    if token is None:
        _refuse(request, 401, "missing bearer token: send 'Authorization: Bearer <token>' or log in", None)
    principal = principal_for(request.app.state.engine, token)
    if principal is None:
        _refuse(request, 401, "unknown or revoked token", None)
    return principal


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only ``roles`` through (admin always)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def check(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            _refuse(request, 403, f"role {principal.role.value} may not do this; allowed: {names}", principal.name)
        return principal

    return check


def _refuse(request: Request, status: int, detail: str, who: str | None) -> NoReturn:
    log.warning("web.refused", status=status, path=request.url.path, method=request.method, caller=who, detail=detail)
    raise HTTPException(status, detail, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
