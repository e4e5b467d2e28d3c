"""The engine's own bookkeeping: API tokens and web sessions, ingested files, parked messages,
process heartbeats and signed audit checkpoints."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
)
from sqlmodel import Field, SQLModel

from engine.storage.models.columns import SERIAL_ID, timestamp_field


class ApiToken(SQLModel, table=True):
    """Who may call the web API, with which role. Only a SHA-256 of the token is kept; the
    token itself is shown once, when `denialflow tokens create` makes it."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    name: str = Field(max_length=120, unique=True)
    role: str = Field(max_length=10)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = timestamp_field(nullable=False)
    revoked_at: datetime | None = timestamp_field(nullable=True)
    expires_at: datetime | None = timestamp_field(nullable=True)


class IngestFile(SQLModel, table=True):
    """One 835 file `denialflow ingest` or the remits consumer read, by the SHA-256 of its bytes
    (the same file again updates ``last_seen_at``): what it held, the warnings it was accepted
    with, or why it was refused and kept in quarantine, and who released it for which fix."""

    __tablename__ = "ingest_files"
    __table_args__ = (Index("ix_ingest_files_last_seen", "last_seen_at"),)

    digest: str = Field(primary_key=True, max_length=64)
    file_name: str = Field(max_length=500)
    first_seen_at: datetime = timestamp_field(nullable=False)
    last_seen_at: datetime = timestamp_field(nullable=False)
    status: str = Field(max_length=10, description="accepted, refused or released")
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    warnings: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    provider_adjustments: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    error: str | None = Field(default=None, max_length=1000, description="why it was refused")
    released_by: str | None = Field(default=None, max_length=120)
    release_reason: str | None = Field(default=None, max_length=500)
    released_at: datetime | None = timestamp_field(nullable=True)
    released_as: str | None = Field(default=None, max_length=64, description="the digest of the fixed file")


class ParkedMessage(SQLModel, table=True):
    """An outbox message the broker refused for good (too large, invalid): kept with the
    reason so the relay goes on with the rows behind it, and shown in /metrics and
    `denialflow parked`. ``value`` is what was to be sent; ``size``/``sha256`` name it."""

    __tablename__ = "parked_messages"

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    parked_at: datetime = timestamp_field(nullable=False)
    outbox_id: int = Field(sa_type=BigInteger)
    topic: str = Field(max_length=250)
    key: bytes | None = Field(default=None, sa_type=LargeBinary)
    value: bytes = Field(sa_type=LargeBinary)
    headers: list[Any] = Field(default_factory=list, sa_type=JSON)
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    reason: str = Field(max_length=1000)


class EngineProcess(SQLModel, table=True):
    """A worker, relay, timer service or remits consumer's last heartbeat: its state
    (running, waiting for the database or the broker, stopped) and figures such as its lag.
    `/healthz` and `denialflow status` read it; a beat older than a few intervals is dead."""

    __tablename__ = "engine_processes"

    name: str = Field(primary_key=True, max_length=120)
    kind: str = Field(max_length=20, description="worker, relay, timers or remits")
    host: str = Field(max_length=250)
    pid: int
    started_at: datetime = timestamp_field(nullable=False)
    beat_at: datetime = timestamp_field(nullable=False)
    state: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AuditCheckpoint(SQLModel, table=True):
    """A signed checkpoint of the audit chains' heads (engine/audit/checkpoints.py). ``record`` is the
    exact JSON published to the checkpoints topic; ``seq`` is its place in the chain of
    checkpoints and the primary key, so two checkpointers racing cannot fork the chain."""

    __tablename__ = "audit_checkpoints"

    seq: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    created_at: datetime = timestamp_field(nullable=False)
    reason: str = Field(max_length=20, description="close, interval or on demand")
    key_id: str = Field(max_length=16)
    to_entry_id: int = Field(sa_type=BigInteger, description="the highest audit entry id it covers")
    denials: int
    entries: int
    sig: str = Field(max_length=64)
    record: bytes = Field(sa_type=LargeBinary)


class WebSession(SQLModel, table=True):
    """A browser's login (engine/web/sessions.py): the cookie holds a random id, this row only its
    SHA-256. Logging out revokes it, so a copied cookie stops working; it also ends at
    ``expires_at`` and with its token."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    session_hash: str = Field(max_length=64, unique=True)
    token_id: int = Field(
        sa_column=Column(SERIAL_ID, ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    created_at: datetime = timestamp_field(nullable=False)
    expires_at: datetime = timestamp_field(nullable=False)
    revoked_at: datetime | None = timestamp_field(nullable=True)
