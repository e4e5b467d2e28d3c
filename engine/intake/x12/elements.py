"""Typed values read out of X12 segments (amounts, quantities, dates, required elements,
composites), shared by the 835 and 837 readers: a value that is not what its element
holds raises `X12Error` naming the segment, the element and the rule."""

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from engine.intake.x12.tokens import Segment, X12Error, X12Warning

#: Component separators files use in practice, tried when a composite does not split by ISA16.
COMPONENT_SEPARATORS = (":", ">", "^", "|", "\\")
#: X12's R and N types: digits with an optional sign and decimal point (Python's Decimal would
#: also take "1_000", "1e3", "Infinity" and surrounding spaces).
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)")


def money(seg: Segment, index: int, required: bool = True) -> Decimal:
    raw = seg.get(index)
    if not raw and not required:
        return Decimal(0)
    try:
        value = Decimal(raw) if _NUMBER.fullmatch(raw) else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or abs(value) >= 10**12:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not an amount")
    cents = value.quantize(Decimal("0.01"))
    if cents != value:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} has fractions of a cent")
    return cents


def quantity(seg: Segment, index: int) -> Decimal | None:
    raw = seg.get(index)
    if not raw:
        return None
    try:
        value = Decimal(raw) if _NUMBER.fullmatch(raw) else Decimal("NaN")
    except InvalidOperation:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not a number") from None
    if not value.is_finite():
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not a number")
    return value


def parse_date(seg: Segment, index: int, raw: str) -> date:
    """``raw`` (CCYYMMDD, or 4010's YYMMDD) as a date; ``index`` names the element it came from."""
    if len(raw) == 6 and raw.isdigit():  # 4010 YYMMDD in a few segments
        raw = ("20" if raw < "50" else "19") + raw
    try:
        if len(raw) != 8 or not raw.isdigit():
            raise ValueError
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise X12Error(seg.position, f"{seg.id}{index:02d} {raw!r} is not a date (CCYYMMDD)") from None


def x12_date(seg: Segment, index: int) -> date:
    return parse_date(seg, index, seg.get(index))


def need(seg: Segment, index: int, what: str) -> str:
    value = seg.get(index)
    if not value:
        raise X12Error(seg.position, f"{seg.id}{index:02d} ({what}) is missing")
    return value


def composite(seg: Segment, index: int, warn: Callable[[X12Warning], None]) -> list[str]:
    """A composite element split by ISA16; a file that declares one component separator and
    writes another (``HC>99213`` under ISA16 ``:``) is read with the one it uses, and warned."""
    parts = seg.components(index)
    if len(parts) > 1:
        return parts
    raw = seg.get(index)
    used = next((c for c in COMPONENT_SEPARATORS if c in raw and c != seg.separators.element), None)
    if used is None:
        return parts
    warn(X12Warning("envelope.component_separator", seg.position,
                    f"{seg.id}{index:02d} separates components with {used!r}, ISA16 declares "
                    f"{seg.separators.component!r}"))  # fmt: skip
    return raw.split(used)
