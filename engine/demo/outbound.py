"""A small, invented X12 837P for the demo: what the billing system is about to send, checked
before the payer sees it. Three claims: one that passes (the authorization on file, its
number on the claim), one missing the number of the authorization on file, one for a partial
hospitalization day the payer authorizes and nobody asked for; and a second authorization
that runs out soon (a few days and sessions left). Patients are invented."""

from datetime import date, timedelta
from typing import Any


#: An authorization close to its end at the engine's clock: in the team's queue at once.
def expiring_authorization(today: date, start: date) -> dict[str, Any]:
    return {"payer_id": "AETNA", "reference": "AUTH-DEMO-4480", "member_id": "MBR-DEMO-0003", "auth_type": "concurrent",
            "procedure_codes": ["90837"], "units_approved": 8, "units_used": 6, "obtained_on": start.isoformat(),
            "valid_from": start.isoformat(), "valid_to": (today + timedelta(days=5)).isoformat()}  # fmt: skip


_CLAIMS = [
    # passes: AUTH-DEMO-4471 covers 90837 for this member, its number is on the claim
    ("PCN-9001", "RIVERA*SAM", "MBR-DEMO-0001", "REF*G1*AUTH-DEMO-4471", "HC:90837", "220"),
    # held: the authorization is on file, its number is not on the claim
    ("PCN-9002", "RIVERA*SAM", "MBR-DEMO-0001", None, "HC:90834", "160"),
    # held: a partial hospitalization day (H0035) needs an authorization at AETNA; none is on file
    ("PCN-9003", "CHEN*ALEX", "MBR-DEMO-0002", None, "HC:H0035", "650"),
    # passes and takes one of the last sessions of AUTH-DEMO-4480
    ("PCN-9004", "OKAFOR*BEN", "MBR-DEMO-0003", "REF*G1*AUTH-DEMO-4480", "HC:90837", "220"),
]  # fmt: skip


def demo_claims(made: date, service: date) -> bytes:
    """The demo 837P, made on ``made`` for services on ``service``."""
    body = [
        f"BHT*0019*00*DEMO{made:%Y%m%d}*{made:%Y%m%d}*0900*CH",
        "NM1*41*2*MAIN ST BEHAVIORAL HEALTH*****46*DEMO",
        "NM1*40*2*CLEARINGHOUSE*****46*CH",
        "HL*1**20*1",
        "NM1*85*2*MAIN ST BEHAVIORAL HEALTH*****XX*1234567893",
    ]
    for n, (pcn, name, member, ref, code, charge) in enumerate(_CLAIMS):
        body += [f"HL*{n + 2}*1*22*0", "SBR*P*18*******CI", f"NM1*IL*1*{name}****MI*{member}",
                 "NM1*PR*2*AETNA*****PI*AETNA", f"CLM*{pcn}*{charge}***11:B:1*Y*A*Y*Y", *([ref] if ref else []),
                 "LX*1", f"SV1*{code}*{charge}*UN*1***1", f"DTP*472*D8*{service:%Y%m%d}"]  # fmt: skip
    transaction = ["ST*837*0001*005010X222A1", *body]
    segments = [
        f"ISA*00*          *00*          *ZZ*DENIALFLOW     *ZZ*CLEARINGHOUSE  *{made:%y%m%d}*0900*^*00501*"
        "000000201*0*P*:",
        f"GS*HC*DENIALFLOW*CLEARINGHOUSE*{made:%Y%m%d}*0900*201*X*005010X222A1",
        *transaction, f"SE*{len(transaction) + 1}*0001", "GE*1*201", "IEA*1*000000201",
    ]  # fmt: skip
    return "".join(f"{s}~\n" for s in segments).encode()
