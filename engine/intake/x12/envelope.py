"""Walk the X12 envelope (ISA > GS > ST..SE > GE > IEA) for a transaction reader, checking it.

The 835 and 837 readers share this: nesting that makes the transactions uncertain (an ST
outside a group, a file cut inside a transaction, a segment outside any envelope) raises
`X12Error`; bookkeeping that leaves the transactions intact (SE/GE/IEA counts and control
numbers, ISA padding, an unknown ISA12, GE/IEA missing after the last SE) is an
`X12Warning` on the `Report`. A file of bare ST..SE transactions (no ISA/GS) is read too.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from engine.intake.x12.tokens import Segment, Source, X12Error, X12Warning, segments

SUPPORTED_VERSIONS = ("00501", "00401")
#: Warnings (and the 835's PLB transactions) a read keeps (a file could have one per transaction).
MAX_KEPT = 1000
#: ISA01..ISA16 are fixed width (the header is 106 characters).
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
T = TypeVar("T", covariant=True)


@dataclass(slots=True)
class Report:
    """The warnings a file is accepted with and how many transactions it held. A large file
    keeps its first `MAX_KEPT` warnings in memory; the counts are whole."""

    warnings: list[X12Warning] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)  # every warning's code: how often
    transactions: int = 0

    def add(self, warning: X12Warning) -> None:
        self.codes[warning.code] = self.codes.get(warning.code, 0) + 1
        if len(self.warnings) < MAX_KEPT:
            self.warnings.append(warning)

    def warn(self, code: str, segment: int, message: str) -> None:
        self.add(X12Warning(code, segment, message))


class Transaction(Protocol[T]):
    """One ST..SE transaction being read: each body segment, then its SE; either may finish an item."""

    def add(self, seg: Segment) -> T | None: ...

    def close(self, se: Segment) -> T | None: ...


#: Opens the transaction an ST starts, given its GS and ISA (None in a file of bare transactions).
Opener = Callable[[Segment, Segment | None, Segment | None], Transaction[T]]


@dataclass(frozen=True, slots=True)
class Kind:
    """Which transaction set a reader reads: ST01 (``835``) and the functional group it travels in (GS01)."""

    transaction_set: str
    functional_group: str


def check_se(se: Segment, counted: int, control: str, report: Report) -> None:
    """SE01 against the transaction's segment count (ST and SE included), SE02 against ST02."""
    declared = se.get(1)
    if declared != str(counted):
        report.warn("envelope.se01_count", se.position,
                    f"SE01 says {declared!r} segments but the transaction has {counted}")  # fmt: skip
    if se.get(2) != control:
        report.warn("envelope.se02_control", se.position,
                    f"SE02 {se.get(2)!r} does not match ST02 {control!r}")  # fmt: skip


def _isa_widths(isa: Segment, report: Report) -> None:
    for number, width in enumerate(ISA_WIDTHS, start=1):
        if len(isa.elements[number]) != width:
            report.warn(
                "envelope.isa_width",
                isa.position,
                f"ISA{number:02d} is {len(isa.elements[number])} characters wide; its fixed width is {width}",
            )


def _trailer(seg: Segment, counted: int, control: str, name: str, what: str, header: str, report: Report) -> None:
    if seg.get(1) != str(counted):
        report.warn(f"envelope.{name.lower()}01_count", seg.position,
                    f"{name}01 says {seg.get(1)!r} {what} but there are {counted}")  # fmt: skip
    if seg.get(2) != control:
        report.warn(f"envelope.{name.lower()}02_control", seg.position,
                    f"{name}02 {seg.get(2)!r} does not match {header} {control!r}")  # fmt: skip


def read_envelopes(
    stream: Source, kind: Kind, open_transaction: Opener[T], report: Report
) -> Iterator[tuple[Transaction[T], T]]:
    """Every item the transactions finish, with the transaction it came from, in file order."""
    isa: Segment | None = None
    gs: Segment | None = None
    tx: Transaction[T] | None = None
    st: Segment | None = None
    groups = transactions = 0
    bare = False
    for seg in segments(stream, report.add, kind.transaction_set):
        sid = seg.id
        if sid == "ISA":
            if isa is not None:
                raise X12Error(seg.position, "ISA inside an interchange (the previous one has no IEA)")
            if len(seg.elements) != 17:
                raise X12Error(seg.position, f"ISA has {len(seg.elements) - 1} elements; it must have 16")
            if not seg.get(12).startswith(SUPPORTED_VERSIONS):  # the envelope's version; GS08 names the guide
                report.warn("envelope.isa12_version", seg.position,
                            f"ISA12 version {seg.get(12)!r} is not 00401 or 00501")  # fmt: skip
            _isa_widths(seg, report)
            isa, groups = seg, 0
        elif isa is None and not (bare or (sid == "ST" and seg.position == 1)):
            raise X12Error(seg.position, f"{sid} before any ISA interchange header")
        elif sid == "GS":
            if gs is not None:
                raise X12Error(seg.position, "GS inside a functional group (the previous one has no GE)")
            if seg.get(1) != kind.functional_group:
                raise X12Error(seg.position, f"GS01 {seg.get(1)!r}: an {kind.transaction_set} travels in a "
                                             f"{kind.functional_group} functional group")  # fmt: skip
            gs, transactions = seg, 0
        elif sid == "ST":
            bare = bare or isa is None  # a file of bare transactions (the tokenizer warned)
            if (gs is None and not bare) or tx is not None:
                raise X12Error(seg.position, "ST outside a functional group or inside another transaction")
            tx, st = open_transaction(seg, gs, isa), seg
        elif sid == "SE":
            if tx is None:
                raise X12Error(seg.position, "SE without an ST")
            last = tx.close(seg)
            if last is not None:
                yield tx, last
            tx, st, transactions = None, None, transactions + 1
            report.transactions += 1
        elif tx is not None:
            item = tx.add(seg)
            if item is not None:
                yield tx, item
        elif sid == "GE":
            if gs is None:
                raise X12Error(seg.position, "GE without a GS")
            _trailer(seg, transactions, gs.get(6), "GE", "transaction sets", "GS06", report)
            gs, groups = None, groups + 1
        elif sid == "IEA":
            if gs is not None:
                raise X12Error(seg.position, "IEA inside a functional group (no GE)")
            if isa is None:  # a file of bare transactions that ends in an IEA
                raise X12Error(seg.position, "IEA without an ISA")
            _trailer(seg, groups, isa.get(13), "IEA", "functional groups", "ISA13", report)
            isa = None
        else:
            raise X12Error(seg.position, f"{sid} outside a transaction set")
    if st is not None:
        raise X12Error(st.position, "the file ends inside the transaction set this ST opens (no SE): "
                                    "its claims may be cut short")  # fmt: skip
    if gs is not None:
        if not transactions:
            raise X12Error(gs.position, "the file ends inside the functional group this GS opens, before any ST")
        report.warn("envelope.ge_missing", gs.position, f"the file ends after the last SE: GS {gs.get(6)!r} has no GE")
        groups += 1
    if isa is not None:
        if not groups:
            raise X12Error(isa.position, "the file ends inside the interchange this ISA opens, before any GS")
        report.warn("envelope.iea_missing", isa.position,
                    f"the file ends after the last group: ISA {isa.get(13)!r} has no IEA")  # fmt: skip
