"""What an 835 says, as plain records: the remittance (who paid whom, when, under which
trace), its claims, their service lines, adjustments and remarks, and provider-level
adjustments. `engine.intake.x12.remit` fills them; `engine.intake.x12.denials` reads them.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Adjustment:
    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None


@dataclass(slots=True)
class ServiceLine:
    number: int  # 1-based position of the SVC within its claim
    qualifier: str
    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    units: Decimal | None
    service_date: date | None = None
    line_control: str | None = None  # REF*6R: the practice's line item control number
    billed_procedure: str | None = None  # SVC06: what the practice billed, when the payer paid another code
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Claim:
    position: int
    patient_control_number: str
    status: str
    charge: Decimal
    paid: Decimal
    claim_control_number: str
    filing_indicator: str | None = None  # CLP06, e.g. MC (Medicaid), MB (Medicare B), CI (commercial)
    facility_type: str | None = None  # CLP08, place of service or facility type
    frequency: str | None = None  # CLP09, 1 original, 7 replacement, 8 void
    patient_name: str | None = None
    member_id: str | None = None
    rendering_npi: str | None = None
    statement_date: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One PLB adjustment: money the payer moves at the provider level, outside any claim
    (positive takes money back, e.g. a recoupment; negative pays more, e.g. interest)."""

    provider_id: str  # PLB01
    fiscal_period: date | None  # PLB02
    reason: str  # first component of PLB03/05/...: WO, FB, L6, 72, ...
    reference: str | None  # second component: e.g. the claim a recoupment belongs to
    amount: Decimal


@dataclass(slots=True)
class Remittance:
    """One ST..SE transaction's header: who paid whom, when, under which trace number."""

    version: str
    control_number: str
    payment_date: date | None = None
    total_payment: Decimal | None = None  # BPR02
    trace: str | None = None
    payer_id: str | None = None
    payer_name: str | None = None
    payee_id: str | None = None
    payee_name: str | None = None
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)
