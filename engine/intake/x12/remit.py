"""Read 835 transactions into claims, checking the envelope as it goes.

The 835's loops are shallow (header, payer/payee, then LX > CLP > SVC > PLB), so a
loop reader keyed on segment ids is enough. It yields each claim with its
remittance's context as soon as the claim ends. Damage that makes the claim data
uncertain (a transaction cut short, a claim without its amounts, a bad amount or
date, a CAS outside a claim) raises `X12Error`, so a caller that spools what it gets
and publishes only after the generator finishes publishes nothing from such a file.
Envelope bookkeeping that leaves the claims intact (SE/GE/IEA counts and control
numbers, ISA padding, missing GE/IEA after the last SE) and a BPR02 that does not
balance are `X12Warning`s on the `ReadReport`.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from engine.intake.x12.claims import Adjustment, Claim, ProviderAdjustment, Remittance, ServiceLine
from engine.intake.x12.elements import composite, money, need, quantity, x12_date
from engine.intake.x12.envelope import MAX_KEPT, Kind, Report, check_se, read_envelopes
from engine.intake.x12.tokens import Segment, Source, X12Error

_CLAIM_END = {"CLP", "LX", "PLB"}
_SERVICE_DATES = {"472", "150"}
_CLAIM_DATES = {"232", "050"}
PRODUCTION_DATE = "405"
_GUIDES = ("005010X221", "004010X091")
BARE_GUIDE = "005010X221A1"  # transactions without an envelope name no guide: read as 5010
REMITTANCE = Kind("835", "HP")
T = TypeVar("T")


@dataclass(slots=True)
class ReadReport(Report):
    """What a read found outside the claims: `Report`'s warnings and transaction count, and
    the transactions with provider adjustments (PLB), the first `MAX_KEPT` kept in memory."""

    adjusted: list[Remittance] = field(default_factory=list)
    provider_adjustments: int = 0


def _adjustments(seg: Segment) -> list[Adjustment]:
    group = need(seg, 1, "claim adjustment group code")
    if group not in {"CO", "PR", "OA", "PI", "CR"}:
        raise X12Error(seg.position, f"CAS01 {group!r} is not a claim adjustment group code (CO, PR, OA, PI, CR)")
    out = []
    for i in (2, 5, 8, 11, 14, 17):
        reason = seg.get(i)
        if not reason:
            if seg.get(i + 1):
                raise X12Error(seg.position, f"CAS{i + 1:02d} has an amount but CAS{i:02d} has no reason code")
            continue
        if not reason.isalnum() or len(reason) > 5:
            raise X12Error(seg.position, f"CAS{i:02d} {reason!r} is not a reason code")
        out.append(Adjustment(group, reason, money(seg, i + 1), quantity(seg, i + 2)))
    if not out:
        raise X12Error(seg.position, "CAS has no reason code")
    return out


def _service_line(seg: Segment, number: int, report: ReadReport) -> ServiceLine:
    procedure = composite(seg, 1, report.add)
    if len(procedure) < 2 or not procedure[1]:
        sep = seg.separators.component
        raise X12Error(
            seg.position, f"SVC01 {seg.get(1)!r} is not a qualifier and procedure code separated by {sep!r} (ISA16)"
        )
    billed = composite(seg, 6, report.add) if seg.get(6) else []
    return ServiceLine(
        number=number,
        qualifier=procedure[0],
        procedure=procedure[1],
        modifiers=tuple(m for m in procedure[2:6] if m),
        charge=money(seg, 2),
        paid=money(seg, 3),
        units=quantity(seg, 5),
        billed_procedure=billed[1] if len(billed) > 1 and billed[1] else None,
    )


def _claim(seg: Segment) -> Claim:
    status = need(seg, 2, "claim status code")
    return Claim(
        position=seg.position,
        patient_control_number=need(seg, 1, "patient control number"),
        status=status,
        charge=money(seg, 3),
        paid=money(seg, 4),
        claim_control_number=seg.get(7) or "",
        filing_indicator=seg.get(6) or None,
        facility_type=seg.get(8) or None,
        frequency=seg.get(9) or None,
    )


def _provider_adjustments(seg: Segment) -> list[ProviderAdjustment]:
    provider = need(seg, 1, "provider identifier")
    period = x12_date(seg, 2) if seg.get(2) else None
    out = []
    for i in range(3, 15, 2):
        reason, *rest = seg.components(i)
        if not reason:
            if seg.get(i + 1):
                raise X12Error(seg.position, f"PLB{i + 1:02d} has an amount but PLB{i:02d} has no reason code")
            continue
        reference = rest[0] if rest and rest[0] else None
        out.append(ProviderAdjustment(provider, period, reason, reference, money(seg, i + 1)))
    if not out:
        raise X12Error(seg.position, "PLB has no adjustment (PLB03 and PLB04)")
    return out


class _Transaction:
    """Builds one ST..SE transaction's remittance and claims."""

    def __init__(self, st: Segment, version: str, report: ReadReport) -> None:
        if st.get(1) != "835":
            raise X12Error(st.position, f"transaction set {st.get(1)!r} is not an 835 remittance advice")
        self.st = st
        self.remit = Remittance(version=version, control_number=need(st, 2, "transaction set control number"))
        self.count = 1
        self.claim: Claim | None = None
        self.line: ServiceLine | None = None
        self.party: str | None = None
        self.report = report
        self.bpr: Segment | None = None
        self.claims_paid = Decimal("0.00")

    def add(self, seg: Segment) -> Claim | None:
        """Take the next segment; return a claim when this segment ended it."""
        self.count += 1
        sid = seg.id
        finished = None
        if sid in _CLAIM_END and self.claim is not None:
            finished, self.claim, self.line = self.claim, None, None
        remit, claim, line = self.remit, self.claim, self.line
        if sid == "BPR":
            self.bpr = seg
            remit.total_payment = self._total_payment(seg)
            remit.payment_date = self._payment_date(seg)
        elif sid == "TRN":
            remit.trace = seg.get(2) or None
        elif sid == "N1" and claim is None:
            self.party = seg.get(1)
            if self.party == "PR":
                remit.payer_name, remit.payer_id = seg.get(2) or None, seg.get(4) or remit.payer_id
            elif self.party == "PE":
                remit.payee_name, remit.payee_id = seg.get(2) or None, seg.get(4) or None
        elif sid == "REF" and claim is None and self.party == "PR" and seg.get(1) == "2U":
            remit.payer_id = remit.payer_id or seg.get(2) or None
        elif sid == "CLP":
            self.claim = _claim(seg)
            self.claims_paid += self.claim.paid
        elif sid == "PLB":
            remit.provider_adjustments.extend(_provider_adjustments(seg))
        elif claim is None:
            if sid in {"SVC", "CAS", "NM1", "MIA", "MOA", "LQ"}:
                raise X12Error(seg.position, f"{sid} outside a claim (no CLP before it)")
            if sid == "DTM" and seg.get(1) == PRODUCTION_DATE and remit.payment_date is None:
                remit.payment_date = x12_date(seg, 2)  # no usable BPR16: the remittance's production date
        elif sid == "SVC":
            self.line = _service_line(seg, len(claim.lines) + 1, self.report)
            claim.lines.append(self.line)
        elif sid == "CAS":
            (line.adjustments if line else claim.adjustments).extend(_adjustments(seg))
        elif sid == "REF" and line is not None and seg.get(1) == "6R":
            line.line_control = seg.get(2) or None
        elif sid == "LQ" and line is not None and seg.get(1) == "HE":
            line.remarks.append(need(seg, 2, "remark code"))
        elif sid == "REF" and line is not None and seg.get(1) == "6R":
            line.line_control = seg.get(2) or None
        elif sid == "DTM":
            qualifier = seg.get(1)
            if line is not None and qualifier in _SERVICE_DATES:
                line.service_date = x12_date(seg, 2)
            elif line is None and qualifier in _CLAIM_DATES:
                claim.statement_date = claim.statement_date or x12_date(seg, 2)
        elif sid == "NM1" and line is None:
            if seg.get(1) == "QC":
                claim.patient_name = " ".join(p for p in (seg.get(4), seg.get(3)) if p) or None
                claim.member_id = seg.get(9) or claim.member_id
            elif seg.get(1) == "IL":
                claim.member_id = seg.get(9) or claim.member_id
            elif seg.get(1) == "82" and seg.get(8) == "XX":
                claim.rendering_npi = seg.get(9) or None
        elif sid == "MOA" and line is None:
            claim.remarks.extend(c for c in (seg.get(i) for i in range(3, 8)) if c)
        elif sid == "MIA" and line is None:
            claim.remarks.extend(c for c in (seg.get(i) for i in (5, 20, 21, 22, 23, 24)) if c)
        return finished

    def _payment_date(self, bpr: Segment) -> date | None:
        """BPR16, the payment's effective date; one that is not a date leaves the claims intact:
        a warning, and the production date (DTM*405) stands in."""
        if not bpr.get(16):
            return None
        return self._tolerated(
            lambda: x12_date(bpr, 16), bpr, "header.bpr16_date", "the production date (DTM*405) is used"
        )

    def _total_payment(self, bpr: Segment) -> Decimal | None:
        """BPR02, which only the balance check reads: unreadable, it is a warning, not a refusal."""
        return self._tolerated(lambda: money(bpr, 2), bpr, "balance.bpr02", "the payment cannot be balanced")

    def _tolerated(self, read: Callable[[], T], seg: Segment, code: str, consequence: str) -> T | None:
        """A header value the claims do not depend on: unreadable, it is a warning and None."""
        try:
            return read()
        except X12Error as exc:
            self.report.warn(code, seg.position, f"{exc.problem}: {consequence}")
            return None

    def close(self, se: Segment) -> Claim | None:
        """End the transaction at its SE: check its count, control number and balance; return
        the claim the SE ended, if one was open."""
        report = self.report
        check_se(se, self.count + 1, self.remit.control_number, report)
        self._balance()
        if self.remit.provider_adjustments:
            report.provider_adjustments += len(self.remit.provider_adjustments)
            if len(report.adjusted) < MAX_KEPT:
                report.adjusted.append(self.remit)
        last, self.claim, self.line = self.claim, None, None
        return last

    def _balance(self) -> None:
        """BPR02 (what the payer paid) = the claims' payments (CLP04) less the provider adjustments (PLB)."""
        total = self.remit.total_payment
        if self.bpr is None or total is None:
            return
        plb = sum((a.amount for a in self.remit.provider_adjustments), Decimal("0.00"))
        expected = self.claims_paid - plb
        if total != expected:
            self.report.warn("balance.bpr02", self.bpr.position,
                        f"BPR02 total payment {total} does not equal the claims' payments (CLP04) {self.claims_paid} "
                        f"less the provider adjustments (PLB) {plb} = {expected}")  # fmt: skip


def read_835(stream: Source, report: ReadReport | None = None) -> Iterator[tuple[Remittance, Claim]]:
    """Every claim in the file with its remittance; raises `X12Error` on damage that makes the
    claim data uncertain, and notes what it accepts the file with on ``report``."""
    report = ReadReport() if report is None else report

    def open_transaction(st: Segment, gs: Segment | None, isa: Segment | None) -> _Transaction:
        version = _version(gs, isa, report) if gs is not None and isa is not None else BARE_GUIDE
        return _Transaction(st, version, report)

    for tx, claim in read_envelopes(stream, REMITTANCE, open_transaction, report):
        yield tx.remit, claim  # type: ignore[attr-defined]


def _version(gs: Segment, isa: Segment, report: ReadReport) -> str:
    """The 835's implementation guide: GS08, or, where a file abbreviates (``5010``) or masks it
    (de-identified files), the release ISA12 names (5010 when that is masked too), warned.
    GS01 ``HP`` and ST01 ``835`` already say what the transaction is."""
    version = gs.get(8)
    if version.startswith(_GUIDES):
        return version
    named = version[:4] if version[:4].isdigit() else isa.get(12)[1:5]
    release = next((guide for guide in _GUIDES if guide[2:6] == named), _GUIDES[0])
    report.warn("envelope.gs08_version", gs.position, f"GS08 {version!r} is not an 835 guide: read as {release}")
    return release
