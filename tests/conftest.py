"""Shared fixtures: one bundled broker per session, real SQLite and PostgreSQL stores.

PostgreSQL is required: if it cannot be reached the store tests error out (they
never skip), so a CI machine without it fails loudly.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient
from sqlalchemy import create_engine, text

from engine.config import Settings
from engine.logs import configure
from engine.runtime.broker import BundledBroker
from engine.runtime.kafka import ensure_topics
from engine.storage.db import make_engine, normalize_url, upgrade

PG_ADMIN_URL = os.environ.get("DENIALFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

configure("WARNING")


@pytest.fixture(scope="session", autouse=True)
def _own_runtime_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`denialflow run` started by a test advertises itself here, not in the working tree, where
    another session's commands (or a developer's own `scripts/run`) would see it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DENIALFLOW_RUNTIME_FILE", str(tmp_path_factory.mktemp("runtime") / "denialflow.runtime.json"))
        yield


@pytest.fixture(scope="session")
def broker() -> Iterator[BundledBroker]:
    with BundledBroker() as b:
        yield b


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway database for this session, migrated once."""
    name = f"denialflow_test_{os.getpid()}"
    admin = create_engine(normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach PostgreSQL must fail the run, not skip it
        pytest.fail(f"PostgreSQL is required for the store tests ({PG_ADMIN_URL}): {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    """Empty every table the migrations made (all but alembic's own), so no test sees another's rows."""
    engine = make_engine(url)
    with engine.begin() as conn:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        names = conn.execute(text(query)).scalars()
        conn.execute(text(f"TRUNCATE {', '.join(sorted(names))} RESTART IDENTITY"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (the migrations take
    ~0.1 s a file, a copy a millisecond). Alembic closes its connections, so the file holds
    everything (no write-ahead log beside it)."""
    path = tmp_path_factory.mktemp("sqlite_template") / "denialflow.db"
    upgrade(f"sqlite:///{path}")
    assert not path.with_name(path.name + "-wal").exists()
    return path


def sqlite_copy(template: Path, path: Path) -> str:
    """A migrated, empty SQLite store at ``path`` (a copy of the session's template): its URL."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path / "denialflow.db")
    url = request.getfixturevalue("pg_url")
    _truncate(url)
    return url


@pytest.fixture
def settings(broker: BundledBroker, db_url: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings with this test's own topics, consumer group and quarantine directory on the session broker."""
    with own_topics(make_settings(broker, db_url)) as s:
        yield s.model_copy(update={"quarantine_dir": tmp_path / "quarantine"})


@pytest.fixture
def pg_settings(broker: BundledBroker, pg_url: str) -> Iterator[Settings]:
    """The same, on PostgreSQL only (for what only PostgreSQL does)."""
    _truncate(pg_url)
    with own_topics(make_settings(broker, pg_url)) as s:
        yield s


def make_settings(broker: BundledBroker, db_url: str) -> Settings:
    tag = uuid.uuid4().hex[:10]
    s = Settings(
        database_url=db_url,
        bootstrap_servers=broker.bootstrap,
        events_topic=f"{tag}.events",
        transitions_topic=f"{tag}.transitions",
        dlq_topic=f"{tag}.dlq",
        remits_topic=f"{tag}.remits",
        checkpoints_topic=f"{tag}.checkpoints",
        group_id=f"{tag}.engine",
        remits_group_id=f"{tag}.remits",
        claims_outbound_topic=f"{tag}.claims.outbound",
        claims_checked_topic=f"{tag}.claims.checked",
        authorizations_topic=f"{tag}.authorizations",
        claims_group_id=f"{tag}.claims",
        partitions=3,
        batch_size=200,
        poll_timeout_ms=100,
        max_poll_interval_ms=1000,
        session_timeout_ms=1000,
        heartbeat_interval_ms=200,
    )
    ensure_topics(s)
    return s


@contextmanager
def own_topics(settings: Settings) -> Iterator[Settings]:
    """``settings``, whose tagged topics (those `make_settings` made and any a test added beside
    them) are deleted at the end. Every Kafka client asks for the whole broker's metadata on
    connecting, so topics left behind made each later test's set-up slower: ~1 s a test by the
    thousandth."""
    try:
        yield settings
    finally:
        prefix = settings.events_topic.split(".", 1)[0] + "."
        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        try:
            if mine := [t for t in admin.list_topics() if t.startswith(prefix)]:
                admin.delete_topics(mine)
        finally:
            admin.close()
