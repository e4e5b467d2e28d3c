"""Independent reference for the 837 reader: the same file, read by pyx12 (the HIPAA X12
validator and parser, its own tokenizer and the TR3 loop maps).

pyx12 walks the file against its map for the guide (005010X222A1 professional, 005010X223A2
institutional) and writes each loop as an element of a simple XML document; this module only
reads that XML: the payer (2010BB), the subscriber (2010BA), and per claim (2300) CLM01, the
frequency (CLM05-3), the claim's own REF*G1 / REF*9F (not the other payers' in 2330B), and per
service line (2400) the procedure code, units and date of service. A file pyx12 has no map
for raises `pyx12.errors.EngineError`.
"""

from __future__ import annotations

import io
import logging
import pathlib
from decimal import Decimal
from typing import Any, TypedDict

import pyx12.params
import pyx12.x12n_document
from defusedxml import ElementTree


class Line(TypedDict):
    procedure: str | None
    units: Decimal | None
    date_of_service: str | None


class Claim(TypedDict):
    payer_id: str | None
    member_id: str | None
    pcn: str | None
    frequency: str | None
    prior_authorization: str | None
    referral: str | None
    lines: list[Line]


def _value(seg: Any, element_id: str) -> str | None:
    for node in seg.iter():
        if node.get("id") == element_id and node.tag in ("ele", "subele"):
            return (node.text or "").strip() or None
    return None


def _segs(loop: Any, seg_id: str) -> list[Any]:
    return [child for child in loop if child.tag == "seg" and child.get("id") == seg_id]


def _line(loop: Any) -> Line:
    service = (_segs(loop, "SV1") or _segs(loop, "SV2"))[0]
    sv1 = service.get("id") == "SV1"
    units = _value(service, "SV104" if sv1 else "SV205")
    dates = [_value(s, "DTP03") for s in _segs(loop, "DTP") if _value(s, "DTP01") == "472"]
    return Line(procedure=_value(service, "SV101-02" if sv1 else "SV202-02"),
                units=Decimal(units) if units else None,
                date_of_service=dates[0].split("-")[0] if dates else None)  # fmt: skip


def reference_view(path: pathlib.Path) -> list[Claim]:
    """Every claim of the file, in order, as pyx12 reads it."""
    out = io.StringIO()
    text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("latin-1")  # pyx12 does not skip a BOM
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)  # it logs every TR3 finding (diagnoses, addresses)
    pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), fd_997=None, fd_html=None,
                                      fd_xmldoc=out)  # fmt: skip
    root = ElementTree.fromstring(out.getvalue())
    claims: list[Claim] = []
    context: dict[str, str | None] = {"payer": None, "member": None}

    def walk(node: Any) -> None:
        for child in node:
            if child.tag != "loop":
                continue
            loop = child.get("id")
            if loop == "2010BB":
                context["payer"] = _value(_segs(child, "NM1")[0], "NM109")
            elif loop == "2010BA":
                context["member"] = _value(_segs(child, "NM1")[0], "NM109")
            if loop == "2300":
                clm = _segs(child, "CLM")[0]
                refs = {_value(r, "REF01"): _value(r, "REF02") for r in _segs(child, "REF")}
                lines = [_line(x) for x in child if x.tag == "loop" and x.get("id") == "2400"]
                claims.append(Claim(payer_id=context["payer"], member_id=context["member"], pcn=_value(clm, "CLM01"),
                                    frequency=_value(clm, "CLM05-03"), prior_authorization=refs.get("G1"),
                                    referral=refs.get("9F"),
                                    lines=lines))  # fmt: skip
            else:
                walk(child)

    walk(root)
    return claims
