"""Refused 835 files are kept, not lost: their bytes go to the quarantine directory under
their digest and their ingest record says why, until a lead releases them with a fix.

Both readers of 835 files (`denialflow ingest` and the remits consumer) finish a file with
`remember`; `denialflow ingest --release` re-ingests the fixed file and, only if it now
parses and its events were acknowledged, marks the quarantined record released.
"""

import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from engine.config import Settings
from engine.intake import ingest_records
from engine.intake.ingest import FileResult

DEFAULT_NAME = "quarantine"


def directory(settings: Settings) -> Path:
    """``DENIALFLOW_QUARANTINE_DIR``, else ``quarantine/`` beside the SQLite file (PostgreSQL:
    in the working directory)."""
    if settings.quarantine_dir is not None:
        return settings.quarantine_dir
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / DEFAULT_NAME
    return Path(DEFAULT_NAME)


def kept(folder: Path, digest: str) -> Path:
    return folder / digest


def keep(folder: Path, digest: str, original: Path | bytes) -> Path:
    """Copy a refused file's bytes into quarantine (once: the name is its content's digest)."""
    target = kept(folder, digest)
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    data = original.read_bytes() if isinstance(original, Path) else original
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{digest}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)  # whole or not at all
    return target


def remember(engine: Engine, folder: Path, result: FileResult, original: Path | bytes, now: datetime) -> None:
    """Write the file's ingest record; a refused file is copied into quarantine first, so a
    record that says refused always has its bytes beside it."""
    if result.error is not None and result.digest is not None:
        keep(folder, result.digest, original)
    with engine.begin() as conn:
        ingest_records.record(conn, result, now)
