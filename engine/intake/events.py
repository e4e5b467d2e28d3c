"""The inbound event schema (version 1), validated in one pass from raw bytes.

Every event is an envelope (`event_id`, `type`, `denial_id`, `occurred_at`,
`actor`, `role`, `data`) whose `data` shape depends on `type`. A pydantic
discriminated union parses and validates the JSON in one call, and any failure is
translated into a `Rejected` that names the field and the rule.
"""

from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.errors import Rejected
from engine.intake.claim_identity import legacy_denial_id_for, patient_key, receipt_denial_id
from engine.intake.event_data import (
    AppealedData,
    AssignedData,
    AuthorizationAlertData,
    AuthorizationData,
    AuthorizationUpdatedData,
    AuthRecheckedData,
    ClaimReleasedData,
    ClaimSubmittedData,
    ClosedData,
    DeadlineExtendedData,
    EscalatedData,
    PaidData,
    PayerRespondedData,
    ReassignedData,
    ReceivedData,
    ReopenedData,
    ResubmittedData,
    ReversedData,
    Role,
    TimerFiredData,
    TouchedData,
    WrittenOffData,
    _Strict,
)
from engine.intake.event_fields import PRINTABLE, Ident, Moment, Text

SCHEMA_VERSION = 1


#: Event types about authorizations and outgoing claims: no denial's transition.
WITHOUT_DENIAL = frozenset({"authorization.recorded", "authorization.updated", "authorization.alert_fired",
                            "claim.submitted", "claim.released"})  # fmt: skip


class _Envelope(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Ident
    denial_id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE)] | None = None
    occurred_at: Moment
    actor: Text
    role: Role

    @property
    def key(self) -> str:
        """The Kafka key: a denial's events share one, so they stay in order on one partition."""
        return self.denial_id  # type: ignore[return-value]

    @model_validator(mode="after")
    def _denial_id_present(self) -> Self:
        if self.denial_id is None and self.type not in WITHOUT_DENIAL:  # type: ignore[attr-defined]
            raise PydanticCustomError("denial_id_missing", "denial_id is required for this event type")
        return self


class _RemitLineEnvelope(_Envelope):
    """Receipts and paid lines carry their denial id in their data; a given id must agree.

    The id is derived once the fields are valid (this replaces the envelope's presence check):
    a validator run before them made pydantic-core build the whole message as Python objects
    and validate those, a fifth of a receipt's decoding (callgrind: 238k -> 190k instructions;
    bench/throughput.py, issue 13)."""

    @model_validator(mode="after")
    def _denial_id_present(self) -> Self:
        derived = receipt_denial_id(vars(self.data))  # the validated fields, read as a raw document is
        given = self.denial_id
        if given is None:
            object.__setattr__(self, "denial_id", derived)  # frozen: set once, while validating
        elif given != derived and given != legacy_denial_id_for(self.data.payer_id, self.data.claim_control_number,
                                                                self.data.line):  # fmt: skip
            raise ValueError(f"denial_id {given!r} differs from the id derived from payer, claim and line")
        return self


class DenialReceived(_RemitLineEnvelope):
    type: Literal["denial.received"]
    data: ReceivedData


class DenialPaid(_RemitLineEnvelope):
    """A later remittance adjudicated the claim line without denying it."""

    type: Literal["denial.paid"]
    data: PaidData


class DenialReversed(_Envelope):
    """Sent keyed by the claim-level denial id (line 0): one claim's reversal is one event,
    which flags each of the claim's denials (``data.lines``) that exists."""

    type: Literal["denial.reversed"]
    data: ReversedData


class DenialAssigned(_Envelope):
    type: Literal["denial.assigned"]
    data: AssignedData


class DenialTouched(_Envelope):
    type: Literal["denial.touched"]
    data: TouchedData


class DenialAppealed(_Envelope):
    type: Literal["denial.appealed"]
    data: AppealedData


class DenialResubmitted(_Envelope):
    type: Literal["denial.resubmitted"]
    data: ResubmittedData


class DenialWrittenOff(_Envelope):
    type: Literal["denial.written_off"]
    data: WrittenOffData


class DenialPayerResponded(_Envelope):
    type: Literal["denial.payer_responded"]
    data: PayerRespondedData


class DenialEscalated(_Envelope):
    type: Literal["denial.escalated"]
    data: EscalatedData


class DenialTimerFired(_Envelope):
    type: Literal["denial.timer_fired"]
    data: TimerFiredData


class DenialDeadlineExtended(_Envelope):
    type: Literal["denial.deadline_extended"]
    data: DeadlineExtendedData


class DenialReassigned(_Envelope):
    type: Literal["denial.reassigned"]
    data: ReassignedData


class DenialClosed(_Envelope):
    type: Literal["denial.closed"]
    data: ClosedData


class DenialReopened(_Envelope):
    type: Literal["denial.reopened"]
    data: ReopenedData


class _PatientEnvelope(_Envelope):
    """Authorization and claim events: keyed by the patient at the payer (`patient_key`), so
    the checks, the units they count and the records they read stay in order."""

    @property
    def key(self) -> str:
        return patient_key(self.data.payer_id, self.data.member_id)  # type: ignore[attr-defined]


class AuthorizationRecorded(_PatientEnvelope):
    """Not a denial's transition: an authorization record, new or amended."""

    type: Literal["authorization.recorded"]
    data: AuthorizationData


class AuthorizationUpdated(_PatientEnvelope):
    type: Literal["authorization.updated"]
    data: AuthorizationUpdatedData


class AuthorizationAlertFired(_Envelope):
    """Keyed like the authorization's other events: the timer row carries the key."""

    type: Literal["authorization.alert_fired"]
    data: AuthorizationAlertData

    @property
    def key(self) -> str:
        return str(self.data.detail.get("key") or self.data.authorization_id)


class ClaimSubmitted(_PatientEnvelope):
    type: Literal["claim.submitted"]
    data: ClaimSubmittedData


class ClaimReleased(_PatientEnvelope):
    type: Literal["claim.released"]
    data: ClaimReleasedData


class DenialAuthRechecked(_Envelope):
    """Published by the worker for each open authorization denial of a patient whose
    authorization arrived after the denial; keyed by the denial, like its other events."""

    type: Literal["denial.auth_rechecked"]
    data: AuthRecheckedData


Event = Annotated[
    DenialReceived
    | DenialPaid
    | DenialAssigned
    | DenialTouched
    | DenialAppealed
    | DenialResubmitted
    | DenialWrittenOff
    | DenialPayerResponded
    | DenialEscalated
    | DenialReassigned
    | DenialClosed
    | DenialReopened
    | DenialReversed
    | DenialTimerFired
    | DenialDeadlineExtended
    | DenialAuthRechecked
    | AuthorizationRecorded
    | AuthorizationUpdated
    | AuthorizationAlertFired
    | ClaimSubmitted
    | ClaimReleased,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[str, ...] = tuple(
    m.model_fields["type"].annotation.__args__[0]
    for m in Event.__origin__.__args__  # type: ignore[attr-defined]
)
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

_CODES = {
    "json_invalid": "schema.malformed_json",
    "json_type": "schema.malformed_json",
    "union_tag_invalid": "schema.unknown_type",
    "union_tag_not_found": "schema.missing_field",
    "missing": "schema.missing_field",
    "extra_forbidden": "schema.unknown_field",
    "denial_id_missing": "schema.missing_field",
    "window": "schema.invalid_field",
    "date_window": "schema.invalid_field",
    "detail_size": "schema.invalid_field",
}


def partition_key(doc: dict[str, Any]) -> bytes:
    """The Kafka key for an event document: its denial id, derived for a receipt, so all
    of one denial's events share a partition and stay in order."""
    return parse(doc).key.encode()


def decode(raw: bytes) -> Event:
    """Parse and validate one message, or raise `Rejected` naming the first bad field."""
    try:
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise _rejection(exc) from None


def parse(obj: dict[str, Any]) -> Event:
    """Validate an already-decoded event (used by replay and the publisher CLI)."""
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise _rejection(exc) from None


def _rejection(exc: ValidationError) -> Rejected:
    err = exc.errors(include_url=False)[0]
    kind = err["type"]
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in EVENT_TYPES:  # the union's tag, not a field
        loc = loc[1:]
    if kind == "union_tag_invalid":
        loc = ["type"]
    field = ".".join(loc) or ("type" if kind == "union_tag_not_found" else None)
    if kind == "denial_id_missing":
        field = "denial_id"
    message = err["msg"].removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        given = err["ctx"].get("tag") if err.get("ctx") else None
        message = f"unknown event type {given!r}; expected one of {', '.join(EVENT_TYPES)}"
    return Rejected(_CODES.get(kind, "schema.invalid_field"), message, field)
