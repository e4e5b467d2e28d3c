"""Column types every table shares: an auto-incrementing id, a time with its zone."""

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer
from sqlmodel import Field

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a BIGINT identity.
SERIAL_ID = BigInteger().with_variant(Integer(), "sqlite")


def timestamp_field(**kw: Any) -> Any:
    """A time with its zone (UTC as stored), never a naive one."""
    return Field(sa_column=Column(DateTime(timezone=True), **kw))
