"""Where a running `denialflow run` listens, so commands in another terminal find it.

`denialflow run` starts its bundled broker on a random free port. While it runs, it keeps
a small JSON file at ``DENIALFLOW_RUNTIME_FILE`` (default ``denialflow.runtime.json`` in
the current directory, beside the default ``denialflow.db``): the broker's address, the
database URL, the web app's address, its pid and when it started. The file is written
atomically once the broker and the schema are ready and removed when the run ends
(Ctrl-C and SIGTERM included). A file whose pid is dead or whose broker port does not
answer is stale (a run killed with SIGKILL) and is ignored.

Commands resolve the broker as: an explicit ``--bootstrap-servers``, then an explicitly
set ``DENIALFLOW_BOOTSTRAP_SERVERS``, then this file, then the 127.0.0.1:9092 default;
the database URL the same way (`with_running_engine`).
"""

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from engine.config import Settings
from engine.runtime.netcheck import port_answers

#: What the file supplies when neither an option nor the environment set it.
RESOLVED = ("bootstrap_servers", "database_url")


@dataclass(frozen=True)
class EmbeddedEngine:
    bootstrap_servers: str
    database_url: str
    web: str | None
    pid: int
    started_at: str


@contextmanager
def advertised(path: Path, engine: EmbeddedEngine) -> Iterator[None]:
    """Keep ``path`` naming ``engine`` for the duration; on exit remove it, unless a later run
    has replaced it with its own. Owner-only permissions: a PostgreSQL URL may hold a password."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(engine), out, indent=2)
    os.replace(tmp, path)
    try:
        yield
    finally:
        if _read(path) == engine:
            path.unlink(missing_ok=True)


def _read(path: Path) -> EmbeddedEngine | None:
    try:
        doc = json.loads(path.read_text())
        return EmbeddedEngine(**{f.name: doc[f.name] for f in fields(EmbeddedEngine)})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def running_engine(path: Path) -> EmbeddedEngine | None:
    """The engine ``path`` names if it is still up (its pid alive, its broker port answering)."""
    engine = _read(path)
    if engine is None or not _alive(engine.pid) or not port_answers(engine.bootstrap_servers.split(",")[0]):
        return None
    return engine


def with_running_engine(settings: Settings) -> Settings:
    """``settings`` with the broker and database of the running embedded engine wherever
    neither an option nor a ``DENIALFLOW_*`` variable set them."""
    unset = [name for name in RESOLVED if name not in settings.model_fields_set]
    if not unset or (engine := running_engine(settings.runtime_file)) is None:
        return settings
    return settings.model_copy(update={name: getattr(engine, name) for name in unset})
