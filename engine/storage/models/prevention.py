"""Prevention's tables: authorizations, their audit chains and alerts, and the pre-submission
check of each outgoing claim."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from engine.storage.models.columns import SERIAL_ID, timestamp_field


class Authorization(SQLModel, table=True):
    """A practice's authorization record (prior, concurrent, retro, referral, step therapy).
    ``member_id`` is PHI. Matched to authorization denials by payer and member."""

    __tablename__ = "authorizations"
    __table_args__ = (Index("ix_authorizations_member", "payer_id", "member_id"),)

    payer_id: str = Field(primary_key=True, max_length=80)
    reference: str = Field(primary_key=True, max_length=80)
    member_id: str = Field(max_length=80)
    auth_type: str = Field(max_length=20)
    procedure_codes: str = Field(max_length=400, description="comma separated CPT/HCPCS")
    diagnosis: str | None = Field(default=None, max_length=200)
    rendering_npi: str | None = Field(default=None, max_length=10)
    location: str | None = Field(default=None, max_length=120)
    units_approved: int | None = None
    units_used: int = 0
    obtained_on: date
    valid_from: date
    valid_to: date
    recorded_at: datetime = timestamp_field(nullable=False)
    authorization_id: str | None = Field(
        default=None, max_length=32, unique=True, description="auth-<digest of payer and reference>: its chain's id"
    )
    status: str = Field(default="active", max_length=12, sa_column_kwargs={"server_default": "active"})
    units_claimed: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                               description="units counted from the claims checked against it")  # fmt: skip
    supersedes: str | None = Field(default=None, max_length=80)
    superseded_by: str | None = Field(default=None, max_length=80)
    updated_at: datetime | None = timestamp_field(nullable=True)
    audit_seq: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    audit_head: str | None = Field(default=None, max_length=64)


class AuthorizationEntry(SQLModel, table=True):
    """One change to an authorization, append-only and hash-chained per authorization like a
    denial's audit entries (the same fields; ``trigger`` is the change, the states its status)."""

    __tablename__ = "authorization_entries"
    __table_args__ = (UniqueConstraint("authorization_id", "seq", name="uq_authorization_entries_seq"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    authorization_id: str = Field(max_length=32)
    seq: int
    event_id: str = Field(max_length=200)
    event_type: str = Field(max_length=40)
    trigger: str = Field(max_length=20)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    actor: str = Field(max_length=500)
    role: str = Field(max_length=10)
    occurred_at: datetime = timestamp_field(nullable=False)
    recorded_at: datetime = timestamp_field(nullable=False)
    reason: str | None = Field(default=None, max_length=2000)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    source_topic: str | None = Field(default=None, max_length=250)
    source_partition: int | None = None
    source_offset: int | None = Field(default=None, sa_type=BigInteger)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(max_length=64)


class AuthorizationAlert(SQLModel, table=True):
    """An item in the authorization team's queue: a condition (expires soon, units low,
    exhausted, expired) that started to hold for an authorization; resolved when it stops."""

    __tablename__ = "authorization_alerts"
    __table_args__ = (Index("ix_authorization_alerts_open", "authorization_id", "resolved_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    authorization_id: str = Field(max_length=32)
    payer_id: str = Field(max_length=80)
    reference: str = Field(max_length=80)
    condition: str = Field(max_length=20)
    raised_at: datetime = timestamp_field(nullable=False)
    resolved_at: datetime | None = timestamp_field(nullable=True)
    event_id: str = Field(max_length=200, description="the event whose processing raised it")
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class ClaimCheck(SQLModel, table=True):
    """An outgoing claim's latest pre-submission check: clear, hold (in the authorization
    queue until fixed or released), released (sent anyway) or void. ``usage`` is what it
    counts against each authorization now; ``patient`` holds PHI."""

    __tablename__ = "claim_checks"
    __table_args__ = (
        Index("ix_claim_checks_verdict", "verdict", "checked_at"),
        Index("ix_claim_checks_claim", "payer_id", "patient_control_number"),
    )

    claim_id: str = Field(primary_key=True, max_length=32)
    payer_id: str = Field(max_length=80)
    patient_control_number: str = Field(max_length=80)
    kind: str | None = Field(default=None, max_length=4)
    frequency: str | None = Field(default=None, max_length=5)
    verdict: str = Field(max_length=10)
    sub_causes: str = Field(default="", max_length=400, description="what it was (last) held for, comma separated")
    was_held: bool = Field(default=False, description="held at some check: what prevention is measured on")
    release: str | None = Field(default=None, max_length=20, description="fixed or submitted_anyway, once held")
    released_by: str | None = Field(default=None, max_length=500)
    release_reason: str | None = Field(default=None, max_length=500)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    usage: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    patient: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    submissions: int = 1
    event_id: str = Field(max_length=200)
    first_checked_at: datetime = timestamp_field(nullable=False)
    checked_at: datetime = timestamp_field(nullable=False)
