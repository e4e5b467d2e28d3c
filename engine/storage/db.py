"""Database engines and schema migrations (SQLite file by default, PostgreSQL by URL).

Alembic is imported where a migration runs: every engine process opens engines, few migrate,
and loading it costs each process start about a tenth of a second."""

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, create_engine, event, func, select

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parents[1] / "migrations"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or omits)."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, checkpoints: bool = True, **kwargs: Any) -> Engine:
    """``checkpoints=False``: this engine's SQLite commits leave WAL checkpoints to a
    `engine.storage.wal.WalCheckpointer` (the worker's hot path)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_pragmas, checkpoints=checkpoints))
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, checkpoints: bool) -> None:
    # WAL lets readers (CLI, auditors) run beside the worker. synchronous=NORMAL in WAL
    # mode survives a process crash (SIGKILL) without losing a committed transaction;
    # only a power loss can drop the last commits, which PostgreSQL is for.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # A 256 MiB page cache keeps the hot index pages (denial ids, event ids are random
    # keys) in memory; the default 2,000 pages made every batch re-read them.
    cur.execute("PRAGMA cache_size=-262144")
    if not checkpoints:  # a WalCheckpointer takes them beside the commits (engine/storage/wal.py)
        cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


def alembic_config(url: str) -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def count_rows(url: str, table: Table) -> int:
    """Rows in one table, on a short-lived connection (progress checks in tests and benchmarks)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        engine.dispose()
