"""Turn 835 files (or raw 835 text from a topic) into remittance events.

A file is all or nothing: its events are validated and spooled to a temporary file
while it is read, and published only once the whole file parsed, so a refused file
publishes nothing and a large one never sits in memory. Envelope defects that leave
the claims intact are warnings: the file is published, and every event whose schema
has a ``source_file`` gets the file's SHA-256 and warning codes, added as it leaves the
spool (warnings found at SE/GE/IEA come after the claims were spooled). Event ids are
derived from the remittance, so ingesting a file twice changes nothing downstream.
"""

import hashlib
import tempfile
import typing
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import IO, Any

import orjson

from engine.errors import Rejected
from engine.intake.events import Event, parse
from engine.intake.x12.denials import RemittanceEvents, Tally
from engine.intake.x12.remit import ReadReport, read_835
from engine.intake.x12.tokens import CHUNK, Source, X12Error, X12Warning

Sink = Callable[[bytes, bytes], None]
#: The event schema caps `source_file.warnings` (each code once; there are far fewer codes).
MAX_EVENT_WARNINGS = 200


def warning_docs(warnings: Iterable[X12Warning]) -> list[dict[str, Any]]:
    return [{"code": w.code, "segment": w.segment, "message": w.message} for w in warnings]


@dataclass
class FileResult:
    path: str
    tally: Tally
    published: int = 0
    error: str | None = None
    digest: str | None = None  # SHA-256 of the file's bytes; None only when it could not be read
    warnings: list[X12Warning] = field(default_factory=list)  # the first ones (`MAX_KEPT`)
    warning_counts: dict[str, int] = field(default_factory=dict)  # every warning's code: how often
    transactions: int = 0
    provider_adjustments: list[dict[str, Any]] = field(default_factory=list)  # of the first PLB transactions
    provider_adjustment_count: int = 0

    def warning_codes(self) -> list[str]:
        return list(self.warning_counts)

    def counts(self) -> dict[str, Any]:
        """What the ingest record keeps: the tally, the transactions, the events published, the warnings."""
        return {**{name: getattr(self.tally, name) for name in self.tally.__slots__},
                "transactions": self.transactions, "provider_adjustments": self.provider_adjustment_count,
                "published": self.published, "warnings": sum(self.warning_counts.values()),
                "warning_codes": self.warning_counts}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "digest": self.digest, "error": self.error, "published": self.published,
                "warnings": warning_docs(self.warnings)}  # fmt: skip


@dataclass
class Summary:
    files: list[FileResult] = field(default_factory=list)

    @property
    def total(self) -> Tally:
        tally = Tally()
        for f in self.files:
            if f.error is None:
                tally.add(f.tally)
        return tally

    @property
    def refused(self) -> list[FileResult]:
        return [f for f in self.files if f.error is not None]

    @property
    def warned(self) -> list[FileResult]:
        return [f for f in self.files if f.warnings]

    def as_dict(self) -> dict[str, Any]:
        total = self.total
        return {
            "files": len(self.files),
            **{name: getattr(total, name) for name in total.__slots__},
            "published": sum(f.published for f in self.files),
            "warnings": sum(sum(f.warning_counts.values()) for f in self.files),
            "refused": [f.as_dict() for f in self.refused],
            "results": [f.as_dict() for f in self.files],
        }


def read_remittance(
    stream: Source, sink: Sink, now: datetime | None = None, report: ReadReport | None = None,
    capitated: Collection[str] = (),
) -> Tally:  # fmt: skip
    """Parse one 835 stream, validate every event it yields against the event schema and
    hand each to ``sink`` as (key, value). Raises `X12Error` on the first damage; what the
    file is accepted with goes on ``report``. ``capitated``: the payers whose profile says
    the practice is capitated with them (`PayerPolicies.capitated_payers`)."""
    events_for = RemittanceEvents(now or datetime.now(UTC), capitated)
    tally = Tally()
    for remit, claim in read_835(stream, report):
        events, counted = events_for(remit, claim)
        for doc in events:
            try:
                event = parse(doc)
            except Rejected as exc:
                where = f"claim {claim.patient_control_number!r}"
                raise X12Error(claim.position, f"{where}: {exc.field or 'event'}: {exc.message}") from None
            sink(event.key.encode(), orjson.dumps(doc))
        tally.add(counted)
    return tally


@cache
def stamped_types() -> frozenset[str]:
    """The event types whose data schema has a ``source_file`` field, read off the schema."""
    models = typing.get_args(typing.get_args(Event)[0])
    return frozenset(typing.get_args(m.model_fields["type"].annotation)[0] for m in models
                     if "source_file" in m.model_fields["data"].annotation.model_fields)  # fmt: skip


def stamp(value: bytes, source_file: dict[str, Any]) -> bytes:
    """The event with ``data.source_file`` set, when its schema has that field."""
    doc = orjson.loads(value)
    if doc["type"] not in stamped_types():
        return value
    doc["data"]["source_file"] = source_file
    return orjson.dumps(doc)


def files_in(paths: Iterable[Path]) -> Iterator[Path]:
    """Each file named, and every regular file under each directory named (sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


class _Digesting:
    """Reads through to the stream and hashes what passes, so the file is read once."""

    def __init__(self, stream: Source) -> None:
        self.stream, self.sha256 = stream, hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.stream.read(size)
        self.sha256.update(chunk)
        return chunk

    def digest(self) -> str:
        """The whole stream's SHA-256: what a refusal left unread is hashed first."""
        while self.read(CHUNK):
            pass
        return self.sha256.hexdigest()


def _spool(spool: IO[bytes]) -> Sink:
    def write(key: bytes, value: bytes) -> None:
        spool.write(len(key).to_bytes(4, "big") + len(value).to_bytes(4, "big") + key + value)

    return write


def _unspool(spool: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
    spool.seek(0)
    while header := spool.read(8):
        klen, vlen = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
        yield spool.read(klen), spool.read(vlen)


def _plb_docs(report: ReadReport) -> list[dict[str, Any]]:
    return [{"payer_id": r.payer_id, "trace": r.trace, "provider_id": a.provider_id,
             "fiscal_period": a.fiscal_period.isoformat() if a.fiscal_period else None, "reason": a.reason,
             "reference": a.reference, "amount": str(a.amount)}
            for r in report.adjusted for a in r.provider_adjustments]  # fmt: skip


def ingest_stream(
    stream: Source, name: str, publish: Sink, now: datetime | None = None, capitated: Collection[str] = ()
) -> FileResult:
    """Parse one file completely, then publish its events stamped with the file's digest and
    warnings; a refused file publishes nothing."""
    source = _Digesting(stream)
    report = ReadReport()
    with tempfile.TemporaryFile() as spool:
        try:
            tally = read_remittance(source, _spool(spool), now, report, capitated)
        except X12Error as exc:
            return FileResult(name, Tally(), error=str(exc), digest=source.digest(), warnings=report.warnings,
                              warning_counts=report.codes)  # fmt: skip
        result = FileResult(name, tally, digest=source.digest(), warnings=report.warnings, warning_counts=report.codes,
                            transactions=report.transactions, provider_adjustments=_plb_docs(report),
                            provider_adjustment_count=report.provider_adjustments)  # fmt: skip
        source_file = {"digest": result.digest, "warnings": result.warning_codes()[:MAX_EVENT_WARNINGS]}
        for key, value in _unspool(spool):
            publish(key, stamp(value, source_file))
            result.published += 1
    return result


def ingest_file(path: Path, publish: Sink, now: datetime | None = None, capitated: Collection[str] = ()) -> FileResult:
    """`ingest_stream` on a file on disk."""
    try:
        with path.open("rb") as stream:
            return ingest_stream(stream, str(path), publish, now, capitated)
    except OSError as exc:
        return FileResult(str(path), Tally(), error=f"cannot read: {exc.strerror}")
