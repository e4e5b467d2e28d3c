"""Write small, well-formed 835 files for tests: the counts and control numbers add up, so a
test states only the claims it is about."""

from dataclasses import dataclass, field


@dataclass
class Line:
    procedure: str
    charge: str
    paid: str
    adjustments: list[tuple[str, str, str]] = field(default_factory=list)
    line_control: str | None = None
    service_date: str = "20261001"
    remarks: list[str] = field(default_factory=list)


@dataclass
class Claim:
    pcn: str
    status: str
    lines: list[Line]
    icn: str = "ICN-1"
    adjustments: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def charge(self) -> str:
        return f"{sum(float(ln.charge) for ln in self.lines):.2f}"

    @property
    def paid(self) -> str:
        return f"{sum(float(ln.paid) for ln in self.lines):.2f}"


def _cas(adjustments: list[tuple[str, str, str]]) -> list[str]:
    return [f"CAS*{g}*{r}*{a}" for g, r, a in adjustments]


def remittance(claims: list[Claim], trace: str = "TRN-1", paid_on: str = "20261015", payer: str = "AETNA") -> bytes:
    """One ISA/GS/ST interchange paying ``claims`` under ``trace`` on ``paid_on``."""
    total = sum(float(c.paid) for c in claims)
    body = [f"BPR*I*{total:.2f}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{paid_on}",
            f"TRN*1*{trace}*1512345678", f"DTM*405*{paid_on}", f"N1*PR*{payer} HEALTH*XV*{payer}",
            "N1*PE*NORTHSIDE BEHAVIORAL*XX*1234567893", "LX*1"]  # fmt: skip
    for c in claims:
        body.append(f"CLP*{c.pcn}*{c.status}*{c.charge}*{c.paid}**12*{c.icn}*11*1")
        body += _cas(c.adjustments)
        body.append("NM1*QC*1*DOE*JANE****MI*MEMBER001")
        for ln in c.lines:
            body.append(f"SVC*HC:{ln.procedure}*{ln.charge}*{ln.paid}**1")
            body.append(f"DTM*472*{ln.service_date}")
            body += _cas(ln.adjustments)
            if ln.line_control:
                body.append(f"REF*6R*{ln.line_control}")
            body += [f"LQ*HE*{r}" for r in ln.remarks]
    segments = [
        "ISA*00*          *00*          *ZZ*PAYER          *ZZ*PRACTICE       *261015*1200*^*00501*000000101*0*P*:",
        "GS*HP*PAYER*PRACTICE*20261015*1200*101*X*005010X221A1",
        "ST*835*0001",
        *body,
        f"SE*{len(body) + 2}*0001",
        "GE*1*101",
        "IEA*1*000000101",
    ]
    return ("~".join(segments) + "~").encode()
