"""The 835 reader on the real sample files: every file parses correctly or is refused clearly.

The hand-checked expectations (with their reasoning) are in `expected_samples.py`;
the same files are read again by oxedi, an independent parser, and must agree.
"""

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import oxedi
import pytest

from engine.intake.events import DenialReceived, decode
from engine.intake.ingest import read_remittance
from engine.intake.x12.denials import RemittanceEvents, Tally
from engine.intake.x12.remit import read_835
from engine.intake.x12.tokens import X12Error
from tests.ingest.envelope_files import CASE_OUTCOMES, CONVENTIONAL_LAYOUT, ENVELOPE_OUTCOMES
from tests.ingest.expected_samples import EXPECTED
from tests.ingest.oxedi_reference import reference_view
from workflows.classification import ClaimContext, classify

SAMPLES = Path(__file__).parents[1] / "data" / "835"
FILES = sorted(
    str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file() and p.suffix not in {".md", ".json"}
)

# Every sample file: None = parses; otherwise the refusal must contain this text.
REFUSALS: dict[str, str | None] = {
    # intact claims inside defects, accepted with a warning: ISA16 declares ':' but the SVC
    # composites use '>' (envelope.component_separator); BPR16 month 23 (header.bpr16_date:
    # the production date DTM*405 stands in); masked ISA12/GS08 (envelope.isa12_version,
    # envelope.gs08_version); GS08 '5010' (read as 005010X221)
    "LinuxForHealth-x12/cob-contractural-adjustment.835": None,
    "LinuxForHealth-x12/demo.835": None,
    "LinuxForHealth-x12/managed-care.835": None,
    "LinuxForHealth-x12/medicare-part-a.835": None,
    "LinuxForHealth-x12/secondary-payment.835": None,
    "LinuxForHealth-x12/tertiary-payment.835": "segment 20: SVC01 'HC' is not a qualifier and procedure code",
    "X12Parser/835_DeIdent_01.dat": None,
    "X12Parser/835_DeIdent_02.dat": None,
    # its last claim is a bare "CLP*090909*22": a claim without its amounts
    "X12Parser/Example1.txt": "segment 98: CLP03 '' is not an amount",
    "X12Parser/Example1_GripElements.txt": None,  # 4010, BOM, CRLF and indentation
    # starts at ST (no envelope: envelope.isa_missing), but a service line lost its amounts
    "edi-835-parser/blue_cross_nc_sample.txt": "segment 28: SVC02 '' is not an amount",
    "edi-835-parser/emedny_sample.997": "segment 2: GS01 'FA': an 835 travels in a HP functional group",
    "edi-835-parser/emedny_sample.txt": None,
    "edi-835-parser/united_healthcare_legacy_sample.txt": None,
    "edi-835-parser_CHS-CDS-AIML/test.835": None,  # accepted with envelope.se01_count (SE01 says 17, it has 16)
    "edi-835-parser_affect-therapeutics/exhaustive_sample.txt": None,  # a masked template, bare ST..SE: no denials
    "edi-835-parser_affect-therapeutics/sample_835.txt": "segment 23: CAS01 'grp_code' is not a claim adjustment",
    "pyx12/835_mult_loops.txt": None,
    "x12-parser/multi-line-not-delimited.edi": None,  # newline is the segment terminator
    "x12-parser/profee-multiple.edi": None,  # 156 transactions in one interchange
    "x12-parser/profee-one-line.edi": None,
    "x12-parser/profee.edi": None,
    **ENVELOPE_OUTCOMES,  # the synthetic envelope files (tests/data/835/envelope/NOTES.md)
    **CASE_OUTCOMES,  # the hand-labelled cases (tests/data/835/cases/NOTES.md)
}
PARSED = [f for f, refusal in REFUSALS.items() if refusal is None]
# Files of bare ST..SE transactions (no ISA/GS envelope; '*' elements, '~' terminators, '>' components).
BARE = {"edi-835-parser/blue_cross_nc_sample.txt", "edi-835-parser_affect-therapeutics/exhaustive_sample.txt"}


def _enveloped(raw: bytes) -> bytes:
    isa = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*0000*^*00501*000000001*0*P*>~"
    return isa + b"GS*HP*S*R*20260101*0000*1*X*005010X221A1~" + raw + b"GE*1*1~IEA*1*000000001~"


# Files whose SVC composites use a component separator ISA16 does not declare.
COMPONENT_MISMATCH = {"LinuxForHealth-x12/cob-contractural-adjustment.835", "LinuxForHealth-x12/secondary-payment.835"}
# Same remittance as emedny_sample.txt (compared by eye: only the line breaks differ).
SAME_AS_EMEDNY = ["x12-parser/multi-line-not-delimited.edi", "x12-parser/profee-one-line.edi", "x12-parser/profee.edi"]

# Categories of each hand-checked file's denials, in file order, with why.
CATEGORIES = {
    # CO-16 + N14 (missing information; N14 refines nothing) -> claim data; the two OA-A7 lines
    # (deactivated, presumptive payment: no denial meaning) of the denied claim got nothing,
    # owed by nobody -> still denied, for the reviewer
    "pyx12/835_mult_loops.txt": ["claim_data", "needs_review", "needs_review"],
    # CO-29 timely filing x2; CO-251 (attachment content insufficient) + N206 -> documentation x2
    "edi-835-parser/emedny_sample.txt": ["timely_filing", "timely_filing", "documentation", "documentation"],
    # the $0 line the deductible absorbed (CO-45 + PR-1) is no denial: nothing here
    "edi-835-parser/united_healthcare_legacy_sample.txt": [],
    # CR-18 duplicate -> claim data; CO-29 -> timely filing; 121212 (denied, zero paid, OA-23
    # for the prior payer) -> coordination of benefits, eligibility
    "X12Parser/Example1_GripElements.txt": ["claim_data", "timely_filing", "eligibility"],
    "edi-835-parser_CHS-CDS-AIML/test.835": [],  # cost share and a contractual write-down on paid lines
    "LinuxForHealth-x12/managed-care.835": [],  # CO-A2 contractual adjustments on paid claims
    "LinuxForHealth-x12/secondary-payment.835": [],  # CO-42 on a paid line of a secondary claim
}  # fmt: skip


def ingest(name: str) -> tuple[list[Any], Tally]:
    events: list[Any] = []
    with (SAMPLES / name).open("rb") as stream:
        tally = read_remittance(stream, lambda key, value: events.append(decode(value)))
    return events, tally


def classified(event: DenialReceived) -> Any:
    d = event.data
    return classify(d.adjustments, d.remarks, ClaimContext(d.claim_status, d.paid_amount), d.related_remarks)


def denial_view(event: DenialReceived) -> dict[str, Any]:
    d = event.data
    c = classified(event)
    denied = sum((Decimal(r["amount"]) for r in c.reasons), Decimal(0)) or d.billed_amount - d.paid_amount
    return {"ccn": d.claim_control_number, "pcn": d.patient_control_number, "line": d.line,
            "primary": f"{c.primary_group}-{c.primary_reason}", "denied": f"{denied:.2f}", "remarks": list(d.remarks),
            "paid": f"{d.paid_amount:.2f}"}  # fmt: skip


def test_every_sample_file_has_an_expected_outcome() -> None:
    assert sorted(REFUSALS) == FILES


@pytest.mark.parametrize("name", FILES)
def test_a_sample_parses_or_is_refused_naming_segment_and_problem(name: str) -> None:
    expected = REFUSALS[name]
    if expected is None:
        events, tally = ingest(name)
        assert tally.claims > 0 and all(e.type in {"denial.received", "denial.paid", "denial.reversed"} for e in events)
        return
    published: list[bytes] = []
    with pytest.raises(X12Error) as refused, (SAMPLES / name).open("rb") as stream:
        read_remittance(stream, lambda key, value: published.append(value))
    assert expected in str(refused.value)


@pytest.mark.parametrize("name", [n for n in EXPECTED if REFUSALS[n] is None] + SAME_AS_EMEDNY)
def test_hand_checked_denials_primary_reasons_and_counts(name: str) -> None:
    expected = EXPECTED.get(name) or EXPECTED["edi-835-parser/emedny_sample.txt"]
    events, tally = ingest(name)
    received = [e for e in events if e.type == "denial.received"]
    assert [denial_view(e) for e in received] == expected["denials"]
    counted = (tally.claims, tally.reversals, tally.paid_lines, tally.skipped_adjustments, tally.denials)
    assert counted == (expected["claims"], expected["reversals"], expected["paid_lines"],
                       expected["skipped_adjustments"], len(expected["denials"]))  # fmt: skip
    categories = CATEGORIES.get(name, CATEGORIES["edi-835-parser/emedny_sample.txt"])
    assert [classified(e).category for e in received] == categories


def test_hand_checked_refused_files_are_the_ones_with_real_defects() -> None:
    """The checker also worked out what refused files would hold; the one still refused is
    refused for damage to a claim itself (see REFUSALS), not for its envelope."""
    refused = [n for n in EXPECTED if REFUSALS[n] is not None]
    assert refused == ["X12Parser/Example1.txt"]


@pytest.mark.parametrize("name", PARSED)
def test_cost_share_and_contractual_lines_never_become_denials(name: str) -> None:
    """Claim by claim (masked files share every id), a line whose adjustments are only cost
    share, contractual write-downs on a paid line or zero amounts is never a denial."""
    not_denials = {"1", "2", "3"}
    events_of = RemittanceEvents(datetime.now(UTC))
    with (SAMPLES / name).open("rb") as stream:
        for remit, claim in read_835(stream):
            events, _ = events_of(remit, claim)
            denied = {e["data"]["line"] for e in events if e["type"] == "denial.received"}
            for line in claim.lines:
                write_down_only = all(
                    a.reason in not_denials or (a.reason == "45" and line.paid > 0) or a.amount <= 0
                    for a in line.adjustments
                )
                if write_down_only:
                    assert line.number not in denied, (claim.position, line.number)


def test_the_volume_file_yields_every_transactions_denials() -> None:
    events, tally = ingest("x12-parser/profee-multiple.edi")
    received = [e for e in events if e.type == "denial.received"]
    assert (tally.claims, tally.denials, len(received)) == (468, 624, 624)
    # the file repeats one remittance (same trace number, same claims) 156 times: the
    # repeats carry the same event ids (the same claim lines, the paid ones too), so the
    # engine applies each denial once; the masked CLP01 shared by distinct claims in each
    # copy is one collision, kept apart the same way in every copy
    assert len({e.event_id for e in received}) == 4 == len({e.denial_id for e in received})
    assert (tally.repeats, tally.collisions) == (len(events) - len({e.event_id for e in events}), 4)


def test_reversals_become_reversal_events_never_denials() -> None:
    events, tally = ingest("X12Parser/Example1_GripElements.txt")
    reversals = [e for e in events if e.type == "denial.reversed"]
    assert tally.reversals == 2
    assert [(e.data.claim_control_number, e.data.reversed_amount) for e in reversals] == [
        ("0000000657575757", Decimal("-42.58")),
        ("0000000648484848", Decimal("-86.76")),  # CLP*090909*22*-86.76*-86.76,
    ]
    received = {e.data.claim_control_number for e in events if e.type == "denial.received"}
    assert not received & {"0000000657575757", "0000000648484848"}


def _mine(name: str | Path) -> list[dict[str, Any]]:
    def adjustments(items: list[Any]) -> list[tuple[str, str, Decimal]]:
        return [(a.group, a.reason, a.amount) for a in items]

    with (SAMPLES / name).open("rb") as stream:
        return [{"payer_id": r.payer_id, "trace": r.trace, "pcn": c.patient_control_number, "status": c.status,
                 "charge": c.charge, "paid": c.paid, "ccn": c.claim_control_number or None,
                 "claim_adjustments": adjustments(c.adjustments),
                 "lines": [{"procedure": ln.procedure, "charge": ln.charge, "paid": ln.paid, "units": ln.units,
                            "adjustments": adjustments(ln.adjustments)} for ln in c.lines]}
                for r, c in read_835(stream)]  # fmt: skip


@pytest.mark.parametrize("name", PARSED)
def test_differential_against_oxedi_on_every_file_we_accept(name: str, tmp_path: Path) -> None:
    reference = SAMPLES / name
    if name in CONVENTIONAL_LAYOUT:  # oxedi takes the line break after ISA16 for the terminator
        reference = tmp_path / reference.name
        reference.write_bytes(CONVENTIONAL_LAYOUT[name]((SAMPLES / name).read_bytes()))
    if name in BARE:  # oxedi reads only enveloped files: give it the envelope the file lacks
        reference = tmp_path / reference.name
        reference.write_bytes(_enveloped((SAMPLES / name).read_bytes()))
    mine, theirs = _mine(name), reference_view(reference)
    if name in COMPONENT_MISMATCH:  # oxedi does not split a composite by a separator ISA16 does not declare
        assert all(line["procedure"] for claim in mine for line in claim["lines"])
        for claim in mine:
            for line in claim["lines"]:
                line["procedure"] = None
    assert mine == theirs


@pytest.mark.parametrize("name", [n for n in FILES if REFUSALS[n] is not None])
def test_files_oxedi_cannot_parse_are_refused_by_us_too(name: str) -> None:
    try:
        reference_view(SAMPLES / name)
    except oxedi.ParseError:
        assert name in BARE or "expected an ISA interchange header" in str(REFUSALS[name])


def test_a_refusal_never_quotes_patient_data() -> None:
    """Refusals are logged and put in dead-letter headers: no names or member ids in them."""
    raw = (SAMPLES / "pyx12/835_mult_loops.txt").read_bytes()
    cut = raw.index(b"NM1*QC*1*BACH*JOHANN") + len(b"NM1*QC*1*BACH*JOHANN*S***MR*0000")
    with pytest.raises(X12Error) as truncated:
        read_remittance(io.BytesIO(raw[:cut]), lambda key, value: None)
    assert str(truncated.value) == "segment 16: the file ends inside a 'NM1' segment (no terminator)"
    with pytest.raises(X12Error) as not_x12:
        read_remittance(io.BytesIO(b"name,member_id\nJohann Bach,00001612\n"), lambda key, value: None)
    assert "Bach" not in str(not_x12.value) and "00001612" not in str(not_x12.value)


def test_interchanges_with_different_separators_in_one_file(tmp_path: Path) -> None:
    """Each ISA declares its own separators: eMedNY uses ':' for components, UHC '>'."""
    emedny, uhc = "edi-835-parser/emedny_sample.txt", "edi-835-parser/united_healthcare_legacy_sample.txt"
    both = tmp_path / "two-interchanges.835"
    both.write_bytes((SAMPLES / emedny).read_bytes() + b"\r\n" + (SAMPLES / uhc).read_bytes())
    assert _mine(both) == _mine(emedny) + _mine(uhc)
    assert {line["procedure"] for claim in _mine(both) for line in claim["lines"]} >= {"B4152", "V2020"}
