"""Split an X12 interchange into segments, streaming, with the separators its ISA declares.

X12 has no fixed separators: the ISA header declares them (element separator at
position 4, component separator in ISA16, the segment terminator right after it)
and every interchange in a file may declare its own. Files arrive with a UTF-8
byte-order mark, one segment per line, newline as the terminator itself, the
terminator at the start of each line instead of the end, or no terminator after the
last IEA; all of those are handled here (the last two as an `X12Warning`), and
anything else ends in an `X12Error` that names the segment position and the problem.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

CHUNK = 1 << 20
_ISA_ELEMENTS = 16
_WHITESPACE = " \r\n\t"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class X12Error(Exception):
    """A file that is not well-formed X12 (835 or 837): names the segment position and the problem."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"segment {position}: {problem}" if position else problem)
        self.position = position
        self.problem = problem


@dataclass(frozen=True, slots=True)
class X12Warning:
    """A defect a file is accepted with (envelope bookkeeping, balancing): a stable code, the
    segment position and a message naming the element and the values, never claim data."""

    code: str
    segment: int
    message: str


class Source(Protocol):
    """What the reader needs of a file: ``read``, so a caller can wrap it (e.g. to hash it)."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Separators:
    element: str
    component: str
    segment: str


@dataclass(frozen=True, slots=True)
class Segment:
    position: int  # 1-based ordinal in the file
    elements: list[str]  # elements[0] is the segment id
    separators: Separators

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, index: int) -> str:
        """Element ``index`` (X12 numbering: ``get(1)`` is e.g. CLP01), or "" when absent."""
        return self.elements[index].strip(" ") if index < len(self.elements) else ""

    def components(self, index: int) -> list[str]:
        return self.get(index).split(self.separators.component)


def _separators(header: str) -> tuple[Separators, bool] | None:
    """The separators an ISA declares and whether the terminator starts each line instead of
    ending it, or None if more text is needed to see them."""
    element = header[3]
    cut = -1
    for _ in range(_ISA_ELEMENTS):
        cut = header.find(element, cut + 1)
        if cut < 0:
            return None
    if len(header) < cut + 3:
        return None
    component, terminator = header[cut + 1], header[cut + 2]
    leading = False
    if terminator in "\r\n":  # a line break, or a line break before the terminator that starts the GS line
        after = header[cut + 2 :].lstrip(_WHITESPACE)
        if len(after) < 3:
            return None
        if not after[0].isalnum() and after[0] not in (element, component) and after[1:3] == "GS":
            terminator, leading = after[0], True
    if element.isalnum() or component.isalnum() or terminator.isalnum() or terminator == " ":
        raise X12Error(1, f"ISA declares unusable separators {element!r} {component!r} {terminator!r}")
    if len({element, component, terminator}) < 3:
        raise X12Error(1, f"ISA declares the same character twice among {element!r} {component!r} {terminator!r}")
    return Separators(element, component, terminator), leading


_BARE_LOOKAHEAD = 120


def _bare_transaction(text: str, transaction_set: str) -> Separators | None:
    """A file that starts at ``ST*835*...`` (the reader's transaction set) without its envelope:
    the element separator is the character after ``ST``, the terminator the first one after
    ST02 that is no letter, digit, space or element separator; components take ``:`` (or
    ``>``), the composites warn if not."""
    if not text.startswith("ST") or len(text) < 4 or text[2].isalnum() or text[2] in _WHITESPACE:
        return None
    element = text[2]
    terminator = next((c for c in text[3:_BARE_LOOKAHEAD] if not c.isalnum() and c not in (element, " ")), None)
    if terminator is None or not text[3:].startswith(transaction_set):
        return None
    component = next(c for c in ":>^" if c not in (element, terminator))
    return Separators(element, component, terminator)


def segments(
    stream: Source, warn: Callable[[X12Warning], None] = lambda _: None, transaction_set: str = "835"
) -> Iterator[Segment]:
    """Every segment of every interchange in the file, in order. Reads in 1 MiB chunks. A file
    may also be bare ``transaction_set`` transactions (ST..SE without ISA/GS).

    Layout defects the segments survive intact go to ``warn``. The file may end after any
    segment: whether the trailers it lacks matter is the reader's call."""
    text = ""
    eof = False
    position = 0
    first = True

    def fill() -> bool:
        nonlocal text, eof, first
        if eof:
            return False
        chunk = stream.read(CHUNK)
        if not chunk:
            eof = True
            return False
        decoded = chunk.decode("latin-1")
        if first:
            first = False
            decoded = decoded.removeprefix("ï»¿")  # the UTF-8 byte-order mark, read as latin-1
            head = decoded[:16]
            if max(head[0::2].count("\x00"), head[1::2].count("\x00")) >= 4:  # "I\0S\0A\0": 2 bytes a character
                raise X12Error(1, "the file is UTF-16 (a NUL byte between characters): X12 is ASCII text; "
                                  "save it as ASCII or UTF-8 and send it again")  # fmt: skip
        text += decoded
        return True

    while True:
        # between interchanges: whitespace, then an ISA or the end of the file
        text = text.lstrip(_WHITESPACE)
        while not text and fill():
            text = text.lstrip(_WHITESPACE)
        if not text:
            if position == 0:
                raise X12Error(0, "the file is empty: no ISA interchange header")
            return
        while len(text) < 3 and fill():
            pass
        while position == 0 and len(text) < _BARE_LOOKAHEAD and fill():
            pass
        bare = _bare_transaction(text, transaction_set) if position == 0 else None
        if bare is not None:
            seps, leading = bare, False
            warn(X12Warning("envelope.isa_missing", 1, "the file starts at ST, with no ISA/GS envelope: separators "
                            f"read from the ST segment ({seps.element!r}, {seps.segment!r})"))  # fmt: skip
        else:
            if not text.startswith("ISA") or len(text) < 4:
                found = text[:3] if text[:3].isalnum() else "other text"  # never more: it could be PHI
                raise X12Error(position + 1, f"expected an ISA interchange header, found {found!r}")
            found = _separators(text)
            while found is None and fill():
                found = _separators(text)
            if found is None:
                raise X12Error(position + 1, "the file ends inside the ISA interchange header")
            seps, leading = found
        if leading:
            where = f"the segment terminator {seps.segment!r} starts each line instead of ending each segment"
            warn(X12Warning("envelope.terminator_at_line_start", position + 1, where))
        # then the interchange's segments up to and including IEA
        strip = _WHITESPACE.replace(seps.segment, "")
        while True:
            parts = text.split(seps.segment)
            text = parts.pop()
            done = False
            for i, raw in enumerate(parts):
                raw = raw.strip(strip)
                if not raw:
                    continue
                position += 1
                if bad := _CONTROL.search(raw):
                    raise X12Error(position, f"control character {bad.group()!r} inside the segment")
                seg = Segment(position, raw.split(seps.element), seps)
                yield seg
                if seg.elements[0] == "IEA":
                    text = seps.segment.join([*parts[i + 1 :], text])
                    done = True
                    break
            if done:
                break
            if not fill():
                last = text.strip(_WHITESPACE)
                if last.startswith("IEA" if bare is None else "SE"):  # the trailer is there, not its terminator
                    if not leading:  # that layout never ends with a terminator
                        warn(X12Warning("envelope.final_terminator_missing", position + 1,
                                        f"the last {last[:3].rstrip(seps.element)} has no segment terminator "
                                        f"{seps.segment!r}"))  # fmt: skip
                    text = last + seps.segment
                    continue
                if last:
                    cut = last.split(seps.element, 1)[0][:3]  # the segment id, no data (PHI)
                    raise X12Error(position + 1, f"the file ends inside a {cut!r} segment (no terminator)")
                return
