"""Read-side indexes answered from the index alone on both databases.

PostgreSQL carries the columns an aggregate reads as ``INCLUDE`` columns; SQLite has no
``INCLUDE``, and an index without them sends every matched row back to the table (at 1M
denials the received-in-range pass spent 270 of its 514 ms fetching ``denied_cents`` row by
row). So each such index is two: the PostgreSQL one under its name, and a SQLite one, named
``<name>_sqlite``, with the same columns as trailing keys. Each is created only on its own
database (``ddl_if``), and the schema comparison skips the other database's (`on_database`).
"""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Index, text

DIALECT = "only_on"  # the Index.info key naming the one database an index is built on


def covering_index(
    name: str, keys: Sequence[str], include: Sequence[str], where: str | None = None
) -> tuple[Index, Index]:
    """The PostgreSQL and the SQLite form of one covering (and, with ``where``, partial) index."""
    postgresql = Index(name, *keys, postgresql_include=list(include),
                       **({"postgresql_where": text(where)} if where else {}))  # fmt: skip
    sqlite = Index(f"{name}_sqlite", *keys, *include, **({"sqlite_where": text(where)} if where else {}))
    for index, dialect in ((postgresql, "postgresql"), (sqlite, "sqlite")):
        index.info[DIALECT] = dialect
        index.ddl_if(dialect=dialect)
    return postgresql, sqlite


def on_database(dialect: str) -> Callable[..., bool]:
    """An Alembic ``include_object`` hook: leave out the indexes built only on the other database."""

    def include(obj: Any, _name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
        return reflected or type_ != "index" or obj.info.get(DIALECT, dialect) == dialect

    return include
