"""The reader accepts what is intact and records what is not: envelope bookkeeping and an
unbalanced payment are warnings on files whose claims read exactly as the intact file's;
damage to the claim data is a refusal naming the segment. Pure: no broker, no database."""

import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.intake.x12.claims import Claim, ProviderAdjustment, Remittance
from engine.intake.x12.remit import ReadReport, read_835
from engine.intake.x12.tokens import X12Error, X12Warning, segments
from tests import x12_text
from tests.ingest.envelope_files import CASES, ENVELOPE_FILES, LABELS

ENVELOPE = Path(__file__).parents[1] / "data" / "835" / "envelope"
ACCEPTED = [name for name, (refusal, _) in ENVELOPE_FILES.items() if refusal is None]
REFUSED = [name for name, (refusal, _) in ENVELOPE_FILES.items() if refusal is not None]
INTACT = (ENVELOPE / "intact.835").read_bytes()
#: What the files hold about the (made-up) patients and claims: never in a warning or refusal.
CLAIM_DATA = ("PCN-100", "TESTER", "SAMPLE", "MEM100", "LINE-100", "ICN100")


def read(raw: bytes) -> tuple[list[tuple[Remittance, Claim]], ReadReport]:
    report = ReadReport()
    return list(read_835(io.BytesIO(raw), report)), report


def claims_of(raw: bytes) -> list[Claim]:
    return [claim for _, claim in read(raw)[0]]


def test_every_envelope_file_has_an_expected_outcome() -> None:
    assert sorted(ENVELOPE_FILES) == sorted(p.name for p in ENVELOPE.glob("*.835"))


@pytest.mark.parametrize("name", ACCEPTED)
def test_an_envelope_defect_is_a_warning_and_the_claims_are_the_intact_files(name: str) -> None:
    claims, report = read((ENVELOPE / name).read_bytes())
    assert [w.code for w in report.warnings] == ENVELOPE_FILES[name][1]
    assert [claim for _, claim in claims] == claims_of(INTACT)
    assert report.transactions == 1
    for w in report.warnings:
        assert w.segment > 0 and not any(text in w.message for text in CLAIM_DATA)


@pytest.mark.parametrize("name", REFUSED)
def test_damaged_claim_data_refuses_the_file_naming_segment_and_problem(name: str) -> None:
    with pytest.raises(X12Error) as refused:
        read((ENVELOPE / name).read_bytes())
    assert str(refused.value).startswith(str(ENVELOPE_FILES[name][0]))
    assert not any(text in str(refused.value) for text in CLAIM_DATA)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("se01-count.835", "SE01 says '30' segments but the transaction has 32"),
        ("se02-control.835", "SE02 '0002' does not match ST02 '0001'"),
        ("ge01-count.835", "GE01 says '2' transaction sets but there are 1"),
        ("ge02-control.835", "GE02 '4712' does not match GS06 '4711'"),
        ("iea01-count.835", "IEA01 says '2' functional groups but there are 1"),
        ("iea02-control.835", "IEA02 '000004712' does not match ISA13 '000004711'"),
        ("isa-unpadded.835", "ISA06 is 12 characters wide; its fixed width is 15"),
        ("unbalanced.835", "BPR02 total payment 200.00 does not equal the claims' payments (CLP04) 200.00 less the "
                           "provider adjustments (PLB) 20.00 = 180.00"),
        ("bpr02-unreadable.835", "BPR02 '1X0.00' is not an amount: the payment cannot be balanced"),
    ],
)  # fmt: skip
def test_a_warning_names_the_element_and_both_values(name: str, message: str) -> None:
    _, report = read((ENVELOPE / name).read_bytes())
    assert message in [w.message for w in report.warnings]


def test_the_terminator_at_the_start_of_each_line_is_found_after_isa16() -> None:
    raw = (ENVELOPE / "terminator-at-line-start.835").read_bytes()
    assert raw.startswith(INTACT[:105] + b"\n~GS*")  # the line break where the terminator belongs
    warnings: list[X12Warning] = []
    segs = list(segments(io.BytesIO(raw), warnings.append))
    assert [s.id for s in segs] == [s.id for s in segments(io.BytesIO(INTACT))]
    assert segs[0].separators.segment == "~" and segs[0].get(16) == ":"
    message = "the segment terminator '~' starts each line instead of ending each segment"
    assert warnings == [X12Warning("envelope.terminator_at_line_start", 1, message)]


def test_crlf_lines_with_the_terminator_first_and_several_interchanges() -> None:
    leading = (ENVELOPE / "terminator-at-line-start.835").read_bytes().replace(b"\n", b"\r\n")
    claims, report = read(leading + b"~" + leading)  # the second ISA starts with the terminator, like every line
    assert [c for _, c in claims] == claims_of(INTACT + INTACT)
    assert [w.code for w in report.warnings] == ["envelope.terminator_at_line_start"] * 2


def test_a_newline_terminated_file_is_not_mistaken_for_terminators_at_line_start() -> None:
    newline = INTACT.replace(b"~\n", b"\n")
    claims, report = read(newline)
    assert [c for _, c in claims] == claims_of(INTACT) and report.warnings == []


def test_a_missing_final_terminator_in_a_newline_terminated_file() -> None:
    claims, report = read(INTACT.replace(b"~\n", b"\n").rstrip(b"\n"))
    assert [c for _, c in claims] == claims_of(INTACT)
    assert [w.code for w in report.warnings] == ["envelope.final_terminator_missing"]


@pytest.mark.parametrize(
    ("cut_after", "problem"),
    [
        (b"PRACTICE123*20261201*0930*4711*X*005010X221A1~\n", "segment 2: the file ends inside the functional group"),
        (b"*0*P*:~\n", "segment 1: the file ends inside the interchange this ISA opens, before any GS"),
        (b"GE*1*4711~\nIE", "segment 36: the file ends inside a 'IE' segment (no terminator)"),
    ],
)
def test_a_file_cut_before_any_transaction_or_inside_a_trailer_id_is_refused(cut_after: bytes, problem: str) -> None:
    with pytest.raises(X12Error) as refused:
        read(INTACT[: INTACT.index(cut_after) + len(cut_after)])
    assert str(refused.value).startswith(problem)


def test_provider_adjustments_are_read_and_balance_the_payment() -> None:
    claims, report = read(INTACT)
    remit = claims[0][0]
    assert remit.total_payment == Decimal("180.00") and report.warnings == []
    plb = ProviderAdjustment("1234567893", date(2026, 12, 31), "WO", "ICN0999", Decimal("20.00"))
    assert remit.provider_adjustments == [plb] and report.adjusted == [remit]


def test_every_plb_pair_counts_and_a_transaction_of_only_plb_is_kept() -> None:
    """A remittance of provider-level adjustments only has no claim: its PLB still reaches the
    report. Interest (negative) pays more, a forward balance (positive) takes back; here they net to 0."""
    body = INTACT.decode("latin-1")
    start, end = body.index("LX*1~"), body.index("SE*32*0001~")
    only_plb = body[:start] + "PLB*1234567893*20261231*L6:INTEREST*-1.50*FB:ICN0998*1.50~\n" + body[end:]
    raw = only_plb.replace("SE*32*0001", "SE*11*0001").replace("*180.00*", "*0.00*", 1).encode("latin-1")
    claims, report = read(raw)
    assert claims == [] and report.warnings == [] and report.transactions == 1
    assert [(a.reason, a.reference, a.amount) for r in report.adjusted for a in r.provider_adjustments] == [
        ("L6", "INTEREST", Decimal("-1.50")), ("FB", "ICN0998", Decimal("1.50"))]  # fmt: skip


@pytest.mark.parametrize(
    ("plb", "problem"),
    [
        ("PLB*1234567893*20261231*WO:ICN0999", "PLB04 '' is not an amount"),
        ("PLB*1234567893*20261231**20.00", "PLB04 has an amount but PLB03 has no reason code"),
        ("PLB**20261231*WO:ICN0999*20.00", "PLB01 (provider identifier) is missing"),
        ("PLB*1234567893*20261331*WO:ICN0999*20.00", "PLB02 '20261331' is not a date"),
    ],
)
def test_a_damaged_plb_is_refused(plb: str, problem: str) -> None:
    raw = INTACT.replace(b"PLB*1234567893*20261231*WO:ICN0999*20.00", plb.encode())
    with pytest.raises(X12Error, match=re.escape(problem)):
        read(raw)


def test_claim_and_line_fields_the_denial_identity_reads() -> None:
    first, second = claims_of(INTACT)
    assert (first.filing_indicator, first.facility_type, first.frequency) == ("MC", "11", "1")
    assert [line.line_control for line in first.lines] == ["LINE-1001-1", "LINE-1001-2"]
    assert first.remarks == ["MA01"] and [line.remarks for line in first.lines] == [[], []]  # MOA stays on the claim
    assert second.lines[0].line_control == "LINE-1002-1" and second.lines[0].remarks == ["N54"]


def test_claim_level_mia_and_moa_remarks_stay_on_the_claim() -> None:
    raw = INTACT.replace(b"MOA***MA01~", b"MIA*0***0*MA02~\nMOA***MA01*MA18~")
    raw = raw.replace(b"SE*32*0001", b"SE*33*0001")
    first = claims_of(raw)[0]
    assert first.remarks == ["MA02", "MA01", "MA18"] and all(line.remarks == [] for line in first.lines)


def _codes(raw: bytes) -> list[str]:
    return [w.code for w in read(raw)[1].warnings]


def test_one_file_can_carry_several_warnings_in_file_order() -> None:
    raw = (ENVELOPE / "se01-count.835").read_bytes().replace(b"IEA*1*000004711~\n", b"IEA*1*9~")
    assert _codes(raw) == ["envelope.se01_count", "envelope.iea02_control"]


def test_warnings_found_before_a_refusal_are_kept_on_the_report() -> None:
    raw = (ENVELOPE / "se01-count.835").read_bytes() + b"GS*HP*X*Y*20261201*0930*4712*X*005010X221A1~\n"
    report = ReadReport()
    with pytest.raises(X12Error, match="segment 37: expected an ISA interchange header"):
        list(read_835(io.BytesIO(raw), report))
    assert [w.code for w in report.warnings] == ["envelope.se01_count"]


@pytest.mark.parametrize("label", LABELS, ids=lambda label: label["file"])
def test_the_hand_labelled_cases_are_accepted_warned_or_refused_as_labelled(label: dict[str, Any]) -> None:
    """Labelled by someone who did not write the reader (tests/data/835/cases/NOTES.md)."""
    report = ReadReport()
    try:
        list(read_835(io.BytesIO((CASES / label["file"]).read_bytes()), report))
    except X12Error:
        assert not label["accepted"]
        return
    assert label["accepted"] and bool(report.warnings) == label["warnings"]


def test_bare_transactions_without_an_envelope_are_read_with_a_warning() -> None:
    """A clearinghouse that strips the ISA/GS envelope leaves the claims intact: separators come
    from the ST segment, and the file is accepted with envelope.isa_missing."""
    line = x12_text.Line("90837", "200.00", "0.00", [("CO", "197", "200.00")])
    full = x12_text.remittance([x12_text.Claim("PCN-9", "4", [line])])
    bare = full[full.index(b"ST*835") : full.index(b"GE*")]
    report = ReadReport()
    claims = [claim for _, claim in read_835(io.BytesIO(bare), report)]
    assert [c.patient_control_number for c in claims] == ["PCN-9"]
    assert [w.code for w in report.warnings] == ["envelope.isa_missing"]
    assert [a.reason for a in claims[0].lines[0].adjustments] == ["197"]
