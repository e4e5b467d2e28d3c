"""Read outgoing claims from X12 837 files (837P professional, 837I institutional; 5010 and
4010), checking the envelope as the 835 reader does.

The 837 nests its loops under HL levels: billing provider (HL 20, NM1*85), subscriber (HL 22:
SBR, NM1*IL, the payer's NM1*PR), patient (HL 23, NM1*QC); then each claim (CLM, loop 2300:
its REF*G1 prior authorization, REF*9F referral, REF*F8 original claim, the rendering NM1*82
and service facility NM1*77), other payers' loops (2320/2330, opened by an SBR after the
CLM, whose numbers are those payers' and are skipped) and its service lines (LX, SV1/SV2/SV3,
DTP*472, REF*6R/G1/9F, NM1*82). A reader keyed on segment ids and that order is enough. A
claim ends at the next CLM or HL, or at SE.

Damage that makes a claim uncertain (no payer before a CLM, an amount or date that is not
one, a service line outside a claim, the file cut short) raises `X12Error`; defects the
claims survive (HL ids repeated or pointing at no parent, a service line without its LX,
GS08 and ST03 naming different guides, composites written with another separator, envelope
counts) are `X12Warning`s on the report. Warnings name elements and values, never claim data.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from engine.intake.x12.elements import composite, money, need, parse_date, quantity
from engine.intake.x12.envelope import Kind, Report, check_se, read_envelopes
from engine.intake.x12.tokens import Segment, Source, X12Error

CLAIMS = Kind("837", "HC")
#: Implementation guides by their X12 number: 5010 (X222 professional, X223 institutional,
#: X224 dental) and 4010 (X098, X096, X097).
_KINDS = {"X222": "837P", "X098": "837P", "X223": "837I", "X096": "837I", "X224": "837D", "X097": "837D"}
_LINES = {"SV1": "837P", "SV2": "837I", "SV3": "837D"}
_GUIDE = re.compile(r"X(2\d\d|09\d)")
#: Segments of the line adjudication and form loops (2430, 2440): nothing the check reads.
_SKIPPED_LINE_LOOPS = {"SVD", "CAS", "LQ", "FRM"}


@dataclass(frozen=True, slots=True)
class SubmittedLine:
    number: int  # LX01 (the position within the claim when LX is absent)
    procedure_code: str | None  # SV101-2 / SV202-2 (HCPCS/CPT); None when an 837I line has only a revenue code
    revenue_code: str | None  # SV201 (837I)
    modifiers: tuple[str, ...]
    charge: Decimal  # SV102 / SV203
    units: Decimal | None  # SV104 / SV205
    date_of_service: date | None  # the line's DTP*472 (D8, or an RD8's first day)
    rendering_npi: str | None  # 2420A NM1*82 with an NPI, else the claim's
    line_control: str | None  # REF*6R
    prior_authorization: str | None  # REF*G1 in 2400
    referral: str | None  # REF*9F in 2400


@dataclass(frozen=True, slots=True)
class SubmittedClaim:
    kind: str | None  # 837P, 837I or 837D
    version: str  # ST03, else GS08
    control_number: str  # ST02
    position: int  # the CLM's segment position in the file
    billing_npi: str | None  # 2010AA NM1*85 NM109 (NM108 XX)
    billing_name: str | None
    payer_id: str  # 2010BB NM1*PR NM109
    payer_name: str | None
    member_id: str | None  # 2010BA NM1*IL NM109, whatever its qualifier (MI, II); PHI
    patient_last_name: str | None  # 2010CA NM1*QC when the patient is not the subscriber, else 2010BA; PHI
    patient_first_name: str | None
    patient_birth_date: date | None  # that loop's DMG*D8; PHI
    patient_control_number: str  # CLM01
    charge: Decimal  # CLM02
    place_of_service: str | None  # CLM05-1
    frequency: str | None  # CLM05-3: 1 original, 7 replacement, 8 void
    prior_authorization: str | None  # 2300 REF*G1
    referral: str | None  # 2300 REF*9F
    payer_claim_control_number: str | None  # 2300 REF*F8
    rendering_npi: str | None  # 2310B NM1*82 (NM108 XX)
    service_facility_npi: str | None  # NM1*77 NM109 (2310C professional, 2310E institutional)
    service_facility_name: str | None
    statement_from: date | None  # 837I DTP*434's first day
    lines: tuple[SubmittedLine, ...]
    created_at: datetime | None = None  # BHT04/BHT05 (else GS04/GS05), read as UTC: when the claim was made


@dataclass(slots=True)
class ReadReport837(Report):
    """`Report`'s warnings and transaction count, and how many claims and lines were read."""

    claims: int = 0
    lines: int = 0


def _npi(seg: Segment) -> str | None:
    return seg.get(9) or None if seg.get(8) == "XX" else None


def _first_day(seg: Segment) -> date:
    """DTP03 as a date: D8 CCYYMMDD, or an RD8 range's first day."""
    fmt, raw = seg.get(2), seg.get(3)
    if fmt == "RD8" or (not fmt and "-" in raw):
        raw = raw.split("-", 1)[0]
    elif fmt not in ("D8", ""):
        raise X12Error(seg.position, f"DTP02 {fmt!r} is not a date format (D8, RD8)")
    return parse_date(seg, 3, raw)


@dataclass(slots=True)
class _Line:
    number: int
    procedure_code: str | None = None
    revenue_code: str | None = None
    modifiers: tuple[str, ...] = ()
    charge: Decimal = Decimal(0)
    units: Decimal | None = None
    date_of_service: date | None = None
    rendering_npi: str | None = None
    line_control: str | None = None
    prior_authorization: str | None = None
    referral: str | None = None
    service_seen: bool = False


@dataclass(slots=True)
class _Claim:
    position: int
    patient_control_number: str
    charge: Decimal
    place_of_service: str | None
    frequency: str | None
    prior_authorization: str | None = None
    referral: str | None = None
    payer_claim_control_number: str | None = None
    rendering_npi: str | None = None
    service_facility_npi: str | None = None
    service_facility_name: str | None = None
    statement_from: date | None = None
    lines: list[_Line] = field(default_factory=list)


@dataclass(slots=True)
class _Party:
    """Who the hierarchy says the claims are from and for, as its HL levels set them."""

    billing_npi: str | None = None
    billing_name: str | None = None
    payer_id: str | None = None
    payer_name: str | None = None
    member_id: str | None = None
    subscriber: tuple[str | None, str | None, date | None] = (None, None, None)
    patient: tuple[str | None, str | None, date | None] | None = None


class _Transaction:
    """Builds one ST..SE transaction's claims."""

    def __init__(self, st: Segment, gs: Segment | None, report: ReadReport837) -> None:
        if st.get(1) != "837":
            raise X12Error(st.position, f"transaction set {st.get(1)!r} is not an 837 claim")
        self.report = report
        self.control = need(st, 2, "transaction set control number")
        self.version, self.kind = self._guide(st, gs)
        self.count = 1
        self.party = _Party()
        self.loop = "header"
        self.claim: _Claim | None = None
        self.line: _Line | None = None
        self.hl_ids: set[str] = set()
        self.line_kind: str | None = None  # what the service lines say, when the guide does not
        self.created_at = self._moment(gs, 4, 5) if gs is not None else None

    def _guide(self, st: Segment, gs: Segment | None) -> tuple[str, str | None]:
        st03, gs08 = st.get(3), gs.get(8) if gs is not None else ""
        named = {k for g in (st03, gs08) if (m := _GUIDE.search(g)) and (k := _KINDS.get(f"X{m.group(1)}"))}
        if len(named) > 1:
            self.report.warn("envelope.guide_mismatch", st.position,
                             f"GS08 {gs08!r} and ST03 {st03!r} name different guides: ST03 is read")  # fmt: skip
        kind = next((k for g in (st03, gs08) if (m := _GUIDE.search(g)) and (k := _KINDS.get(f"X{m.group(1)}"))),
                    None)  # fmt: skip
        return st03 or gs08, kind

    # -- segments

    def add(self, seg: Segment) -> SubmittedClaim | None:
        """Take the next segment; return a claim when this segment ended it."""
        self.count += 1
        sid = seg.id
        finished = self._finish() if sid in ("CLM", "HL") and self.claim is not None else None
        if sid == "HL":
            self._hl(seg)
        elif sid == "CLM":
            self._clm(seg)
        elif sid == "BHT" and self.claim is None:
            self.created_at = self._moment(seg, 4, 5) or self.created_at
        elif self.claim is None:
            self._hierarchy(seg)
        elif sid == "SBR":
            self.loop = "2320"  # other payers' loops: their numbers are not this payer's
        elif sid == "LX":
            self._lx(seg)
        elif sid in _LINES:
            self._service(seg)
        elif sid in _SKIPPED_LINE_LOOPS and self.line is not None:
            self.loop = "2430"
        elif self.loop in ("2300", "2310"):
            self._claim_segment(seg, self.claim)
        elif self.loop in ("2400", "2420") and self.line is not None:
            self._line_segment(seg, self.line)
        return finished

    def _moment(self, seg: Segment, day: int, at: int) -> datetime | None:
        """A header's date and time (CCYYMMDD, HHMM[SS]) as UTC. An unreadable date is a warning and
        None; an unreadable time (masked files write 9999) a warning and midnight of that day."""
        try:
            on = parse_date(seg, day, seg.get(day))
        except X12Error:
            self.report.warn(f"header.{seg.id.lower()}{day:02d}_date", seg.position,
                             f"{seg.id}{day:02d} {seg.get(day)!r} is not a date (CCYYMMDD)")  # fmt: skip
            return None
        raw = seg.get(at)
        digits = raw.ljust(6, "0")[:6]
        try:
            when = time(int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
        except ValueError:
            problem = f"{seg.id}{at:02d} is not a time (HHMM): midnight of {seg.id}{day:02d} is used"
            self.report.warn(f"header.{seg.id.lower()}{at:02d}_time", seg.position, problem)
            when = time(0)
        return datetime.combine(on, when, UTC)

    def _hl(self, seg: Segment) -> None:
        number, parent, level = seg.get(1), seg.get(2), seg.get(3)
        if number in self.hl_ids:
            self.report.warn("hl.duplicate_id", seg.position, f"HL01 {number!r} repeats an earlier HL's id")
        if parent and parent not in self.hl_ids:
            self.report.warn("hl.unknown_parent", seg.position, f"HL02 {parent!r} names no earlier HL")
        self.hl_ids.add(number)
        if level == "20":
            self.party = _Party()
        elif level == "22":
            self.party = _Party(self.party.billing_npi, self.party.billing_name)
        elif level == "23":
            self.party.patient = (None, None, None)
        self.loop = {"20": "2000A", "22": "2000B", "23": "2000C"}.get(level, "hl")

    def _hierarchy(self, seg: Segment) -> None:
        sid, party = seg.id, self.party
        if sid in _LINES or sid == "LX":
            raise X12Error(seg.position, f"{sid} outside a claim (no CLM before it)")
        if sid == "NM1":
            entity = seg.get(1)
            if entity == "85":
                party.billing_npi, party.billing_name, self.loop = _npi(seg), seg.get(3) or None, "2010AA"
            elif entity == "IL":
                party.member_id = seg.get(9) or None
                party.subscriber, self.loop = (seg.get(3) or None, seg.get(4) or None, None), "2010BA"
            elif entity == "PR":
                party.payer_id, party.payer_name, self.loop = seg.get(9) or None, seg.get(3) or None, "2010BB"
            elif entity == "QC":
                party.patient, self.loop = (seg.get(3) or None, seg.get(4) or None, None), "2010CA"
            else:
                self.loop = "name"
        elif sid == "DMG" and seg.get(1) == "D8" and self.loop in ("2010BA", "2010CA"):
            born = self._birth_date(seg)
            if self.loop == "2010BA":
                party.subscriber = (*party.subscriber[:2], born)
            elif party.patient is not None:
                party.patient = (*party.patient[:2], born)

    def _birth_date(self, seg: Segment) -> date | None:
        """DMG02; the check does not need it, so one that is no date is a warning, not a refusal."""
        try:
            return parse_date(seg, 2, seg.get(2))
        except X12Error:
            self.report.warn("claim.dmg02_date", seg.position, "DMG02 is not a date (CCYYMMDD): no birth date kept")
            return None

    def _clm(self, seg: Segment) -> None:
        if not self.party.payer_id:
            raise X12Error(seg.position, "CLM before the payer's NM1*PR (loop 2010BB): the claim has no payer")
        facility = composite(seg, 5, self.report.add) if seg.get(5) else []
        self.claim = _Claim(
            position=seg.position,
            patient_control_number=need(seg, 1, "patient control number"),
            charge=money(seg, 2),
            place_of_service=facility[0] or None if facility else None,
            frequency=facility[2] or None if len(facility) > 2 else None,
        )
        self.line, self.loop = None, "2300"

    def _claim_segment(self, seg: Segment, claim: _Claim) -> None:
        sid = seg.id
        if sid == "REF" and self.loop == "2300":
            qualifier, value = seg.get(1), seg.get(2) or None
            if qualifier == "G1":
                claim.prior_authorization = value
            elif qualifier == "9F":
                claim.referral = value
            elif qualifier == "F8":
                claim.payer_claim_control_number = value
        elif sid == "DTP" and seg.get(1) == "434":
            claim.statement_from = _first_day(seg)
        elif sid == "NM1":
            entity = seg.get(1)
            if entity == "82":
                claim.rendering_npi = _npi(seg)
            elif entity == "77":
                claim.service_facility_npi, claim.service_facility_name = _npi(seg), seg.get(3) or None
            self.loop = "2310"

    def _lx(self, seg: Segment) -> None:
        assert self.claim is not None
        raw = seg.get(1)
        number = int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else len(self.claim.lines) + 1
        self.line = _Line(number)
        self.claim.lines.append(self.line)
        self.loop = "2400"

    def _service(self, seg: Segment) -> None:
        assert self.claim is not None
        if self.line is None or self.line.service_seen or self.loop not in ("2400", "2420"):
            self.report.warn("claim.lx_missing", seg.position, f"{seg.id} without its LX: numbered by position")
            self.line = _Line(len(self.claim.lines) + 1)
            self.claim.lines.append(self.line)
        line, sid = self.line, seg.id
        line.service_seen, self.loop, self.line_kind = True, "2400", _LINES[sid]
        procedure_index = 2 if sid == "SV2" else 1
        procedure = composite(seg, procedure_index, self.report.add) if seg.get(procedure_index) else []
        if sid == "SV2":
            line.revenue_code = seg.get(1) or None
        elif len(procedure) < 2 or not procedure[1]:
            raise X12Error(seg.position, f"{sid}01 {seg.get(1)!r} is not a qualifier and procedure code")
        line.procedure_code = procedure[1] or None if len(procedure) > 1 else None
        line.modifiers = tuple(m for m in procedure[2:6] if m)
        line.charge = money(seg, procedure_index + 1)
        line.units = quantity(seg, 4 if sid == "SV1" else 5) if sid != "SV3" else None
        if line.procedure_code is None and line.revenue_code is None:
            raise X12Error(seg.position, f"{sid} has neither a revenue code nor a procedure code")

    def _line_segment(self, seg: Segment, line: _Line) -> None:
        sid = seg.id
        if sid == "DTP" and seg.get(1) == "472":
            line.date_of_service = _first_day(seg)
        elif sid == "REF" and self.loop == "2400":
            qualifier, value = seg.get(1), seg.get(2) or None
            if qualifier == "6R":
                line.line_control = value
            elif qualifier == "G1":
                line.prior_authorization = value
            elif qualifier == "9F":
                line.referral = value
        elif sid == "NM1":
            if seg.get(1) == "82":
                line.rendering_npi = _npi(seg)
            self.loop = "2420"

    # -- ends

    def _finish(self) -> SubmittedClaim:
        claim, party = self.claim, self.party
        assert claim is not None
        self.claim, self.line = None, None
        last, first, born = party.patient or party.subscriber
        if not any(line.service_seen for line in claim.lines):
            raise X12Error(claim.position, "the claim this CLM opens has no service line (SV1, SV2 or SV3)")
        kind = self.kind or self.line_kind
        lines = tuple(
            SubmittedLine(n.number, n.procedure_code, n.revenue_code, n.modifiers, n.charge, n.units,
                          n.date_of_service, n.rendering_npi or claim.rendering_npi, n.line_control,
                          n.prior_authorization, n.referral)
            for n in claim.lines if n.service_seen
        )  # fmt: skip
        self.report.claims += 1
        self.report.lines += len(lines)
        return SubmittedClaim(
            kind=kind, version=self.version, control_number=self.control, position=claim.position,
            billing_npi=party.billing_npi, billing_name=party.billing_name, payer_id=party.payer_id or "",
            payer_name=party.payer_name, member_id=party.member_id, patient_last_name=last,
            patient_first_name=first, patient_birth_date=born,
            patient_control_number=claim.patient_control_number, charge=claim.charge,
            place_of_service=claim.place_of_service, frequency=claim.frequency,
            prior_authorization=claim.prior_authorization, referral=claim.referral,
            payer_claim_control_number=claim.payer_claim_control_number, rendering_npi=claim.rendering_npi,
            service_facility_npi=claim.service_facility_npi, service_facility_name=claim.service_facility_name,
            statement_from=claim.statement_from, lines=lines, created_at=self.created_at,
        )  # fmt: skip

    def close(self, se: Segment) -> SubmittedClaim | None:
        """End the transaction at its SE: check its count and control number; return the claim
        the SE ended, if one was open."""
        check_se(se, self.count + 1, self.control, self.report)
        return self._finish() if self.claim is not None else None


def read_837(stream: Source, report: ReadReport837 | None = None) -> Iterator[SubmittedClaim]:
    """Every claim in the file, in order, as each ends (1 MiB chunks: a large file streams);
    raises `X12Error` on damage that makes a claim uncertain, and notes on ``report`` what it
    accepts the file with."""
    report = ReadReport837() if report is None else report

    def open_transaction(st: Segment, gs: Segment | None, isa: Segment | None) -> _Transaction:
        return _Transaction(st, gs, report)

    for _, claim in read_envelopes(stream, CLAIMS, open_transaction, report):
        yield claim
