"""Alembic environment: migrations are generated from the SQLModel metadata."""

from alembic import context
from sqlmodel import SQLModel

import engine.storage.models  # noqa: F401  (registers the tables)
from engine.storage.db import make_engine
from engine.storage.models.covering import on_database

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      include_object=on_database("sqlite" if url.startswith("sqlite") else "postgresql"))  # fmt: skip
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=on_database(connection.dialect.name))  # fmt: skip
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
