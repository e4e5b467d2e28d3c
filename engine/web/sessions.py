"""Browser logins: pasting a token on the login page starts a server-side session.

The cookie holds only a random session id (HttpOnly, SameSite=Strict, Secure over HTTPS); the
database keeps its SHA-256, so neither the token nor a usable id is ever stored. A session
ends at ``expires_at`` (``DENIALFLOW_SESSION_HOURS``), when logout revokes it (a copied
cookie then stops working too) and with its token (revoked, expired or deleted).
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, insert, or_, select, update

from engine.clock import as_utc
from engine.storage.models import ApiToken, WebSession

SESSIONS = WebSession.__table__
TOKENS = ApiToken.__table__
COOKIE = "denialflow_session"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_is_live(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions under which a stored token still authenticates at ``now``."""
    return TOKENS.c.revoked_at.is_(None), or_(TOKENS.c.expires_at.is_(None), TOKENS.c.expires_at > as_utc(now))


def start(engine: Engine, token_id: int, now: datetime, hours: float) -> str:
    """A new session for the token ``token_id``; the returned id goes only into the cookie."""
    session_id = secrets.token_urlsafe(32)
    begun = as_utc(now)
    with engine.begin() as conn:
        conn.execute(insert(SESSIONS).values(session_hash=digest(session_id), token_id=token_id, created_at=begun,
                                             expires_at=begun + timedelta(hours=hours)))  # fmt: skip
    return session_id


def holder(engine: Engine, session_id: str, now: datetime) -> tuple[str, str] | None:
    """The (name, role) of the live session's token, or None."""
    s = SESSIONS.c
    stmt = (
        select(TOKENS.c.name, TOKENS.c.role)
        .join(SESSIONS, s.token_id == TOKENS.c.id)
        .where(s.session_hash == digest(session_id), s.revoked_at.is_(None), s.expires_at > as_utc(now))
        .where(*token_is_live(now))
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else (row.name, row.role)


def revoke(engine: Engine, session_id: str, now: datetime) -> bool:
    """End this session now (logout); False when it was unknown or already over."""
    with engine.begin() as conn:
        live = (SESSIONS.c.session_hash == digest(session_id), SESSIONS.c.revoked_at.is_(None))
        done = conn.execute(update(SESSIONS).where(*live).values(revoked_at=as_utc(now)))
    return bool(done.rowcount)
