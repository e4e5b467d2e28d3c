"""Independent reference for the differential test of our X12 835 parser: the same file, read by oxedi.

oxedi (Rust core, MIT) does all the parsing: it finds the ISA, reads the delimiters it declares, skips a
UTF-8 BOM and line breaks between segments, and splits segments, elements and components. This module only
walks oxedi's raw segments (``Result.document``) in file order and picks the values the differential test
compares. It never splits a string itself. It does not use oxedi's typed tables, because reading them needs
pyarrow and they have no column for REF*2U. Files that oxedi refuses raise ``oxedi.ParseError``, a subclass
of ``ValueError``. oxedi reports everything else it finds wrong as diagnostics, and this module ignores them.

Normalization: an empty or absent element is ``None``. An amount that is not a finite decimal (e.g. a
placeholder such as ``amount``) is also ``None``, just as oxedi's typed columns hold null for a TypeMismatch.
"""

from __future__ import annotations

import pathlib
from decimal import Decimal, InvalidOperation
from typing import TypedDict

import oxedi

Element = bytes | list[bytes]
Adjustment = tuple[str | None, str | None, Decimal | None]


class Line(TypedDict):
    procedure: str | None
    charge: Decimal | None
    paid: Decimal | None
    units: Decimal | None
    adjustments: list[Adjustment]


class Claim(TypedDict):
    payer_id: str | None
    trace: str | None
    pcn: str | None
    status: str | None
    charge: Decimal | None
    paid: Decimal | None
    ccn: str | None
    claim_adjustments: list[Adjustment]
    lines: list[Line]


def _text(value: Element | None, component: bytes) -> str | None:
    """An element's text, or ``None`` if it is empty. A composite is joined back with the component delimiter."""
    if isinstance(value, list):
        value = component.join(value)
    return value.decode("latin-1") if value else None


def _amount(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _adjustments(elements: list[Element], component: bytes) -> list[Adjustment]:
    """Every (group, reason, amount) triple of one CAS, in order; triples with neither reason nor amount are skipped."""
    group = _text(elements[0], component) if elements else None
    triples: list[Adjustment] = []
    for at in range(1, len(elements), 3):
        reason = _text(elements[at], component)
        amount = _text(elements[at + 1], component) if at + 1 < len(elements) else None
        if reason is not None or amount is not None:
            triples.append((group, reason, _amount(amount)))
    return triples


def reference_view(path: pathlib.Path) -> list[Claim]:
    """Every claim (CLP loop) of every ISA/GS/ST envelope in ``path``, in file order, as oxedi reads it.

    Raises ``oxedi.ParseError`` (a ``ValueError``) when oxedi refuses the file, e.g. when it does not start with ISA.
    """
    document = oxedi.parse_file(path).document
    component = document.delimiters.component
    claims: list[Claim] = []
    payer_id: str | None = None
    trace: str | None = None
    in_payer = False  # inside loop 1000A (N1*PR up to the next N1, LX or CLP)
    claim: Claim | None = None
    line: Line | None = None
    for index in range(len(document)):
        segment = document[index]
        elements = segment.elements

        def element(position: int, elements: list[Element] = elements) -> str | None:
            """XXnn (1-based) of this segment."""
            return _text(elements[position - 1], component) if position <= len(elements) else None

        match segment.id:
            case b"ST":
                payer_id, trace, in_payer, claim, line = None, None, False, None, None
            case b"TRN" if claim is None:
                trace = element(2)
            case b"N1":
                in_payer = element(1) == "PR"
                if in_payer:
                    payer_id = element(4)
            case b"REF" if in_payer and payer_id is None and element(1) == "2U":
                payer_id = element(2)
            case b"LX" | b"PLB" | b"SE" | b"GE" | b"IEA":
                in_payer, claim, line = False, None, None
            case b"CLP":
                in_payer, line = False, None
                claim = Claim(
                    payer_id=payer_id,
                    trace=trace,
                    pcn=element(1),
                    status=element(2),
                    charge=_amount(element(3)),
                    paid=_amount(element(4)),
                    ccn=element(7),
                    claim_adjustments=[],
                    lines=[],
                )
                claims.append(claim)
            case b"SVC" if claim is not None:
                svc01 = elements[0] if elements else None  # a composite only if it holds the component delimiter
                line = Line(
                    procedure=_text(svc01[1], component) if isinstance(svc01, list) and len(svc01) > 1 else None,
                    charge=_amount(element(2)),
                    paid=_amount(element(3)),
                    units=_amount(element(5)),
                    adjustments=[],
                )
                claim["lines"].append(line)
            case b"CAS" if claim is not None:
                target = line["adjustments"] if line is not None else claim["claim_adjustments"]
                target.extend(_adjustments(elements, component))
    return claims
