"""API tokens in the store: made, replaced, revoked and listed (the CLI and the embedded demo).

Apart from `engine.web.auth`, which checks them on each request, so a command that only
manages tokens does not load the web framework. A token is random, shown once and stored
only as its SHA-256.
"""

import secrets
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from engine.clock import as_utc
from engine.intake.event_data import Role
from engine.web.sessions import SESSIONS, TOKENS, digest


def create_token(engine: Engine, name: str, role: Role, now: datetime, expires_at: datetime | None = None) -> str:
    """A new token for ``name`` (ending at ``expires_at``, if given); the only time it is ever visible."""
    token = f"dfk_{secrets.token_urlsafe(32)}"
    ends = as_utc(expires_at) if expires_at else None
    with engine.begin() as conn:
        conn.execute(insert(TOKENS).values(name=name, role=role.value, token_hash=digest(token), created_at=now,
                                           expires_at=ends))  # fmt: skip
    return token


def replace_token(engine: Engine, name: str, role: Role, now: datetime) -> str:
    """A fresh token for ``name``, dropping any earlier one (the embedded demo's logins)."""
    with engine.begin() as conn:  # its sessions go too, even where SQLite does not enforce the cascade
        dropped = select(TOKENS.c.id).where(TOKENS.c.name == name).scalar_subquery()
        conn.execute(delete(SESSIONS).where(SESSIONS.c.token_id == dropped))
        conn.execute(delete(TOKENS).where(TOKENS.c.name == name))
    return create_token(engine, name, role, now)


def revoke_token(engine: Engine, name: str, now: datetime) -> bool:
    with engine.begin() as conn:
        done = conn.execute(update(TOKENS).where(TOKENS.c.name == name, TOKENS.c.revoked_at.is_(None))
                            .values(revoked_at=now))  # fmt: skip
    return bool(done.rowcount)


def list_tokens(engine: Engine) -> list[tuple[str, str, datetime, datetime | None, datetime | None]]:
    t = TOKENS.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.name, t.role, t.created_at, t.revoked_at, t.expires_at).order_by(t.name))
        return [tuple(r) for r in rows]  # type: ignore[misc]
