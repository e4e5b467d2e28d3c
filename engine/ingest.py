"""Turn 835 files (or raw 835 text from a topic) into `denial.received` events.

A file is all or nothing: its events are validated and spooled to a temporary file
while it is read, and published only once the whole file parsed, so a broken file
publishes nothing and a large one never sits in memory. Event ids are derived from
the remittance, so ingesting a file twice changes nothing downstream.
"""

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from engine.errors import Rejected
from engine.events import parse
from engine.x12.denials import Tally, claim_events
from engine.x12.remit import read_835
from engine.x12.tokens import X12Error

Sink = Callable[[bytes, bytes], None]


@dataclass
class FileResult:
    path: str
    tally: Tally
    published: int = 0
    error: str | None = None


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

    def as_dict(self) -> dict[str, Any]:
        total = self.total
        return {
            "files": len(self.files),
            **{name: getattr(total, name) for name in total.__slots__},
            "published": sum(f.published for f in self.files),
            "refused": [{"path": f.path, "error": f.error} for f in self.refused],
        }


def read_remittance(stream: BinaryIO, sink: Sink, now: datetime | None = None) -> Tally:
    """Parse one 835 stream, validate every event it yields against the event schema and
    hand each to ``sink`` as (key, value). Raises `X12Error` on the first problem."""
    now = now or datetime.now(UTC)
    tally = Tally()
    for remit, claim in read_835(stream):
        events, counted = claim_events(remit, claim, now)
        for doc in events:
            try:
                event = parse(doc)
            except Rejected as exc:
                where = f"claim {claim.patient_control_number!r}"
                raise X12Error(claim.position, f"{where}: {exc.field or 'event'}: {exc.message}") from None
            sink(event.key.encode(), orjson.dumps(doc))
        tally.add(counted)
    return tally


def files_in(paths: Iterable[Path]) -> Iterator[Path]:
    """Each file named, and every regular file under each directory named (sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def _spool(spool: IO[bytes]) -> Sink:
    def write(key: bytes, value: bytes) -> None:
        spool.write(len(key).to_bytes(4, "big") + len(value).to_bytes(4, "big") + key + value)

    return write


def _unspool(spool: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
    spool.seek(0)
    while header := spool.read(8):
        klen, vlen = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
        yield spool.read(klen), spool.read(vlen)


def ingest_file(path: Path, publish: Sink, now: datetime | None = None) -> FileResult:
    """Parse one file completely, then publish its events; a refused file publishes nothing."""
    with tempfile.TemporaryFile() as spool:
        try:
            with path.open("rb") as stream:
                tally = read_remittance(stream, _spool(spool), now)
        except X12Error as exc:
            return FileResult(str(path), Tally(), error=str(exc))
        except OSError as exc:
            return FileResult(str(path), Tally(), error=f"cannot read: {exc.strerror}")
        published = 0
        for key, value in _unspool(spool):
            publish(key, value)
            published += 1
    return FileResult(str(path), tally, published)
