"""The persisted schema (SQLModel tables). Alembic migrations are generated from it.

The hot path reads and writes these tables through their SQLAlchemy ``__table__``
in batches; the ORM classes are the single definition of the schema. Importing this
package registers every table on ``SQLModel.metadata``; the tables live by job in
`denials` (the worker's), `prevention` (authorizations, claim checks) and `operations`
(tokens, sessions, files, parked messages, heartbeats, checkpoints).
"""

from engine.storage.models.denials import (
    CLOSED_INCLUDE,
    CLOSED_SQL,
    OPEN_INCLUDE,
    OPEN_SQL,
    OPEN_STATES,
    PENDING_SQL,
    RECEIVED_INCLUDE,
    TIMER_PENDING_SQL,
    AuditEntry,
    Denial,
    DenialKey,
    EventCount,
    OutboxBatch,
    OutcomeEvent,
    OwnerWorkload,
    ProcessedEvent,
    ReviewItem,
    Timer,
    transition_id,
)
from engine.storage.models.operations import (
    ApiToken,
    AuditCheckpoint,
    EngineProcess,
    IngestFile,
    ParkedMessage,
    WebSession,
)
from engine.storage.models.prevention import Authorization, AuthorizationAlert, AuthorizationEntry, ClaimCheck

__all__ = [
    "CLOSED_INCLUDE",
    "CLOSED_SQL",
    "OPEN_INCLUDE",
    "OPEN_SQL",
    "OPEN_STATES",
    "PENDING_SQL",
    "RECEIVED_INCLUDE",
    "TIMER_PENDING_SQL",
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "Authorization",
    "AuthorizationAlert",
    "AuthorizationEntry",
    "ClaimCheck",
    "Denial",
    "DenialKey",
    "EngineProcess",
    "EventCount",
    "IngestFile",
    "OutboxBatch",
    "OutcomeEvent",
    "OwnerWorkload",
    "ParkedMessage",
    "ProcessedEvent",
    "ReviewItem",
    "Timer",
    "WebSession",
    "transition_id",
]
