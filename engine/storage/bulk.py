"""Multi-row writes for the worker's hot path: one driver call per table per batch.

SQLAlchemy's executemany runs its type processing per row and, on PostgreSQL,
psycopg sends one statement per row (measured here: ~80 us a row for the audit
table). These writers convert each column once and cheaply (orjson for JSON, fixed
formats for time) and hand the rows to the driver in bulk: sqlite3's C
``executemany`` on SQLite; ``COPY ... FROM STDIN`` on PostgreSQL (~12 us a row),
with updates copied into a per-session temporary table and applied by one
``UPDATE ... FROM``. Column lists and types come from the SQLModel tables, so the
schema is defined in one place; everything runs in the caller's transaction.
The driver's errors are raised as SQLAlchemy's (`driver_cursor`), so callers tell a value the
store refuses (DataError) from a database that went away (OperationalError) as they
would for any other statement.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from functools import lru_cache
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

import orjson
from psycopg import pq
from sqlalchemy import JSON, Boolean, Column, Connection, Date, DateTime, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import ClauseElement

from engine.clock import as_utc

Converter = Callable[[Any], Any]


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


@lru_cache(maxsize=4096)  # a batch repeats its "now" and each event's time on every row
def _sqlite_datetime(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME storage format: naive (always UTC here), microseconds.
    return None if value is None else as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def from_stored_time(value: str | None) -> datetime | None:
    """A time as SQLite holds it (naive UTC text), aware."""
    # the offset parsed with the rest is ~8x faster than a .replace(tzinfo=UTC) afterwards
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def _from_sqlite_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _from_json(value: str | bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


def _reader(column: Column[Any], dialect: str) -> Converter | None:
    """How a value the driver returns becomes the Python value (None: as it is)."""
    if dialect != "sqlite":
        return None  # psycopg returns datetimes, dates, booleans and parsed JSON
    for sa_type, convert in ((JSON, _from_json), (DateTime, from_stored_time), (Date, _from_sqlite_date),
                             (Boolean, _from_sqlite_bool)):  # fmt: skip
        if isinstance(column.type, sa_type):
            return convert
    return None


def _from_sqlite_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _converter(column: Column[Any], dialect: str) -> Converter | None:
    """How one column's Python value becomes what the driver takes (None: as it is)."""
    kind = column.type
    if isinstance(kind, JSON):
        return _json
    if dialect == "sqlite":
        for sa_type, convert in ((DateTime, _sqlite_datetime), (Date, _sqlite_date), (Boolean, _sqlite_bool)):
            if isinstance(kind, sa_type):
                return convert
    return None


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """The driver's own cursor on ``conn``'s connection, its errors wrapped as SQLAlchemy
    wraps a statement's."""
    dbapi = conn.dialect.loaded_dbapi
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cur
    except dbapi.Error as exc:
        gone = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cur)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(None, None, exc, dbapi.Error, connection_invalidated=gone) from exc
    finally:
        with suppress(dbapi.Error):  # a cursor of a connection just invalidated
            cur.close()


def _driver_statement(conn: Connection, stmt: ClauseElement) -> tuple[str, Any]:
    """``stmt`` as the driver's SQL and parameters, each bound value processed as SQLAlchemy
    would (a time on SQLite becomes its stored text)."""
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    for name, bind in compiled.binds.items():
        if name in params and (process := bind.type.dialect_impl(dialect).bind_processor(dialect)):
            params[name] = process(params[name])
    if compiled.positional:
        return compiled.string, [params[name] for name in compiled.positiontup or ()]
    return compiled.string, params


#: Rows the server sends at a time (`streamed_rows`, PostgreSQL). Chunks need libpq 17
#: (psycopg's binary wheel bundles a newer one); before it, row by row.
_STREAMED = 5000 if pq.version() >= 170000 else 1


def streamed_rows(conn: Connection, stmt: ClauseElement) -> Iterator[tuple[Any, ...]]:
    """``stmt``'s rows as the driver's tuples, read as they come, so memory stays flat however
    many there are: on PostgreSQL the server streams them (psycopg's ``stream``) while the
    caller works, with no fetch round trips and no thread; on SQLite the cursor steps on
    demand. A read stopped early is cancelled by psycopg, which aborts the transaction; a
    savepoint confines that to the read, so the caller's connection stays usable."""
    sql, params = _driver_statement(conn, stmt)
    with driver_cursor(conn) as cur:
        if conn.dialect.name == "sqlite":
            yield from cur.execute(sql, params)
            return
        guarded = cur.connection.info.transaction_status == pq.TransactionStatus.INTRANS  # not autocommit
        if guarded:
            cur.execute("SAVEPOINT streamed_read")
        try:
            yield from cur.stream(sql, params, size=_STREAMED)
        finally:
            if guarded:
                cur.execute("ROLLBACK TO SAVEPOINT streamed_read")
                cur.execute("RELEASE SAVEPOINT streamed_read")


class BulkTable:
    """Insert (and, given ``update_columns``, version-checked update) many rows of one table."""

    def __init__(
        self, table: Table, dialect: str, update_columns: Sequence[str] = (), version: str = "version"
    ) -> None:
        self.table = table
        self.dialect = dialect
        # every column but a serial primary key, which the database numbers
        self.columns = [c.name for c in table.c if c is not table.autoincrement_column]
        self.update_columns = [*update_columns, "id", "_version"] if update_columns else []
        self.version = version
        self._convert = {c.name: _converter(c, dialect) for c in table.c}

    def load(
        self, conn: Connection, ids: Sequence[str], columns: Sequence[str], key: str = "id"
    ) -> list[SimpleNamespace]:
        """``columns`` of the rows whose ``key`` is one of ``ids``, as plain objects."""
        readers = [(i, f) for i, c in enumerate(columns) if (f := _reader(self.table.c[c], self.dialect))]
        loaded = []
        for row in self.fetch(conn, ids, columns, key):
            values = list(row)
            for i, read in readers:
                values[i] = read(values[i])
            loaded.append(SimpleNamespace(**dict(zip(columns, values, strict=True))))
        return loaded

    def fetch(self, conn: Connection, ids: Sequence[str], columns: Sequence[str], key: str = "id") -> list[Any]:
        """``columns`` of the rows whose ``key`` is one of ``ids``, as the driver returns them:
        one statement, none of SQLAlchemy's per-call compiling of an expanding IN."""
        if not ids:
            return []
        names = ", ".join(f'"{c}"' for c in columns)
        with driver_cursor(conn) as cur:
            if self.dialect == "postgresql":
                cur.execute(f'SELECT {names} FROM {self.table.name} WHERE "{key}" = ANY(%s)', [list(ids)])
            else:
                cur.execute(f'SELECT {names} FROM {self.table.name} WHERE "{key}" IN ({_marks(ids)})', list(ids))
            return cur.fetchall()

    def _rows(self, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
        """Each row's ``columns`` in order, converted for the driver: one C-level pick per row,
        then only the columns that need converting (a few of each table's)."""
        pick = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        convert = [(i, f) for i, c in enumerate(columns) if (f := self._convert.get(c))]
        out = []
        for row in rows:
            values = list(pick(row))
            for i, f in convert:
                values[i] = f(values[i])
            out.append(values)
        return out

    def insert(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        values = self._rows(rows, self.columns)
        names = ", ".join(f'"{c}"' for c in self.columns)
        with driver_cursor(conn) as cur:
            if self.dialect == "postgresql":
                _copy(cur, f"{self.table.name} ({names})", values)
            else:
                cur.executemany(f"INSERT INTO {self.table.name} ({names}) VALUES ({_marks(self.columns)})", values)

    def upsert(self, conn: Connection, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
        """Insert rows, or overwrite every other column of the row with the same ``keys``."""
        if not rows:
            return
        values = self._rows(rows, self.columns)
        names = ", ".join(f'"{c}"' for c in self.columns)
        conflict = ", ".join(f'"{k}"' for k in keys)
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in self.columns if c not in keys)
        with driver_cursor(conn) as cur:
            if self.dialect == "postgresql":
                staging = f"_upsert_{self.table.name}"
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {self.table.name}) ON COMMIT DELETE ROWS")
                _copy(cur, f"{staging} ({names})", values)
                cur.execute(f"INSERT INTO {self.table.name} ({names}) SELECT {names} FROM {staging} "
                            f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}")  # fmt: skip
            else:
                cur.executemany(f"INSERT INTO {self.table.name} ({names}) VALUES ({_marks(self.columns)}) "
                                f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}", values)  # fmt: skip

    def update(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Update rows (``id``, ``_version`` and the update columns) whose version still
        matches ``_version``; return how many did. Fewer than given means a lost race.
        A row's ``_changed``, the update columns whose values differ from the stored row's,
        narrows its SET on SQLite, which rewrites every index holding a column it sets, changed
        or not (a touch's update went from 43 to 29 us a row); PostgreSQL compares the values
        itself and is given whole rows."""
        if not rows:
            return 0
        data = tuple(self.update_columns[:-2])
        with driver_cursor(conn) as cur:
            if self.dialect == "postgresql":
                staging = f"_changes_{self.table.name}"
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ({self._pg_columns()}) ON COMMIT DELETE ROWS")
                _copy(cur, staging, self._rows(rows, self.update_columns))
                sets = ", ".join(f'"{c}" = v."{c}"' for c in data)
                cur.execute(f'UPDATE {self.table.name} AS t SET {sets} FROM {staging} AS v '
                            f'WHERE t.id = v.id AND t."{self.version}" = v._version')  # fmt: skip
                return int(cur.rowcount)
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows:
                by_columns.setdefault(row.get("_changed", data), []).append(row)
            updated = 0
            for columns, group in by_columns.items():
                sets = ", ".join(f'"{c}" = ?' for c in columns)
                cur.executemany(f'UPDATE {self.table.name} SET {sets} WHERE id = ? AND "{self.version}" = ?',
                                self._rows(group, [*columns, "id", "_version"]))  # fmt: skip
                updated += cur.rowcount
            return updated

    def _pg_columns(self) -> str:
        pg = postgresql.dialect()
        types = [self.table.c[c].type.compile(dialect=pg) for c in self.update_columns[:-1]] + ["integer"]
        return ", ".join(f'"{c}" {t}' for c, t in zip(self.update_columns, types, strict=True))


def _marks(columns: Sequence[str]) -> str:
    return ", ".join("?" for _ in columns)


def _copy(cur: Any, target: str, values: list[list[Any]]) -> None:
    with cur.copy(f"COPY {target} FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)
