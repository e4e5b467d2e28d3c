"""The official CARC and RARC lists (code, status, description), loaded once.

Decisions work on code values; the lists say which codes are current and give
people the official wording. See ``data/x12_codes/SOURCE.md`` for provenance.
"""

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

Kind = Literal["carc", "rarc"]
KINDS: tuple[Kind, ...] = ("carc", "rarc")
CURRENT = "current"
_FIELDS = ("code", "status", "description")


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    status: str
    description: str

    @property
    def current(self) -> bool:
        return self.status == CURRENT


def _data_dir() -> Path:
    return Path(str(resources.files("workflows.data").joinpath("x12_codes")))


@cache
def code_list(kind: Kind) -> dict[str, Code]:
    with (_data_dir() / f"{kind}.csv").open(newline="", encoding="utf-8") as fh:
        return {row["code"]: Code(row["code"], row["status"], row["description"]) for row in csv.DictReader(fh)}


def describe(kind: Kind, code: str) -> str | None:
    found = code_list(kind).get(code)
    return found.description if found else None


def current_codes(kind: Kind) -> set[str]:
    return {c.code for c in code_list(kind).values() if c.current}


def read_download(path: Path) -> dict[Kind, list[Code]]:
    """Read a downloaded list: a ``code,status,description`` CSV (its kind from the file
    name, which must contain ``carc`` or ``rarc``) or the combined JSON document."""
    if path.suffix.lower() == ".json":
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {
            kind: [Code(code, v.get("status", CURRENT), v.get("text", "")) for code, v in doc[kind].items()]
            for kind in KINDS
            if kind in doc
        }
    kind = next((k for k in KINDS if k in path.name.lower()), None)
    if kind is None:
        raise ValueError(f"{path}: cannot tell CARC from RARC; put 'carc' or 'rarc' in the file name")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != _FIELDS:
            raise ValueError(f"{path}: expected the columns {','.join(_FIELDS)}, got {reader.fieldnames}")
        return {kind: [Code(r["code"], r["status"], r["description"]) for r in reader]}


def write_list(kind: Kind, codes: Iterable[Code], directory: Path | None = None) -> int:
    rows = sorted(codes, key=lambda c: (not c.code.isdigit(), c.code.zfill(5)))
    target = (directory or _data_dir()) / f"{kind}.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(_FIELDS)
        writer.writerows((c.code, c.status, c.description) for c in rows)
    code_list.cache_clear()
    return len(rows)
