"""The shapes of an event's `data`, one per event type, and the vocabularies they use
(roles, the root-cause taxonomy). `engine.intake.events` wraps them in envelopes and decodes
them; these models know nothing of envelopes or Kafka."""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from engine.intake.claim_identity import denial_id_for, legacy_denial_id_for
from engine.intake.event_fields import (
    Code,
    Count,
    Day,
    Detail,
    Moment,
    Money,
    SignedMoney,
    Text,
    Text60,
    Text80,
    Text120,
    Text200,
)

NPI = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]


class Role(StrEnum):
    SYSTEM = "system"
    STAFF = "staff"
    LEAD = "lead"
    AUDITOR = "auditor"
    ADMIN = "admin"


class RootCauseCategory(StrEnum):
    """DOMAIN.md's root-cause taxonomy: where the process broke."""

    INTAKE_REGISTRATION = "intake_registration"
    ELIGIBILITY_VERIFICATION = "eligibility_verification"
    PRIOR_AUTHORIZATION = "prior_authorization"
    SCHEDULING = "scheduling"
    CLINICAL_DOCUMENTATION = "clinical_documentation"
    CODING = "coding"
    CHARGE_ENTRY = "charge_entry"
    CLAIM_SUBMISSION = "claim_submission"
    CREDENTIALING_ENROLLMENT = "credentialing_enrollment"
    CONTRACT_FEE_SCHEDULE = "contract_fee_schedule"
    PAYER_ERROR = "payer_error"


#: What a claim line's codes can hold: the denial's `carc_codes` and `rarc_codes` columns are
#: 400 characters of "CO-45,"-style entries (an 835's CAS segments rarely carry a dozen).
MAX_ADJUSTMENTS, MAX_REMARKS = 40, 60


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Adjustment(_Strict):
    group: Literal["CO", "PR", "OA", "PI", "CR"]
    reason: Code
    amount: SignedMoney
    quantity: Decimal | None = None


class Patient(_Strict):
    """PHI: stored, never logged, never put on the change feed."""

    name: Text | None = None
    member_id: Text | None = None
    dob: Day | None = None


class SourceFile(_Strict):
    """The 835 file a remittance event came from: its SHA-256 and the envelope warnings it
    was accepted with, so a denial's audit entry names the file and its defects."""

    digest: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    warnings: list[Text] = Field([], max_length=200)


class RemitLineData(_Strict):
    """One claim line (line 0: the whole claim) as a payer adjudicated it on a remittance.

    Identity is the practice's claim line (DOMAIN.md): payer + the provider's claim id
    (CLP01) + ``line_key`` (see `claim_line_key`); the payer's claim control number
    (CLP07) is recorded per remittance and changes when the payer re-adjudicates."""

    payer_id: Text80
    payer_name: Text200
    claim_control_number: Text80
    line: Count = Field(description="service line position in the claim; 0 = the claim level")
    line_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="the claim line's identity within the claim; derived when absent (`claim_line_key`)"
    )
    line_control: Text | None = Field(None, description="REF*6R line item control number, when the claim sent one")
    patient_control_number: Text80
    claim_status: Code | None = Field(None, description="CLP02 as the payer sent it (4 = denied)")
    procedure_code: Text60 | None = None
    modifiers: list[Code] = Field([], max_length=4)
    units: Decimal | None = Field(None, ge=0, max_digits=10)
    billed_amount: Money
    paid_amount: Money = Decimal(0)
    adjustments: list[Adjustment] = Field([], max_length=MAX_ADJUSTMENTS)
    remarks: list[Code] = Field(
        [], max_length=MAX_REMARKS, description="remark codes (RARC) sent at this line's (or the claim's) level"
    )
    related_remarks: list[Code] = Field(
        [],
        max_length=1000,
        description="remarks at the other level (the claim's, for a line; every line's, for the claim)",
    )
    date_of_service: Day
    remit_date: Day
    rendering_npi: Annotated[str, StringConstraints(pattern=r"^\d{10}$")] | None = None
    site: Text120 | None = None
    payee_id: Text | None = None
    payment_trace: Text | None = None
    patient: Patient | None = None
    source_file: SourceFile | None = None
    collides_with: Text | None = Field(
        None, description="another claim in the same file resolved to this line's identity; this one is kept apart"
    )
    after_reversal: Text | None = Field(
        None, description="the payer claim control number this adjudication corrects (reversed just before it)"
    )


class ReceivedData(RemitLineData):
    """A claim line the payer denied: at least one adjustment says why."""

    adjustments: list[Adjustment] = Field(min_length=1, max_length=MAX_ADJUSTMENTS)


class PaidData(RemitLineData):
    """A claim line a remittance adjudicated without a denial (paid, or left to the patient):
    the payer's answer for a denial of the same claim line, if there is one."""


class ReversedData(_Strict):
    """A payer took back a payment (835 claim status 22) on a claim: the engine flags the
    matching denials, or keeps the reversal for review when none matches."""

    payer_id: Text80
    claim_control_number: Text80
    patient_control_number: Text80 | None = None
    lines: list[Count] = Field(min_length=1, max_length=1000)
    line_keys: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        [], max_length=1000, description="the reversed claim lines' identities (`claim_line_key`), claim level first"
    )
    reversed_amount: SignedMoney
    payment_trace: Text | None = None
    remit_date: Day

    def denial_ids(self) -> list[str]:
        """The denials this reversal may touch: by claim line, or (logs before claim-line
        identity) by the payer's claim control number and line position."""
        if self.patient_control_number and self.line_keys:
            return [denial_id_for(self.payer_id, self.patient_control_number, k) for k in self.line_keys]
        return [legacy_denial_id_for(self.payer_id, self.claim_control_number, n) for n in self.lines]


class AssignedData(_Strict):
    owner: Text120
    next_action_date: Day | None = None


class TouchedData(_Strict):
    note: Text
    action: Text | None = Field(None, description="what was done; `retro_auth_request` is checked against its deadline")
    next_action_date: Day
    override_reason: Text | None = Field(None, description="a lead's reason to act past a payer deadline")


class AppealedData(_Strict):
    appeal_reference: Text
    level: int = Field(default=1, ge=1, le=3)
    deadline: Day | None = None
    override_reason: Text | None = None


class ResubmittedData(_Strict):
    claim_reference: Text
    override_reason: Text | None = None


class TimerFiredData(_Strict):
    """Sent by the timer service when a timer falls due; ``generation`` tells a current
    timer from one that was moved or cancelled after it was published."""

    rule: Literal["ownership", "follow_up", "aging", "filing_deadline", "appeal_deadline", "retro_auth_deadline",
                  "leadership", "soft_write_off", "deadline_past_at_receipt", "deadlines_passed"]  # fmt: skip
    generation: Count = Field(ge=1)
    due_at: Moment
    detail: Detail = {}


class DeadlineExtendedData(_Strict):
    deadline: Literal["filing", "appeal", "retro_auth"]
    until: Day
    reason: Text
    reference: Text | None = None


class WrittenOffData(_Strict):
    """At most the denial's open amount (a guard); a $0 write-off names the adjustment's reason code."""

    adjustment_type: Literal["administrative", "bad_debt", "small_balance", "timely_filing", "contractual", "charity"]
    amount: Money
    reason: Text
    reason_code: Code | None = Field(None, description="the adjustment reason code; required when amount is 0")


class PayerRespondedData(_Strict):
    outcome: Literal["paid", "overturned", "upheld"]
    paid_amount: Money | None = None
    payment_trace: Text | None = None
    icn: Text | None = None
    decision_reference: Text | None = None


class EscalatedData(_Strict):
    rule: Text
    detail: Detail = {}


class ReassignedData(_Strict):
    owner: Text120
    reason: Text
    next_action_date: Day | None = None


class RootCause(_Strict):
    category: RootCauseCategory
    handoff: Text
    preventable: bool
    prevention_owner: Text | None = None
    prevention_action: Text | None = None


class Evidence(_Strict):
    """Closure evidence; which fields are required depends on the outcome (see guards)."""

    payment_trace: Text | None = None
    icn: Text | None = None
    paid_amount: Money | None = None
    appeal_reference: Text | None = None
    decision: Text | None = None
    approver: Text | None = None
    reason: Text | None = None


class ClosedData(_Strict):
    root_cause: RootCause
    evidence: Evidence


class ReopenedData(_Strict):
    reason: Text


class AuthorizationData(_Strict):
    """A practice's authorization record; ``member_id`` is PHI."""

    payer_id: Text80
    reference: Text80
    member_id: Text80
    auth_type: Literal["prior", "concurrent", "retrospective", "referral", "step_therapy"] = "prior"
    procedure_codes: list[Code] = Field(min_length=1, max_length=60)
    diagnosis: Text200 | None = None
    rendering_npi: NPI | None = None
    location: Text120 | None = None
    units_approved: Count | None = None
    units_used: Count = 0
    obtained_on: Day
    valid_from: Day
    valid_to: Day
    supersedes: Text80 | None = Field(None, description="the reference of the record this one replaces (same payer)")

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.valid_to < self.valid_from:
            raise PydanticCustomError("window", "valid_to is before valid_from")
        if self.supersedes == self.reference:
            raise PydanticCustomError("window", "an authorization cannot supersede itself")
        return self


#: What `authorization.updated` may change on a recorded authorization.
AUTH_UPDATABLE = ("units_approved", "units_used", "valid_from", "valid_to", "procedure_codes", "rendering_npi",
                  "location")  # fmt: skip


class AuthorizationUpdatedData(_Strict):
    """A change the payer or the practice made to a recorded authorization (more units, a
    longer window); ``member_id`` routes it with the patient's other events and must match."""

    payer_id: Text80
    reference: Text80
    member_id: Text80
    units_approved: Count | None = None
    units_used: Count | None = None
    valid_from: Day | None = None
    valid_to: Day | None = None
    procedure_codes: list[Code] | None = Field(None, min_length=1, max_length=60)
    rendering_npi: NPI | None = None
    location: Text120 | None = None
    reason: Text

    @model_validator(mode="after")
    def _changes(self) -> Self:
        if not self.changes():
            raise PydanticCustomError("window", f"nothing to change: give one of {', '.join(AUTH_UPDATABLE)}")
        return self

    def changes(self) -> dict[str, object]:
        return {k: v for k in AUTH_UPDATABLE if (v := getattr(self, k)) is not None}


class AuthorizationAlertData(_Strict):
    """Sent by the timer service when an authorization's dated alert falls due (see
    `workflows.auth_lifecycle.alert_timers`); a stale generation is skipped."""

    authorization_id: Annotated[str, StringConstraints(pattern=r"^auth-[0-9a-f]{24}$")]
    rule: Literal["auth_expires_soon", "auth_expired"]
    generation: Count = Field(ge=1)
    due_at: Moment
    detail: Detail = {}


class SubmittedLineData(_Strict):
    """One service line of an outgoing claim (837 loop 2400)."""

    line: Count = Field(ge=1)
    procedure_code: Text60 | None = None
    revenue_code: Code | None = None
    modifiers: list[Code] = Field([], max_length=4)
    units: Decimal | None = Field(None, ge=0, max_digits=10)
    charge: Money
    date_of_service: Day
    rendering_npi: NPI | None = None
    line_control: Text80 | None = None
    prior_authorization: Text80 | None = None
    referral: Text80 | None = None


class ClaimSubmittedData(_Strict):
    """An outgoing claim (837P/837I) before it reaches the payer. Identity: payer, billing
    provider and the practice's claim id (CLM01); frequency 7 replaces it, 8 voids it."""

    payer_id: Text80
    payer_name: Text200 | None = None
    billing_npi: NPI | None = None
    billing_name: Text200 | None = None
    patient_control_number: Text80
    frequency: Code | None = Field(None, description="CLM05-3: 1 original, 7 replacement, 8 void")
    payer_claim_control_number: Text80 | None = None
    place_of_service: Code | None = None
    prior_authorization: Text80 | None = None
    referral: Text80 | None = None
    rendering_npi: NPI | None = None
    service_facility_npi: NPI | None = None
    service_facility_name: Text200 | None = None
    charge: Money
    patient: Patient | None = None
    lines: list[SubmittedLineData] = Field(min_length=1, max_length=1000)
    source_file: SourceFile | None = None
    kind: Literal["837P", "837I"] | None = None

    @property
    def member_id(self) -> str | None:
        return self.patient.member_id if self.patient else None


class ClaimReleasedData(_Strict):
    """A person lets a held claim go to the payer as it is; its units are counted then."""

    claim_id: Annotated[str, StringConstraints(pattern=r"^clm-[0-9a-f]{24}$")]
    payer_id: Text80
    member_id: Text80 | None = None
    reason: Text


class AuthRecheckedData(_Strict):
    """An authorization was recorded after this authorization denial: the checklist's new
    answer (`workflows.authorization.check_authorization`), computed where the record landed."""

    reference: Text80
    check: Detail
