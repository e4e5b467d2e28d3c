"""The 837 reader, strictly: each sample's warnings (code, count, segment) against the defects its
provenance lists, the loops the check reads (2300 vs 2330B numbers, 2310B/2420A rendering, 2010CA
patient, 2310C/E facility, 4010), and hand-written hostile files refused or warned at the segment
that is wrong. Complements tests/ingest/test_submitted_837.py (counts per sample, pyx12 agreement)."""

import io
import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from engine.intake.x12.envelope import MAX_KEPT
from engine.intake.x12.submitted import ReadReport837, SubmittedClaim, read_837
from engine.intake.x12.tokens import CHUNK, X12Error

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "837"  # copies of ../shared/samples/837 (PROVENANCE.md)
STATS = {s["file"]: s for s in json.loads((SAMPLES / "sample_stats.json").read_text())}
READABLE = sorted(p.name for p in SAMPLES.iterdir() if p.suffix not in (".md", ".json") and "Unicode" not in p.name)

#: Every warning a sample is read with: code -> (how many, the segment of the first one kept).
#: ``header.*`` (BHT04/BHT05, which only date the claims) are checked on their own below.
WARNINGS: dict[str, dict[str, tuple[int, int | None]]] = {
    "ims__x12_bad_first_line.txt": {"envelope.isa_width": (1, 1), "hl.duplicate_id": (1, 27),
                                    "hl.unknown_parent": (1, 27), "envelope.se01_count": (1, 36)},
    "ims__x12_complex.txt": {"hl.duplicate_id": (2, 66), "hl.unknown_parent": (2, 66), "envelope.se01_count": (2, 149),
                             "envelope.ge01_count": (1, 297)},
    # 1,638 HL warnings: the SE01 one is past the MAX_KEPT kept in memory (its count is whole)
    "ims__x12_many_claims.txt": {"hl.duplicate_id": (1228, 27), "hl.unknown_parent": (410, 27),
                                 "envelope.se01_count": (1, None)},
    "ims__x12_valid_different_separators.txt": {"hl.duplicate_id": (1, 27), "hl.unknown_parent": (1, 27),
                                                "envelope.se01_count": (1, 36)},
    "ims__x223-test.txt": {"envelope.se01_count": (1, 50)},
    "lfh__demo.autoaccident.837": {},
    "lfh__demo.example11.837": {"envelope.component_separator": (3, 21)},  # CLM05, 2 x SV101 with '>'
    "lfh__ppo-repriced-claim.837i": {"envelope.component_separator": (3, 26)},  # CLM05, 2 x SV202
    "lfh__two-claims-single-provider.837i": {},
    "oopx12__Batch1.txt": {},
    "oopx12__Example1_2_And_3_Combined.txt": {},
    "oopx12__MedicaidExample.txt": {},
    "oopx12__ST1309-XX.txt": {"envelope.final_terminator_missing": (1, 56)},  # the CR after the last IEA
    "oopx12__Spec_3.1.1.txt": {"envelope.guide_mismatch": (1, 3), "envelope.component_separator": (3, 22)},
    "uhin__837.edi": {},
}  # fmt: skip


def _read(raw: bytes) -> tuple[list[SubmittedClaim], ReadReport837]:
    report = ReadReport837()
    return list(read_837(io.BytesIO(raw), report)), report


def _sample(name: str) -> tuple[list[SubmittedClaim], ReadReport837]:
    return _read((SAMPLES / name).read_bytes())


def test_the_table_names_every_readable_sample() -> None:
    assert sorted(WARNINGS) == READABLE


@pytest.mark.parametrize("name", READABLE)
def test_each_sample_is_read_with_exactly_its_warnings(name: str) -> None:
    claims, report = _sample(name)
    codes = {c: n for c, n in report.codes.items() if not c.startswith("header.")}
    assert codes == {c: n for c, (n, _) in WARNINGS[name].items()}
    first = {}
    for w in report.warnings:
        first.setdefault(w.code, w.segment)
    assert {c: first.get(c) for c in codes} == {c: at for c, (_, at) in WARNINGS[name].items()}
    assert report.claims == len(claims) and report.lines == sum(len(c.lines) for c in claims)
    assert len(report.warnings) == min(sum(report.codes.values()), MAX_KEPT)


@pytest.mark.parametrize("name", READABLE)
def test_hl_and_envelope_warnings_agree_with_the_provenance_counts(name: str) -> None:
    """sample_stats.json was made by another tokenizer: its HL and SE/GE findings are ours."""
    _, report = _sample(name)
    stats = STATS[name]
    duplicates = sum(n for what, n in stats["hl_problems"] if what.startswith("dup HL01"))
    unknown = sum(n for what, n in stats["hl_problems"] if "unknown" in what)
    assert (report.codes.get("hl.duplicate_id", 0), report.codes.get("hl.unknown_parent", 0)) == (duplicates, unknown)
    se01 = [re.fullmatch(r"SE01=(\d+) \(actual (\d+)\)", what) for what, _ in stats["envelope_problems"]]
    expected = sorted(f"SE01 says '{m[1]}' segments but the transaction has {m[2]}" for m in se01 if m)
    got = sorted(w.message for w in report.warnings if w.code == "envelope.se01_count")
    assert got == expected[: len(got)] and report.codes.get("envelope.se01_count", 0) == len(expected)
    ge01 = sum(1 for what, _ in stats["envelope_problems"] if what.startswith("GE01"))
    assert report.codes.get("envelope.ge01_count", 0) == ge01


@pytest.mark.parametrize(
    ("name", "bhts", "bht_day"),
    [("oopx12__Batch1.txt", 54, datetime(2007, 10, 31, tzinfo=UTC)),
     ("oopx12__MedicaidExample.txt", 1, datetime(2011, 12, 19, tzinfo=UTC))],
)  # fmt: skip
def test_a_masked_bht_time_leaves_the_claims_and_only_warns(name: str, bhts: int, bht_day: datetime) -> None:
    """BHT05 is masked (``999999``/``9999``): one warning per BHT, and the claims are dated by BHT04 at midnight."""
    read, report = _sample(name)
    assert set(report.codes) == {"header.bht05_time"}
    assert sum(report.codes.values()) == bhts and report.warnings[0].segment == 4
    assert {c.created_at for c in read} == {bht_day}


def test_uhin_the_clean_baseline() -> None:
    [claim], _ = _sample("uhin__837.edi")
    assert (claim.kind, claim.version, claim.control_number) == ("837P", "005010X222A1", "800000372")
    assert claim.position == 21
    assert (claim.billing_npi, claim.payer_id, claim.payer_name) == ("1245319599", "FLHIN", "FLORIDA DIRECT UHIN PAYER")
    assert (claim.member_id, claim.patient_last_name) == ("601239742", "MARQUARDT")
    assert claim.patient_birth_date == date(1946, 11, 11)
    assert (claim.patient_control_number, claim.charge, claim.place_of_service, claim.frequency) == (
        "1606", Decimal("2.00"), "11", "1")  # fmt: skip
    [line] = claim.lines
    assert (line.number, line.procedure_code, line.modifiers, line.charge, line.units) == (
        1, "90834", (), Decimal("2.00"), Decimal(1))  # fmt: skip
    assert line.date_of_service == date(2024, 8, 15)  # DTP*472*RD8*20240815-20240815: the range's first day
    assert claim.rendering_npi is None and line.rendering_npi is None


def test_autoaccident_patient_is_not_the_subscriber() -> None:
    [claim], report = _sample("lfh__demo.autoaccident.837")
    assert report.warnings == []
    assert claim.member_id == "B99977791G"  # the subscriber's (2010BA): the payer's key for the member
    assert (claim.patient_last_name, claim.patient_first_name) == ("DIMPSON", "DJ")  # 2010CA, not 2010BA
    assert claim.patient_birth_date == date(1948, 6, 1)  # 2010CA's DMG
    assert (claim.rendering_npi, claim.service_facility_npi, claim.service_facility_name) == (
        "2366552595", "1235767887", "ASSOCIATED MEDICAL GROUP")  # 2310B, 2310C  # fmt: skip
    assert [(n.procedure_code, n.units, n.date_of_service, n.rendering_npi) for n in claim.lines] == [
        ("99201", Decimal("1.00"), date(2005, 10, 31), "2366552595"),
        ("26010", Decimal("1.00"), date(2005, 10, 31), "2366552595"),
    ]  # no 2420A: each line is the claim's rendering provider


def test_medicaid_referrals_are_claim_level() -> None:
    claims, _ = _sample("oopx12__MedicaidExample.txt")
    assert [(c.referral, c.prior_authorization, c.frequency) for c in claims] == [("99999999", None, "9")] * 5
    assert all(n.referral is None for c in claims for n in c.lines)  # the REF*9F is in 2300, not 2400
    assert [n.units for n in claims[0].lines] == [Decimal("99.99"), Decimal("9.99")]


def test_batch1_4010_takes_2300_prior_authorizations_not_the_other_payers() -> None:
    claims, _ = _sample("oopx12__Batch1.txt")
    assert {(c.kind, c.version) for c in claims} == {("837I", "004010X096A1")}
    taken = [(i, c.prior_authorization) for i, c in enumerate(claims) if c.prior_authorization]
    assert taken == [(7, "999999999999999999"), (20, "NPN"), (22, "999999"), (28, "X9999999"), (43, "9999999999"),
                     (47, "999999")]  # fmt: skip
    # claims 7, 8 and 9 each have a REF*G1*9999999999 in 2330B (the secondary payer's): never the claim's
    assert [c.prior_authorization for c in claims[7:10]] == ["999999999999999999", None, None]
    assert sum(1 for c in claims for n in c.lines if n.date_of_service) == STATS["oopx12__Batch1.txt"]["DTP472"]
    first = claims[0].lines[0]
    assert (first.revenue_code, first.procedure_code, first.units) == ("9999", "99999", Decimal(1))


def test_st1309_line_control_and_cr_terminator() -> None:
    [claim], _ = _sample("oopx12__ST1309-XX.txt")
    assert [(n.number, n.procedure_code, n.line_control) for n in claim.lines] == [(1, "99204", "17053"),
                                                                                  (2, "73610", "17054")]  # fmt: skip
    assert claim.payer_id == "91919191"  # the primary payer; the 2330B secondary is skipped


def test_institutional_revenue_code_hcpcs_units_and_statement_date() -> None:
    first, second = _sample("lfh__two-claims-single-provider.837i")[0]
    assert (first.kind, first.statement_from, second.statement_from) == ("837I", date(2005, 3, 15), date(2005, 4, 1))
    assert [(n.revenue_code, n.procedure_code, n.charge, n.units) for n in first.lines] == [
        ("0305", "85025", Decimal("13.39"), Decimal("1.00")),
        ("0730", "93005", Decimal("76.56"), Decimal("3.00")),
    ]
    assert (second.member_id, second.patient_control_number) == ("123405074", "756049Q")  # its own subscriber HL
    [x223], _ = _sample("ims__x223-test.txt")
    assert [(n.revenue_code, n.procedure_code, n.units, n.date_of_service) for n in x223.lines] == [
        ("0300", "81099", Decimal(1), date(2005, 3, 14))]  # ISA11 'U' does not split "UN"  # fmt: skip
    # its NM1*77 comes after the secondary and tertiary payers' loops (2330), not in 2310E: not this claim's
    assert (x223.payer_id, x223.service_facility_npi) == ("11122333", None)


def test_composites_written_with_another_separator_are_read_with_a_warning() -> None:
    [claim], report = _sample("lfh__demo.example11.837")
    assert (claim.place_of_service, claim.frequency) == ("11", "1")  # CLM05 11>B>1 under ISA16 ':'
    assert [(n.procedure_code, n.modifiers) for n in claim.lines] == [("E0570", ("RR",)), ("A7003", ("NU",))]
    assert [w.segment for w in report.warnings] == [21, 32, 36]
    [spec], report = _sample("oopx12__Spec_3.1.1.txt")
    assert (spec.kind, spec.version, spec.frequency) == ("837I", "005010X223", "1")  # ST03 is read, not GS08 X222
    assert report.warnings[0].message == "GS08 '005010X222' and ST03 '005010X223' name different guides: ST03 is read"


def test_rendering_npi_only_with_an_npi_qualifier() -> None:
    claims, _ = _sample("ims__x12_complex.txt")
    # 2310B NM1*82 there has NM108 'X' (no NPI qualifier); the one 2420A with XX is that line's own
    assert {c.rendering_npi for c in claims} == {None}
    assert [(n.number, n.rendering_npi) for n in claims[1].lines] == [(3, "303304")]
    assert {c.service_facility_npi for c in claims} == {"1223939"}


def test_no_sample_warning_carries_claim_data() -> None:
    for name in READABLE:
        claims, report = _sample(name)
        values = {v for c in claims for v in (c.member_id, c.patient_last_name, c.patient_first_name,
                                               c.patient_control_number, c.billing_name, c.payer_id) if v}  # fmt: skip
        text = "\n".join(w.message for w in report.warnings)
        leaked = sorted(v for v in values if len(v) >= 5 and v in text)
        assert leaked == [], name


# -- hand-written files. Positions: ISA 1, GS 2, ST 3, BHT 4, HL 5, NM1*85 6, HL 7, SBR 8,
#    NM1*IL 9, DMG 10, NM1*PR 11; the body starts at 12.

MEMBER, LAST, FIRST, PCN = "MBR-SECRET-77", "PATIENTLAST", "PATIENTFIRST", "PCN-SECRET-9"
ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261201*1200*^*00501*000000001*0*T*:"
HEAD = [ISA, "GS*HC*S*R*20261201*1200*1*X*005010X222A1", "ST*837*0001*005010X222A1",
        "BHT*0019*00*1*20261201*1200*CH", "HL*1**20*1", "NM1*85*2*MAIN ST BH*****XX*1234567893", "HL*2*1*22*0",
        "SBR*P*18*******CI", f"NM1*IL*1*{LAST}*{FIRST}****MI*{MEMBER}", "DMG*D8*19700102*F",
        "NM1*PR*2*AETNA*****PI*60054"]  # fmt: skip
BODY = 12
CLM = f"CLM*{PCN}*220***11:B:1*Y*A*Y*Y"
LINE = ["LX*1", "SV1*HC:90837*220*UN*1***1", "DTP*472*D8*20261002"]


def _file(*body: str, head: list[str] = HEAD, trailer: bool = True) -> bytes:
    segments = [*head, *body]
    if trailer:
        segments += [f"SE*{len(segments) - 1}*0001", "GE*1*1", "IEA*1*000000001"]
    return ("~\n".join(segments) + "~\n").encode()


def _refused(raw: bytes) -> X12Error:
    with pytest.raises(X12Error) as refused:
        _read(raw)
    return refused.value


def test_a_hand_written_file_reads_clean() -> None:
    [claim], report = _read(_file(CLM, "REF*G1*AUTH-1", "REF*9F*REF-1", "HI*BK*8901*BF*87200", *LINE))
    assert report.warnings == [] and (report.claims, report.lines, report.transactions) == (1, 1, 1)
    assert (claim.position, claim.payer_id, claim.member_id, claim.prior_authorization, claim.referral) == (
        BODY, "60054", MEMBER, "AUTH-1", "REF-1")  # a malformed HI is not read at all  # fmt: skip
    assert (claim.patient_last_name, claim.patient_first_name) == (LAST, FIRST)  # the subscriber is the patient
    assert claim.patient_birth_date == date(1970, 1, 2)


def test_other_payers_numbers_in_2320_2330b_are_not_the_claims() -> None:
    body = [CLM, "REF*F8*ICN-OURS", "SBR*S*18*******CI", "OI***Y***Y", "NM1*IL*1*OTHER*SUB****MI*OTHER-MEMBER",
            "NM1*PR*2*OTHER PAYER*****PI*OTHERPAYER", "REF*G1*NOT-OURS", "REF*9F*NOT-OURS", "REF*F8*NOT-OURS",
            "NM1*82*1*OTHER*REND****XX*9999999991", "LX*1", "SV1*HC:90837*220*UN*1***1", "DTP*472*D8*20261002",
            "REF*G1*LINE-AUTH", "REF*9F*LINE-REF", "REF*6R*LINE-9"]  # fmt: skip
    [claim], report = _read(_file(*body))
    assert report.warnings == []
    assert (claim.payer_id, claim.member_id) == ("60054", MEMBER)  # not 2330A/2330B's
    assert (claim.prior_authorization, claim.referral, claim.payer_claim_control_number) == (None, None, "ICN-OURS")
    assert claim.rendering_npi is None  # the NM1*82 after the SBR is 2330D, the other payer's
    [line] = claim.lines
    assert (line.prior_authorization, line.referral, line.line_control) == ("LINE-AUTH", "LINE-REF", "LINE-9")


def test_line_rendering_provider_overrides_the_claims_only_with_an_npi() -> None:
    body = [CLM, "NM1*82*1*REND*CLAIM****XX*1111111112", "PRV*PE*PXC*101YM0800X", "REF*G2*NOT-A-CLAIM-REF",
            "NM1*77*2*CLINIC*****XX*2222222223", "LX*1", "SV1*HC:90837*220*UN*1***1",
            "NM1*82*1*REND*LINE****XX*3333333334", "LX*2", "SV1*HC:90834*100*UN*2***1",
            "NM1*82*1*REND*EIN****24*123456789"]  # fmt: skip
    [claim], _ = _read(_file(*body))
    assert (claim.rendering_npi, claim.service_facility_npi, claim.service_facility_name) == (
        "1111111112", "2222222223", "CLINIC")  # fmt: skip
    assert claim.prior_authorization is None  # REF*G2 in 2310B is the provider's id, and no G1
    assert [(n.number, n.rendering_npi, n.units) for n in claim.lines] == [(1, "3333333334", Decimal(1)),
                                                                          (2, "1111111112", Decimal(2))]  # fmt: skip


def test_a_service_line_without_its_lx_is_numbered_by_position_with_a_warning() -> None:
    body = [CLM, "SV1*HC:90837*220*UN*1***1", "DTP*472*D8*20261002", "LX*1", "SV1*HC:90834*100*UN*1***1",
            "SV1*HC:90791*150*UN*1***1"]  # fmt: skip
    [claim], report = _read(_file(*body))
    assert [(n.number, n.procedure_code, n.date_of_service) for n in claim.lines] == [
        (1, "90837", date(2026, 10, 2)), (1, "90834", None), (3, "90791", None)]  # fmt: skip
    assert [(w.code, w.segment) for w in report.warnings] == [("claim.lx_missing", BODY + 1),
                                                              ("claim.lx_missing", BODY + 5)]  # fmt: skip


def test_nested_hl_defects_warn_and_the_claims_follow_segment_order() -> None:
    body = [
        "HL*3*2*23*0", "PAT*19", "NM1*QC*1*CHILDLAST*CHILDFIRST", "DMG*D8*20150304*M", CLM, *LINE,  # 12..19
        "HL*2*1*22*0", "SBR*P*18*******CI", "NM1*IL*1*SECONDLAST*SECONDFIRST****MI*MBR-SECOND",  # 20..22: HL 2 again
        "NM1*PR*2*CIGNA*****PI*62308", "HL*5*9*23*0", "NM1*QC*1*ORPHANLAST*ORPHANFIRST",  # 23..25: HL02 9 unknown
        "CLM*PCN-2*100***11:B:7", "REF*F8*ICN-1", *LINE,  # 26..30
        "HL*6*2*22*0", "SBR*P*18*******CI", "NM1*IL*1*THIRDLAST*THIRDFIRST****MI*MBR-THIRD",  # 31..33
        "NM1*PR*2*UHC*****PI*87726", "CLM*PCN-3*100***11:B:8", *LINE,  # 34..38: no patient HL: the subscriber
    ]  # fmt: skip
    claims, report = _read(_file(*body))
    assert [(w.code, w.segment) for w in report.warnings] == [("hl.duplicate_id", BODY + 8),
                                                              ("hl.unknown_parent", BODY + 12)]  # fmt: skip
    assert [(c.payer_id, c.member_id, c.patient_last_name, c.frequency) for c in claims] == [
        ("60054", MEMBER, "CHILDLAST", "1"), ("62308", "MBR-SECOND", "ORPHANLAST", "7"),
        ("87726", "MBR-THIRD", "THIRDLAST", "8")]  # fmt: skip
    assert claims[0].patient_birth_date == date(2015, 3, 4) and claims[1].payer_claim_control_number == "ICN-1"
    assert claims[2].patient_birth_date is None  # the third subscriber has no DMG: nothing carried over
    text = "\n".join(w.message for w in report.warnings)
    for value in (MEMBER, LAST, FIRST, PCN, "CHILDLAST", "MBR-SECOND", "ORPHANLAST"):
        assert value not in text


@pytest.mark.parametrize(
    ("body", "at", "problem"),
    [
        ([CLM.replace("*220*", "*1_000*"), *LINE], BODY, "CLM02 '1_000' is not an amount"),
        ([CLM.replace("*220*", "*1e3*"), *LINE], BODY, "CLM02 '1e3' is not an amount"),
        ([CLM.replace("*220*", "*+220*"), *LINE], BODY, "CLM02 '+220' is not an amount"),
        ([CLM.replace("*220*", "*Infinity*"), *LINE], BODY, "CLM02 'Infinity' is not an amount"),
        ([CLM.replace("*220*", "*220.001*"), *LINE], BODY, "CLM02 '220.001' has fractions of a cent"),
        ([CLM, "LX*1", "SV1*HC:90837*220*UN*1_0***1"], BODY + 2, "SV104 '1_0' is not a number"),
        ([CLM, "LX*1", "SV1*HC:90837*2,20*UN*1***1"], BODY + 2, "SV102 '2,20' is not an amount"),
        ([CLM, *LINE[:2], "DTP*472*D8*20260230"], BODY + 3, "DTP03 '20260230' is not a date"),
        ([CLM, *LINE[:2], "DTP*472*TM*1200"], BODY + 3, "DTP02 'TM' is not a date format"),
        ([CLM, "LX*1", "SV1*90837*220*UN*1"], BODY + 2, "SV101 '90837' is not a qualifier and procedure code"),
        (["CLM**220***11:B:1", *LINE], BODY, "CLM01 (patient control number) is missing"),
        ([CLM, "REF*G1*AUTH-1"], BODY, "the claim this CLM opens has no service line"),
        (LINE, BODY, "LX outside a claim (no CLM before it)"),
    ],
)  # fmt: skip
def test_damage_is_refused_at_the_segment(body: list[str], at: int, problem: str) -> None:
    refused = _refused(_file(*body))
    assert refused.position == at and refused.problem.startswith(problem)
    assert PCN not in str(refused) and MEMBER not in str(refused)


def test_a_claim_before_any_payer_is_refused_at_the_clm() -> None:
    refused = _refused(_file(CLM, *LINE, head=HEAD[:-1]))
    assert (refused.position, refused.problem) == (BODY - 1, "CLM before the payer's NM1*PR (loop 2010BB): the claim "
                                                             "has no payer")  # fmt: skip


def test_a_payer_does_not_carry_over_to_the_next_subscriber() -> None:
    raw = _file(CLM, *LINE, "HL*3*1*22*0", "SBR*P*18*******CI", "NM1*IL*1*B*A****MI*OTHER", "CLM*PCN-2*10***11:B:1",
                *LINE)  # fmt: skip
    claims = read_837(io.BytesIO(raw))
    assert next(claims).payer_id == "60054"  # streamed: the first claim is out before the damage is met
    with pytest.raises(X12Error, match="CLM before the payer's NM1") as refused:
        next(claims)
    assert refused.value.position == BODY + 7


def test_a_file_cut_inside_a_claim_is_refused() -> None:
    refused = _refused(_file(CLM, *LINE[:2], trailer=False))
    assert (refused.position, refused.problem.split(":")[0]) == (3, "the file ends inside the transaction set this ST "
                                                                    "opens (no SE)")  # fmt: skip
    whole = _file(CLM, *LINE)
    cut = whole[: whole.index(b"SV1*HC:9") + 8]  # inside the SV1, no terminator
    refused = _refused(cut)
    assert (refused.position, refused.problem) == (BODY + 2, "the file ends inside a 'SV1' segment (no terminator)")


@pytest.mark.parametrize(
    ("raw", "at", "problem"),
    [
        (b"", 0, "the file is empty"),
        (b"  \r\n\n", 0, "the file is empty"),
        (b"NOT X12 AT ALL", 1, "expected an ISA interchange header, found 'NOT'"),
        (bytes(range(256)), 1, "expected an ISA interchange header, found 'other text'"),
        (b"ISA*00*", 1, "the file ends inside the ISA interchange header"),
        (_file(CLM, *LINE).decode().encode("utf-16-le"), 1, "the file is UTF-16"),
        (_file(CLM, *LINE).decode().encode("utf-16"), 1, "the file is UTF-16"),  # with its BOM
        (_file(CLM, *LINE).decode().encode("utf-16-be"), 1, "the file is UTF-16"),
        (_file(CLM, *LINE).replace(b"GS*HC", b"GS*HP"), 2, "GS01 'HP': an 837 travels in a HC functional group"),
        (_file(CLM, *LINE).replace(b"ST*837", b"ST*835"), 3, "transaction set '835' is not an 837 claim"),
    ],
)  # fmt: skip
def test_what_is_not_an_837_is_refused(raw: bytes, at: int, problem: str) -> None:
    refused = _refused(raw)
    assert refused.position == at and refused.problem.startswith(problem)


def test_a_bare_institutional_transaction_takes_its_kind_from_sv2() -> None:
    body = ["ST*837*0001", "BHT*0019*00*1*20261201*1200*CH", *HEAD[4:], "CLM*PCN-I*300***13:A:1",
            "DTP*434*RD8*20261001-20261003", "LX*1", "SV2*0450*HC:99283*300*UN*2", "DTP*472*D8*20261001"]  # fmt: skip
    [claim], report = _read(("~".join([*body, f"SE*{len(body) + 1}*0001"]) + "~").encode())
    assert (claim.kind, claim.version, claim.statement_from) == ("837I", "", date(2026, 10, 1))
    assert [(n.revenue_code, n.procedure_code, n.units) for n in claim.lines] == [("0450", "99283", Decimal(2))]
    assert [w.code for w in report.warnings] == ["envelope.isa_missing"]


def test_gs08_and_st03_disagreeing_is_a_warning_and_st03_is_read() -> None:
    head = [*HEAD[:2], "ST*837*0001*005010X223A2", *HEAD[3:]]
    [claim], report = _read(_file(CLM, "LX*1", "SV2*0450*HC:99283*300*UN*2", head=head))
    assert (claim.kind, claim.version) == ("837I", "005010X223A2")
    assert [(w.code, w.segment) for w in report.warnings] == [("envelope.guide_mismatch", 3)]


def test_envelope_counts_wrong_are_warnings() -> None:
    raw = _file(CLM, *LINE).replace(b"SE*", b"SE*9").replace(b"GE*1*1", b"GE*2*1")
    [claim], report = _read(raw)
    assert [(w.code, w.segment) for w in report.warnings] == [("envelope.se01_count", BODY + 4),
                                                              ("envelope.ge01_count", BODY + 5)]  # fmt: skip
    assert claim.lines[0].procedure_code == "90837"


def test_the_reader_streams() -> None:
    """A file of several chunks yields its first claim after reading about one chunk."""

    class Counting(io.BytesIO):
        consumed = 0

        def read(self, size: int | None = -1, /) -> bytes:
            out = super().read(size)
            self.consumed += len(out)
            return out

    many = [segment for k in range(40_000) for segment in (f"CLM*P{k}*220***11:B:1", *LINE)]
    stream = Counting(_file(*many))
    assert len(stream.getbuffer()) > 3 * CHUNK
    claims = read_837(stream)
    assert next(claims).patient_control_number == "P0" and stream.consumed <= CHUNK
    assert Counter(c.frequency for c in claims) == {"1": 39_999}
