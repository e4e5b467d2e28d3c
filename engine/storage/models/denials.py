"""Denials and what the worker keeps beside them in the batch's transaction: the audit log,
processed event ids, denial keys, the outbox, open work, event counts, payer answers, review
items and timers."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    LargeBinary,
    UniqueConstraint,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from engine.storage.models.columns import QUERIED_JSON, SERIAL_ID, timestamp_field
from engine.storage.models.covering import covering_index

#: The dashboard's covering indexes: the open-work rows (a partial index in value order, so
#: the stuck list's top rows are its last entries) and the columns the received-in-range and
#: closed-in-range aggregates read.
OPEN_STATES = ("received", "classified", "assigned", "worked", "appealed", "resubmitted", "escalated")
OPEN_SQL = f"state IN ({', '.join(repr(state) for state in OPEN_STATES)})"
OPEN_INCLUDE = ["state", "team", "owner", "received_at", "touches", "next_action_date", "filing_deadline",
                "appeal_deadline", "retro_auth_deadline", "payer_id", "category", "site",
                "payer_profile_known"]  # fmt: skip

RECEIVED_INCLUDE = ["payer_id", "category", "owner", "site", "team", "primary_group", "primary_reason", "denied_cents",
                    "first_touch_at"]  # fmt: skip
CLOSED_INCLUDE = ["received_at", "touches", "root_cause", "payer_id", "category", "site", "team"]
#: Only closed denials: the open ones, which every touch updates, stay out of it.
CLOSED_SQL = "closed_at IS NOT NULL"
#: Which denials wait for the timer service: the partial index's predicate, which the due query repeats.
TIMER_PENDING_SQL = "timer_due_at IS NOT NULL AND timer_fired_at IS NULL"
#: What the payer-answers pass reads of `outcome_events`.
OUTCOME_INCLUDE = ["kind", "adjustment_type", "amount_cents", "payer_id", "team", "category", "site"]


class Denial(SQLModel, table=True):
    """One denied claim line and where it stands. ``patient`` holds PHI."""

    __tablename__ = "denials"
    __table_args__ = (
        Index("ix_denials_state_denied", "state", "denied_cents"),
        Index("ix_denials_team_owner", "team", "owner"),
        Index("ix_denials_payer_denied", "payer_id", "denied_cents"),
        Index("ix_denials_claim", "payer_id", "claim_control_number"),
        # what the dashboard reads (engine/read/kpis.py), answered from the index alone (covering.py)
        *covering_index("ix_denials_received", ["received_at"], RECEIVED_INCLUDE),
        *covering_index("ix_denials_closed", ["closed_at"], CLOSED_INCLUDE, CLOSED_SQL),
        *covering_index("ix_denials_open", ["denied_cents", "id"], OPEN_INCLUDE, OPEN_SQL),
        Index(
            "ix_denials_timer_due",
            "timer_due_at",
            postgresql_where=text(TIMER_PENDING_SQL),
            sqlite_where=text(TIMER_PENDING_SQL),
        ),
    )

    id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=20)
    category: str | None = Field(default=None, max_length=40)
    side: str | None = Field(default=None, max_length=20)
    team: str | None = Field(default=None, max_length=60)
    owner: str | None = Field(default=None, max_length=120)
    preventable: bool | None = None
    liability: str | None = Field(default=None, max_length=20)
    priority: str = Field(max_length=20)
    touches: int = 0
    payer_id: str = Field(max_length=80)
    payer_name: str = Field(max_length=200)
    claim_control_number: str = Field(max_length=80)
    line: int
    patient_control_number: str = Field(max_length=80)
    procedure_code: str | None = Field(default=None, max_length=60)
    site: str | None = Field(default=None, max_length=120)
    rendering_npi: str | None = Field(default=None, max_length=10)
    primary_group: str | None = Field(default=None, max_length=2)
    primary_reason: str | None = Field(default=None, max_length=5)
    carc_codes: str = Field(max_length=400)
    rarc_codes: str = Field(max_length=400)
    billed_cents: int = Field(sa_type=BigInteger)
    paid_cents: int = Field(sa_type=BigInteger)
    denied_cents: int = Field(sa_type=BigInteger)
    date_of_service: date
    remit_date: date
    received_at: datetime = timestamp_field(nullable=False)
    next_action_date: date | None = None
    last_touch_at: datetime | None = timestamp_field(nullable=True)
    first_touch_at: datetime | None = timestamp_field(nullable=True)
    resolution: str | None = Field(default=None, max_length=20)
    outcome: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    root_cause: dict[str, Any] | None = Field(default=None, sa_type=QUERIED_JSON)  # the closed pass reads "preventable"
    patient: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    auth_check: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    filing_deadline: date | None = None
    appeal_deadline: date | None = None
    retro_auth_deadline: date | None = None
    payer_profile_known: bool = Field(
        default=True, sa_column_kwargs={"server_default": true()},
        description="false: the payer had no profile in the payer file, so the deadlines are the defaults",
    )  # fmt: skip
    closed_at: datetime | None = timestamp_field(nullable=True)
    updated_at: datetime = timestamp_field(nullable=False)
    version: int = 0
    audit_seq: int = 0
    audit_head: str | None = Field(default=None, max_length=64)
    # The one escalation timer the denial waits on (engine/runtime/denial_timer.py): set by the
    # worker in the transaction of every change, fired by the timer service.
    timer_rule: str | None = Field(default=None, max_length=30)
    timer_due_at: datetime | None = timestamp_field(nullable=True)
    timer_generation: int = Field(default=0, description="moves with each new rule or moment: old fires are stale")
    timer_detail: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    timer_fired_at: datetime | None = timestamp_field(nullable=True)
    timers_fired: dict[str, str] = Field(
        default_factory=dict, sa_type=JSON, description="rule -> the moment it fired for: never re-armed for it"
    )


class AuditEntry(SQLModel, table=True):
    """One transition, append-only, chained per denial: ``hash`` covers the entry and ``prev_hash``.
    Its transition id is ``denial_id:seq`` (see `transition_id`)."""

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("denial_id", "seq", name="uq_audit_denial_seq"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    denial_id: str = Field(max_length=64)
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
    reason: str | None = Field(
        default=None, max_length=2000, description="a step's reason, which may join two texts of 500 (reason; override)"
    )
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    source_topic: str | None = Field(default=None, max_length=250)
    source_partition: int | None = None
    source_offset: int | None = Field(default=None, sa_type=BigInteger)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(max_length=64)


def transition_id(denial_id: str, seq: int) -> str:
    """The id a transition carries on the change feed: stable across re-publication."""
    return f"{denial_id}:{seq}"


class ProcessedEvent(SQLModel, table=True):
    """Idempotency record: an event id (or a topic/partition/offset for unparseable
    bytes) seen once, with what became of it. Written in the batch's transaction."""

    __tablename__ = "processed_events"

    event_id: str = Field(primary_key=True, max_length=250)
    outcome: str = Field(max_length=80)
    processed_at: datetime = timestamp_field(nullable=False)
    digest: str | None = Field(
        default=None, max_length=32, description="the event body's digest: a repeat with another body is a conflict"
    )


class DenialKey(SQLModel, table=True):
    """Denials stored before claim-line identity keep their old ids; this maps the id their
    claim line resolves to now onto the stored one, so a later remittance finds them."""

    __tablename__ = "denial_keys"

    key_id: str = Field(primary_key=True, max_length=64)
    denial_id: str = Field(max_length=64)


class OutboxBatch(SQLModel, table=True):
    """One committed batch's messages to publish (change feed and dead letters), packed in
    one row: a row per message would double the batch's database work. Deleted once every
    message is acknowledged."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    created_at: datetime = timestamp_field(nullable=False)
    messages: bytes = Field(sa_type=LargeBinary)


class OwnerWorkload(SQLModel, table=True):
    """Open denials per named owner, kept in the batch's transaction, so routing can
    balance new work without counting a million rows per batch."""

    __tablename__ = "owner_workload"

    owner: str = Field(primary_key=True, max_length=120)
    open: int = 0


class EventCount(SQLModel, table=True):
    """Running totals `/metrics` reports (events applied by type, transitions by trigger,
    processed events by outcome), added to in each batch's transaction: a scrape reads a few
    rows instead of counting the audit log."""

    __tablename__ = "event_counts"

    kind: str = Field(primary_key=True, max_length=20)  # "applied", "transition" or "outcome"
    name: str = Field(primary_key=True, max_length=120)
    n: int = Field(default=0, sa_type=BigInteger)


class OutcomeEvent(SQLModel, table=True):
    """A payer's answer to an appeal (overturned, upheld) or an approved write-off: one row per
    audit entry that records one, written with it, carrying the denial's dimensions so the
    overturn rate and the write-offs filter and sum without joining the log to the denials."""

    __tablename__ = "outcome_events"
    __table_args__ = (*covering_index("ix_outcome_events_occurred", ["occurred_at"], OUTCOME_INCLUDE),)

    denial_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True, description="the audit entry's seq")
    occurred_at: datetime = timestamp_field(nullable=False)
    kind: str = Field(max_length=20, description="overturned, upheld or written_off")
    adjustment_type: str | None = Field(default=None, max_length=40)
    amount_cents: int | None = Field(default=None, sa_type=BigInteger)
    payer_id: str = Field(max_length=80)
    team: str | None = Field(default=None, max_length=60)
    category: str | None = Field(default=None, max_length=40)
    site: str | None = Field(default=None, max_length=120)


class ReviewItem(SQLModel, table=True):
    """Something from a feed a person must look at that is not a denial's transition,
    e.g. a payment reversal that matches no denial."""

    __tablename__ = "review_items"

    id: int | None = Field(default=None, primary_key=True, sa_type=SERIAL_ID)
    kind: str = Field(max_length=40)
    event_id: str = Field(max_length=200, unique=True)
    payer_id: str = Field(max_length=80)
    claim_control_number: str = Field(max_length=80)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = timestamp_field(nullable=False)


#: Which timer rows wait to fire: the partial index's predicate, which the due query repeats.
PENDING_SQL = "active AND fired_at IS NULL"


class Timer(SQLModel, table=True):
    """One dated alert of one authorization (its subject is an ``auth-`` id; a denial's timer
    is on the denial). Scheduled, moved and cancelled in the transaction of the change that
    causes it; fired by the timer service. A moved or re-armed timer gets the next
    ``generation``, so a fire event of an older one is stale."""

    __tablename__ = "timers"
    __table_args__ = (
        Index(
            "ix_timers_pending_due",
            "due_at",
            postgresql_where=text(PENDING_SQL),
            sqlite_where=text(PENDING_SQL),
        ),
    )

    denial_id: str = Field(primary_key=True, max_length=64)
    rule: str = Field(primary_key=True, max_length=30)
    generation: int = 1
    active: bool = True
    due_at: datetime = timestamp_field(nullable=False)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    fired_at: datetime | None = timestamp_field(nullable=True)
