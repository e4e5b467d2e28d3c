"""Read 835 transactions into claims, checking the envelope as it goes.

The 835's loops are shallow (header, payer/payee, then LX > CLP > SVC), so a loop
reader keyed on segment ids is enough. It yields each claim with its remittance's
context as soon as the claim ends, and checks every envelope count and control
number (SE/GE/IEA) on the way, so a caller that spools what it gets and publishes
only after the generator finishes publishes nothing from a broken file.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from engine.x12.tokens import Segment, X12Error, segments

SUPPORTED_VERSIONS = ("00501", "00401")
_CLAIM_END = {"CLP", "LX", "PLB"}
_SERVICE_DATES = {"472", "150"}
_CLAIM_DATES = {"232", "050"}


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
    patient_name: str | None = None
    member_id: str | None = None
    rendering_npi: str | None = None
    statement_date: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)


@dataclass(slots=True)
class Remittance:
    """One ST..SE transaction's header: who paid whom, when, under which trace number."""

    version: str
    control_number: str
    payment_date: date | None = None
    trace: str | None = None
    payer_id: str | None = None
    payer_name: str | None = None
    payee_id: str | None = None
    payee_name: str | None = None


def money(seg: Segment, index: int, required: bool = True) -> Decimal:
    raw = seg.get(index)
    if not raw and not required:
        return Decimal(0)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or abs(value) >= 10**12:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not an amount")
    cents = value.quantize(Decimal("0.01"))
    if cents != value:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} has fractions of a cent")
    return cents


def quantity(seg: Segment, index: int) -> Decimal | None:
    raw = seg.get(index)
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not a number") from None
    if not value.is_finite():
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not a number")
    return value


def x12_date(seg: Segment, index: int) -> date:
    raw = seg.get(index)
    if len(raw) == 6 and raw.isdigit():  # 4010 YYMMDD in a few segments
        raw = ("20" if raw < "50" else "19") + raw
    try:
        if len(raw) != 8 or not raw.isdigit():
            raise ValueError
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not a date (CCYYMMDD)") from None


def need(seg: Segment, index: int, what: str) -> str:
    value = seg.get(index)
    if not value:
        raise X12Error(seg.position, f"{seg.id}{index:02d} ({what}) is missing")
    return value


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


def _service_line(seg: Segment, number: int) -> ServiceLine:
    composite = seg.components(1)
    if len(composite) < 2 or not composite[1]:
        sep = seg.separators.component
        raise X12Error(
            seg.position, f"SVC01 {seg.get(1)!r} is not a qualifier and procedure code separated by {sep!r} (ISA16)"
        )
    return ServiceLine(
        number=number,
        qualifier=composite[0],
        procedure=composite[1],
        modifiers=tuple(m for m in composite[2:6] if m),
        charge=money(seg, 2),
        paid=money(seg, 3),
        units=quantity(seg, 5),
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
    )


class _Transaction:
    """Builds one ST..SE transaction's remittance and claims."""

    def __init__(self, st: Segment, version: str) -> None:
        if st.get(1) != "835":
            raise X12Error(st.position, f"transaction set {st.get(1)!r} is not an 835 remittance advice")
        self.st = st
        self.remit = Remittance(version=version, control_number=need(st, 2, "transaction set control number"))
        self.count = 1
        self.claim: Claim | None = None
        self.line: ServiceLine | None = None
        self.party: str | None = None

    def add(self, seg: Segment) -> Claim | None:
        """Take the next segment; return a claim when this segment ended it."""
        self.count += 1
        sid = seg.id
        finished = None
        if sid in _CLAIM_END and self.claim is not None:
            finished, self.claim, self.line = self.claim, None, None
        remit, claim, line = self.remit, self.claim, self.line
        if sid == "BPR":
            remit.payment_date = x12_date(seg, 16) if seg.get(16) else None
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
        elif claim is None:
            if sid in {"SVC", "CAS", "NM1", "MIA", "MOA", "LQ"}:
                raise X12Error(seg.position, f"{sid} outside a claim (no CLP before it)")
        elif sid == "SVC":
            self.line = _service_line(seg, len(claim.lines) + 1)
            claim.lines.append(self.line)
        elif sid == "CAS":
            (line.adjustments if line else claim.adjustments).extend(_adjustments(seg))
        elif sid == "LQ" and line is not None and seg.get(1) == "HE":
            line.remarks.append(need(seg, 2, "remark code"))
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

    def close(self, se: Segment) -> Claim | None:
        """End the transaction at its SE: check its count and control number; return the claim
        the SE ended, if one was open."""
        counted = self.count + 1
        declared = se.get(1)
        if declared != str(counted):
            raise X12Error(se.position, f"SE01 says {declared!r} segments but the transaction has {counted}")
        if se.get(2) != self.remit.control_number:
            raise X12Error(se.position, f"SE02 {se.get(2)!r} does not match ST02 {self.remit.control_number!r}")
        last, self.claim, self.line = self.claim, None, None
        return last


def read_835(stream: BinaryIO) -> Iterator[tuple[Remittance, Claim]]:
    """Every claim in the file with its remittance, checking envelopes; raises `X12Error`."""
    isa: Segment | None = None
    gs: Segment | None = None
    tx: _Transaction | None = None
    groups = transactions = 0
    for seg in segments(stream):
        sid = seg.id
        if sid == "ISA":
            if isa is not None:
                raise X12Error(seg.position, "ISA inside an interchange (the previous one has no IEA)")
            if len(seg.elements) != 17:
                raise X12Error(seg.position, f"ISA has {len(seg.elements) - 1} elements; it must have 16")
            if not seg.get(12).startswith(SUPPORTED_VERSIONS):
                raise X12Error(seg.position, f"ISA12 version {seg.get(12)!r} is not 00401 or 00501")
            isa, groups = seg, 0
        elif isa is None:
            raise X12Error(seg.position, f"{sid} before any ISA interchange header")
        elif sid == "GS":
            if gs is not None:
                raise X12Error(seg.position, "GS inside a functional group (the previous one has no GE)")
            if seg.get(1) != "HP":
                raise X12Error(seg.position, f"GS01 {seg.get(1)!r}: an 835 travels in a HP functional group")
            version = seg.get(8)
            if not version.startswith(("005010X221", "004010X091")):
                raise X12Error(seg.position, f"GS08 {version!r} is not an 835 version (005010X221A1, 004010X091A1)")
            gs, transactions = seg, 0
        elif sid == "ST":
            if gs is None or tx is not None:
                raise X12Error(seg.position, "ST outside a functional group or inside another transaction")
            tx = _Transaction(seg, gs.get(8))
        elif sid == "SE":
            if tx is None:
                raise X12Error(seg.position, "SE without an ST")
            last = tx.close(seg)
            if last is not None:
                yield tx.remit, last
            tx, transactions = None, transactions + 1
        elif tx is not None:
            claim = tx.add(seg)
            if claim is not None:
                yield tx.remit, claim
        elif sid == "GE":
            if gs is None:
                raise X12Error(seg.position, "GE without a GS")
            _trailer(seg, transactions, gs.get(6), "GE", "transaction sets", "GS06")
            gs, groups = None, groups + 1
        elif sid == "IEA":
            if gs is not None:
                raise X12Error(seg.position, "IEA inside a functional group (no GE)")
            _trailer(seg, groups, isa.get(13), "IEA", "functional groups", "ISA13")
            isa = None
        else:
            raise X12Error(seg.position, f"{sid} outside a transaction set")
    if tx is not None or gs is not None or isa is not None:
        raise X12Error(0, "the file ends inside an envelope")


def _trailer(seg: Segment, counted: int, control: str, name: str, what: str, header: str) -> None:
    if seg.get(1) != str(counted):
        raise X12Error(seg.position, f"{name}01 says {seg.get(1)!r} {what} but there are {counted}")
    if seg.get(2) != control:
        raise X12Error(seg.position, f"{name}02 {seg.get(2)!r} does not match {header} {control!r}")
