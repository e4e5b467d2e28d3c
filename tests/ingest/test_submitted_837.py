"""The 837 reader on every sample (each read with the counts its provenance gives, or refused
naming why), against pyx12 on the files it reads, and on hostile files written here: what is
intact is read with a warning, what is not is refused naming the segment, and no warning
carries claim data."""

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.intake.x12.submitted import ReadReport837, SubmittedClaim, read_837
from engine.intake.x12.tokens import X12Error
from tests.ingest.pyx12_reference import reference_view

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "837"
STATS = {s["file"]: s for s in json.loads((SAMPLES / "sample_stats.json").read_text())}
FILES = sorted(p.name for p in SAMPLES.iterdir() if p.suffix not in (".md", ".json"))
REFUSED = {"oopx12__UnicodeExample.txt": "segment 1: the file is UTF-16"}
#: What pyx12 cannot read, and why (the rest it reads and must agree on).
PYX12_CANNOT = {
    "ims__x12_bad_first_line.txt": "its ISA02 is 9 characters: pyx12 reads the ISA by fixed offsets",
    "lfh__demo.autoaccident.837": "005010X222A2: pyx12 has no map for that guide",
    "lfh__demo.example11.837": "005010X222A2: no map",
    "lfh__ppo-repriced-claim.837i": "005010X223A3: no map",
    "lfh__two-claims-single-provider.837i": "005010X223A3: no map",
    "oopx12__Batch1.txt": "4010 with masked codes: pyx12's map walk fails (AttributeError)",
    "oopx12__Example1_2_And_3_Combined.txt": "bare guide 005010X222: no map",
    "oopx12__MedicaidExample.txt": "masked codes: pyx12's map walk fails (AttributeError)",
    "oopx12__Spec_3.1.1.txt": "GS08 005010X222 on an institutional claim: no map",
    "oopx12__UnicodeExample.txt": "UTF-16: refused by both",
}


def _read(raw: bytes) -> tuple[list[SubmittedClaim], ReadReport837]:
    report = ReadReport837()
    return list(read_837(io.BytesIO(raw), report)), report


@pytest.mark.parametrize("name", FILES)
def test_every_sample_reads_with_its_counts_or_is_refused_saying_why(name: str) -> None:
    raw = (SAMPLES / name).read_bytes()
    if name in REFUSED:
        with pytest.raises(X12Error, match=REFUSED[name]):
            _read(raw)
        return
    claims, report = _read(raw)
    stats = STATS[name]
    assert len(claims) == report.claims == stats["CLM"]
    assert sum(len(c.lines) for c in claims) == stats["SV1"] + stats["SV2"] + stats["SV3"]
    frequencies: dict[str, int] = {}
    for c in claims:
        frequencies[c.frequency or ""] = frequencies.get(c.frequency or "", 0) + 1
    assert frequencies == stats["freq"]
    assert all(c.payer_id and c.patient_control_number and c.kind in ("837P", "837I") for c in claims)


@pytest.mark.parametrize("name", [n for n in FILES if n not in PYX12_CANNOT])
def test_pyx12_reads_the_same_claims(name: str) -> None:
    ours, _ = _read((SAMPLES / name).read_bytes())
    theirs = reference_view(SAMPLES / name)
    assert len(ours) == len(theirs) > 0
    for mine, ref in zip(ours, theirs, strict=True):
        assert (mine.payer_id, mine.member_id, mine.patient_control_number, mine.frequency, mine.prior_authorization,
                mine.referral) == (ref["payer_id"], ref["member_id"], ref["pcn"], ref["frequency"],
                                   ref["prior_authorization"], ref["referral"])  # fmt: skip
        lines = [(n.procedure_code, n.units, n.date_of_service.strftime("%Y%m%d") if n.date_of_service else None)
                 for n in mine.lines]  # fmt: skip
        assert lines == [(r["procedure"], r["units"], r["date_of_service"]) for r in ref["lines"]]


def test_the_fields_the_check_reads() -> None:
    [uhin], _ = _read((SAMPLES / "uhin__837.edi").read_bytes())
    assert (uhin.payer_id, uhin.member_id, uhin.patient_control_number, uhin.kind) == ("FLHIN", "601239742", "1606",
                                                                                      "837P")  # fmt: skip
    assert [(n.procedure_code, n.units, n.date_of_service) for n in uhin.lines] == [
        ("90834", Decimal(1), date(2024, 8, 15))]  # an RD8 range: its first day  # fmt: skip
    [auto], _ = _read((SAMPLES / "lfh__demo.autoaccident.837").read_bytes())
    assert auto.patient_last_name == "DIMPSON"  # the patient (2010CA), not the subscriber
    assert (auto.rendering_npi, auto.service_facility_npi) == ("2366552595", "1235767887")
    assert all(n.rendering_npi == "2366552595" for n in auto.lines)  # the claim's rendering provider
    medicaid, _ = _read((SAMPLES / "oopx12__MedicaidExample.txt").read_bytes())
    assert [c.referral for c in medicaid] == ["99999999"] * 5
    batch, _ = _read((SAMPLES / "oopx12__Batch1.txt").read_bytes())
    assert sum(1 for c in batch if c.prior_authorization) == 6  # 2300's; the 3 in 2330B are other payers'
    [xx], _ = _read((SAMPLES / "oopx12__ST1309-XX.txt").read_bytes())
    assert [n.line_control for n in xx.lines] == ["17053", "17054"]
    two, _ = _read((SAMPLES / "lfh__two-claims-single-provider.837i").read_bytes())
    assert [(n.revenue_code, n.procedure_code, n.units) for n in two[0].lines] == [
        ("0305", "85025", Decimal(1)), ("0730", "93005", Decimal(3))]  # fmt: skip


ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261201*1200*^*00501*000000001*0*T*:~"
HEAD = [ISA, "GS*HC*S*R*20261201*1200*1*X*005010X222A1", "ST*837*0001*005010X222A1", "BHT*0019*00*1*20261201*1200*CH",
        "HL*1**20*1", "NM1*85*2*MAIN ST BH*****XX*1234567893", "HL*2*1*22*0", "SBR*P*18*******CI",
        "NM1*IL*1*PATIENT*ADA****MI*MBR-SECRET-1", "DMG*D8*19700102*F", "NM1*PR*2*AETNA*****PI*AETNA"]  # fmt: skip
CLAIM = ["CLM*PCN-9*220***11:B:1*Y*A*Y*Y", "REF*G1*AUTH-1", "LX*1", "SV1*HC:90837*220*UN*1***1",
         "DTP*472*D8*20261002"]  # fmt: skip


def _file(*body: str, trailer: bool = True) -> bytes:
    segments = [*HEAD, *body]
    if trailer:
        segments += [f"SE*{len(segments) - 1}*0001", "GE*1*1", "IEA*1*000000001"]
    return ("~".join(segments) + "~").encode()


def test_a_written_file_reads_clean() -> None:
    [claim], report = _read(_file(*CLAIM))
    assert report.warnings == [] and claim.prior_authorization == "AUTH-1" and claim.frequency == "1"


def test_another_payers_authorization_in_2330b_is_not_the_claims() -> None:
    body = ["CLM*PCN-9*220***11:B:1*Y*A*Y*Y", "SBR*S*18*******CI", "NM1*IL*1*OTHER*SUB****MI*X1",
            "NM1*PR*2*OTHER PAYER*****PI*OTHER", "REF*G1*NOT-OURS", "LX*1", "SV1*HC:90837*220*UN*1***1",
            "DTP*472*D8*20261002"]  # fmt: skip
    [claim], _ = _read(_file(*body))
    assert claim.prior_authorization is None and claim.payer_id == "AETNA"


LINE, DOS = ["LX*1", "SV1*HC:90837*220*UN*1"], "DTP*472*D8*20261002"


@pytest.mark.parametrize(("body", "match"), [
    (["CLM*PCN-9*1_000***11:B:1", *LINE, DOS], "CLM02 '1_000' is not an amount"),
    (["CLM*PCN-9*220***11:B:1", "LX*1", "SV1*HC:90837*1e3*UN*1", DOS], "SV102 '1e3' is not an amount"),
    (["CLM*PCN-9*220***11:B:1", *LINE, "DTP*472*D8*20261399"], "DTP03 '20261399' is not a date"),
    (LINE, "LX outside a claim"),
    (["CLM*PCN-9*220***11:B:1", "REF*G1*AUTH-1"], "has no service line"),
    (["CLM*PCN-9*220***11:B:1", "LX*1", "SV1*90837*220*UN*1"], "SV101 '90837' is not a qualifier and procedure"),
])  # fmt: skip
def test_damage_that_makes_a_claim_uncertain_is_refused_naming_the_segment(body: list[str], match: str) -> None:
    with pytest.raises(X12Error, match=match) as refused:
        _read(_file(*body))
    assert str(refused.value).startswith("segment ")


def test_a_claim_before_any_payer_is_refused() -> None:
    raw = _file(*CLAIM).replace(b"NM1*PR*2*AETNA*****PI*AETNA~", b"")
    with pytest.raises(X12Error, match="CLM before the payer's NM1\\*PR"):
        _read(raw)


def test_a_file_cut_inside_a_claim_is_refused() -> None:
    with pytest.raises(X12Error, match="the file ends inside the transaction set"):
        _read(_file(*CLAIM[:3], trailer=False))


@pytest.mark.parametrize(
    "raw", [b"", b"\x00\xff" * 64, b"NOT X12 AT ALL", "I\x00S\x00A\x00*\x00".encode("latin-1") * 8]
)
def test_garbage_is_refused(raw: bytes) -> None:
    with pytest.raises(X12Error):
        _read(raw)


def test_defects_the_claims_survive_are_warnings_without_claim_data() -> None:
    body = [
        "HL*2*1*22*0",
        "NM1*IL*1*PATIENT*ADA****MI*MBR-SECRET-1",
        "NM1*PR*2*AETNA*****PI*AETNA",
        "HL*3*9*23*0",
        "NM1*QC*1*CHILD*BO",
        *CLAIM[:2],
        "SV1*HC:90837*220*UN*1***1",
        "DTP*472*D8*20261002",
    ]
    raw = _file(*body).replace(b"SE*", b"SE*9")  # a wrong count as well
    [claim], report = _read(raw)
    assert sorted(report.codes) == ["claim.lx_missing", "envelope.se01_count", "hl.duplicate_id", "hl.unknown_parent"]
    assert claim.patient_last_name == "CHILD" and claim.member_id == "MBR-SECRET-1" and claim.lines[0].number == 1
    text = " ".join(w.message for w in report.warnings)
    assert "MBR-SECRET" not in text and "PATIENT" not in text and "CHILD" not in text and "PCN-9" not in text
