"""A small, invented X12 835 for the demo: what a clearinghouse delivers on a Monday.

Two payers' remittances in one interchange: paid lines with coinsurance and contractual
write-downs (skipped, not denials), an authorization denial the practice holds an
authorization for (the checklist names the fix), a claim denied outright for
eligibility, a missing rendering-provider id (a remark refines CO-16), a medical
necessity denial, a timely-filing denial, a $0 line the deductible absorbed (CO-45 with
PR-1: the contract at work, not a denial), and the reversal of an earlier paid claim
(kept for review). Patients are invented.
"""

from datetime import date

#: The authorization on file for the authorization denial below (`authorization.recorded` data).
DEMO_AUTHORIZATION = {
    "payer_id": "AETNA", "reference": "AUTH-DEMO-4471", "member_id": "MBR-DEMO-0001", "auth_type": "prior",
    "procedure_codes": ["90834", "90837"], "rendering_npi": "1234567893", "units_approved": 12, "units_used": 3,
    "obtained_on": "2026-08-01", "valid_from": "2026-08-01", "valid_to": "2026-12-31",
}  # fmt: skip

_AETNA = [
    "N1*PR*AETNA*PI*AETNA", "N1*PE*MAIN ST BEHAVIORAL HEALTH*XX*1234567893", "LX*1",
    # paid 90837 (coinsurance, contractual) + 90834 denied: no authorization number on the claim
    "CLP*PCN-7001*1*380.00*130.00*30.00*12*AET-26-7001", "NM1*QC*1*RIVERA*SAM****MI*MBR-DEMO-0001",
    "NM1*82*1*LEE*JORDAN****XX*1234567893", "DTM*232*{dos}",
    "SVC*HC:90837*220.00*130.00**1", "DTM*472*{dos}", "CAS*PR*2*30.00", "CAS*CO*45*60.00",
    "SVC*HC:90834*160.00*0**1", "DTM*472*{dos}", "CAS*CO*197*160.00", "LQ*HE*N54",
    # denied outright at claim level: coverage ended before the visit
    "CLP*PCN-7002*4*240.00*0*0*12*AET-26-7002", "CAS*CO*27*240.00", "NM1*QC*1*CHEN*ALEX****MI*MBR-DEMO-0002",
    "DTM*232*{dos}", "SVC*HC:90791*240.00*0**1", "DTM*472*{dos}",
    # rendering provider id missing: CO-16 refined by N290 (credentialing)
    "CLP*PCN-7003*1*180.00*0*0*12*AET-26-7003", "NM1*QC*1*OKAFOR*BEN****MI*MBR-DEMO-0003",
    "SVC*HC:99214*180.00*0**1", "DTM*472*{dos}", "CAS*CO*16*180.00", "LQ*HE*N290",
    # reversal of a claim paid last month: no denial matches, kept for review
    "CLP*PCN-6950*22*-150.00*-150.00*0*12*AET-26-6950", "NM1*QC*1*RIVERA*SAM****MI*MBR-DEMO-0001",
    "SVC*HC:90837*-150.00*-150.00**-1", "DTM*472*{old}",
]  # fmt: skip
_UHC = [
    "N1*PR*UNITEDHEALTHCARE*XV*UHC", "N1*PE*RIVERSIDE OUTPATIENT*XX*1234567901", "LX*1",
    # testing not medically necessary
    "CLP*PCN-8001*1*1450.00*0*0*12*UHC-26-8001", "NM1*QC*1*NOVAK*ERIN****MI*MBR-DEMO-0004",
    "SVC*HC:96130*1450.00*0**5", "DTM*472*{dos}", "CAS*CO*50*1450.00",
    # filed late, and a line the deductible absorbed (CO-45 with PR-1 on $0: not a denial)
    "CLP*PCN-8002*1*300.00*0*0*12*UHC-26-8002", "NM1*QC*1*SILVA*RAE****MI*MBR-DEMO-0005",
    "SVC*HC:H0031*210.00*0**1", "DTM*472*{old}", "CAS*CO*29*210.00",
    "SVC*HC:90834*90.00*0**1", "DTM*472*{old}", "CAS*PR*1*30.00", "CAS*CO*45*60.00",
]  # fmt: skip


def _transaction(number: int, body: list[str], paid: str, remit: date, values: dict[str, str]) -> list[str]:
    header = [f"ST*835*{number:04d}", f"BPR*I*{paid}*C*ACH*CCP*01*999999992*DA*123456*1512345678**01*999988880*DA*"
              f"98765*{remit:%Y%m%d}", f"TRN*1*DEMO{remit:%Y%m%d}{number:02d}*1512345678"]  # fmt: skip
    segments = header + [s.format(**values) for s in body]
    return [*segments, f"SE*{len(segments) + 1}*{number:04d}"]


def demo_remittance(remit: date) -> bytes:
    """The demo 835, dated ``remit`` (services three and nine weeks earlier)."""
    values = {"dos": f"{date.fromordinal(remit.toordinal() - 21):%Y%m%d}",
              "old": f"{date.fromordinal(remit.toordinal() - 63):%Y%m%d}"}  # fmt: skip
    transactions = _transaction(1, _AETNA, "130.00", remit, values) + _transaction(2, _UHC, "0.00", remit, values)
    envelope = [
        f"ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*DENIALFLOW     *{remit:%y%m%d}*0800*^*00501*"
        "000000101*0*P*:",
        f"GS*HP*CLEARINGHOUSE*DENIALFLOW*{remit:%Y%m%d}*0800*101*X*005010X221A1",
        *transactions,
        "GE*2*101",
        "IEA*1*000000101",
    ]
    return "".join(f"{s}~\n" for s in envelope).encode()
