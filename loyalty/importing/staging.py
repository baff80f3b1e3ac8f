"""Staging tables and bulk writes: the import's only database-specific code.

The file is parsed into temporary tables (`imp_*`, private to the importing connection, gone with
it), checked there with set-based SQL, and read back member by member for writing. Keeping the
staged rows in the database, not in Python, is what keeps memory flat whatever the file's size.

Bulk writes go through `BulkWriter`: on PostgreSQL `COPY ... FROM STDIN` (psycopg 3), elsewhere
`executemany`. Both take plain Python values; on SQLite datetimes are stored in Django's format
(naive UTC text) so the ORM reads them back exactly as if it had written them.

Money is staged as integer cents and times as fixed-width ISO 8601 text in UTC, so that sums are
exact and sorting is chronological on every database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal

from django.db import connection, models

# The defaults of `imp_orders` are what an order without items or refund stages: the orders
# format's batches leave those columns out (`formats.StageBuffer.PLAIN_ORDERS`).
# Staged datetimes that are copied into the ledger's tables are kept in the database's own
# format ("DT": timestamptz on PostgreSQL, Django's text on SQLite; see `db_datetime`), so that the
# set-based INSERT ... SELECT copies them as they are. `placed_at` is also kept as sortable text.
TABLES = {
    "imp_rows": """
        row_no BIGINT NOT NULL, order_id TEXT NOT NULL, ckey TEXT NOT NULL,
        email TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
        placed_at TEXT NOT NULL, currency TEXT NOT NULL, sku TEXT NOT NULL,
        description TEXT NOT NULL, quantity BIGINT NOT NULL, price_units BIGINT NOT NULL,
        is_return INTEGER NOT NULL, bad INTEGER NOT NULL DEFAULT 0
    """,
    "imp_orders": """
        row_no BIGINT NOT NULL, order_id TEXT NOT NULL, ckey TEXT NOT NULL,
        email TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
        placed_at TEXT NOT NULL, currency TEXT NOT NULL, total_cents BIGINT NOT NULL,
        eligible_cents BIGINT, items TEXT NOT NULL DEFAULT '[]', fingerprint TEXT NOT NULL,
        id_col TEXT NOT NULL,
        placed_db DT NOT NULL, available_db DT NOT NULL, expires_db DT,
        matured INTEGER NOT NULL, expired INTEGER NOT NULL, rate TEXT NOT NULL,
        eligible_amount_cents BIGINT NOT NULL, refunded_cents BIGINT NOT NULL DEFAULT 0,
        refunded_amount_cents BIGINT NOT NULL DEFAULT 0, base INTEGER NOT NULL,
        bonus INTEGER NOT NULL, tier_code TEXT NOT NULL, mult_text TEXT NOT NULL,
        rev_earn INTEGER NOT NULL DEFAULT 0, rev_tier INTEGER NOT NULL DEFAULT 0,
        bad INTEGER NOT NULL DEFAULT 0, present INTEGER NOT NULL DEFAULT 0
    """,
    # `cumulative`: the amount is the order's refunded total so far (orders and Shopify files),
    # not one refund (a line file's cancellation).
    "imp_refunds": """
        row_no BIGINT NOT NULL, refund_id TEXT NOT NULL, order_id TEXT NOT NULL,
        ckey TEXT NOT NULL, amount_cents BIGINT NOT NULL, refunded_at TEXT NOT NULL,
        fingerprint TEXT NOT NULL, cumulative INTEGER NOT NULL, col TEXT NOT NULL,
        refunded_db DT NOT NULL, points_reversed INTEGER NOT NULL, r_earn INTEGER NOT NULL,
        r_tier INTEGER NOT NULL,
        bad INTEGER NOT NULL DEFAULT 0, present INTEGER NOT NULL DEFAULT 0,
        target TEXT NOT NULL DEFAULT '', apply_cents BIGINT NOT NULL DEFAULT 0,
        refund_pk BIGINT, rev_pid BIGINT
    """,
    # The orders of the chunk being written, with their members' ids and keys (`writer`).
    "imp_chunk": """
        order_id TEXT NOT NULL, ckey TEXT NOT NULL, currency TEXT NOT NULL,
        total_cents BIGINT NOT NULL, eligible_cents BIGINT, items TEXT NOT NULL,
        fingerprint TEXT NOT NULL, placed_db DT NOT NULL, available_db DT NOT NULL, expires_db DT,
        matured INTEGER NOT NULL, expired INTEGER NOT NULL, rate TEXT NOT NULL,
        eligible_amount_cents BIGINT NOT NULL, refunded_cents BIGINT NOT NULL,
        refunded_amount_cents BIGINT NOT NULL, base INTEGER NOT NULL, bonus INTEGER NOT NULL,
        tier_code TEXT NOT NULL, mult_text TEXT NOT NULL, rev_earn INTEGER NOT NULL,
        rev_tier INTEGER NOT NULL, member_id BIGINT NOT NULL, order_pk BIGINT NOT NULL,
        earn_pid BIGINT, tier_pid BIGINT, earn_xpid BIGINT, tier_xpid BIGINT
    """,
    # Lines without a customer (guests), and the guest orders made of them (`guests`).
    "imp_guest_rows": """
        row_no BIGINT NOT NULL, order_id TEXT NOT NULL, gkey TEXT NOT NULL,
        placed_at TEXT NOT NULL, currency TEXT NOT NULL, sku TEXT NOT NULL,
        description TEXT NOT NULL, quantity BIGINT NOT NULL, price_units BIGINT NOT NULL,
        is_return INTEGER NOT NULL
    """,
    "imp_guest_orders": """
        row_no BIGINT NOT NULL, order_id TEXT NOT NULL, gkey TEXT NOT NULL,
        placed_at TEXT NOT NULL, currency TEXT NOT NULL, total_cents BIGINT NOT NULL,
        eligible_cents BIGINT, items TEXT NOT NULL
    """,
    "imp_errors": """
        row_no BIGINT NOT NULL, seq BIGINT NOT NULL, col TEXT NOT NULL, value TEXT NOT NULL,
        code TEXT NOT NULL, message TEXT NOT NULL, order_id TEXT
    """,
    # The countries a line file gives its customers (one row per order that names one), for
    # `countries.members_country_fill`.
    "imp_countries": """
        ckey TEXT NOT NULL, placed_at TEXT NOT NULL, country TEXT NOT NULL
    """,
    "imp_new_members": """
        external_id TEXT NOT NULL, email TEXT, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
        enrolled_at DT NOT NULL, referral_code TEXT NOT NULL
    """,
}
INDEXES = {
    "imp_rows": ["ckey, placed_at, order_id, row_no", "order_id"],
    "imp_orders": ["order_id", "ckey, placed_at, order_id"],
    "imp_refunds": ["order_id", "ckey", "row_no", "refund_id"],
    "imp_errors": ["order_id", "row_no"],
    "imp_guest_rows": ["order_id, row_no"],
    "imp_guest_orders": ["order_id"],
    "imp_countries": ["ckey, placed_at"],
    # The chunk's refunds are found by their orders: a look-up each, whatever the planner
    # guesses of the (never analysed) chunk's size.
    "imp_chunk": ["order_id"],
}


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def utc_text(value: dt.datetime) -> str:
    """Fixed-width ISO 8601 in UTC: sorts chronologically as text."""
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec="microseconds")


def from_utc_text(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _sqlite_datetime(value: dt.datetime | None) -> str | None:
    """Django's SQLite form of an aware datetime: naive UTC text."""
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ")[:-6]  # str() of the naive value, without building it


def _pg_datetime(value: dt.datetime | None) -> str | None:
    """PostgreSQL's text of an aware datetime (what psycopg sends for it), in UTC."""
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ")


def db_datetime_converter():
    """The function that turns a datetime into what a staged `DT` column holds, for this
    database: text either way (SQLite stores Django's text form; PostgreSQL reads the text with
    its offset), so that the staging COPY sends text (`column_types`)."""
    return _pg_datetime if is_postgres() else _sqlite_datetime


def db_datetime(value: dt.datetime | None):
    return db_datetime_converter()(value)


# SQLite settings for the importing connection while it imports (restored after): commits in
# WAL mode without a sync each (`NORMAL`: a power cut may lose the last chunks committed, never
# consistency; the next run writes them again, as after a kill). Bigger page caches were tried
# (`cache_size`, `temp.cache_size`): no faster within the noise here, and memory grew with them.
SQLITE_SESSION = {"synchronous": "1"}


def session_tune() -> dict[str, str]:
    """Apply `SQLITE_SESSION` (SQLite only); returns the previous values for `session_restore`.
    (PostgreSQL: a bigger `temp_buffers` was tried, no less CPU for the server at 100k rows.)"""
    if is_postgres():
        return {}
    previous = {}
    with connection.cursor() as cursor:
        for name in SQLITE_SESSION:
            cursor.execute(f"PRAGMA {name}")
            previous[name] = str(cursor.fetchone()[0])
        for name, value in SQLITE_SESSION.items():
            if name == "synchronous" and connection.in_atomic_block:
                continue  # SQLite cannot change it inside a transaction (the admin, tests)
            cursor.execute(f"PRAGMA {name} = {value}")
    return previous


def session_restore(previous: dict[str, str]) -> None:
    if not previous or connection.connection is None:
        return
    with connection.cursor() as cursor:
        for name, value in previous.items():
            cursor.execute(f"PRAGMA {name} = {int(value)}")


# Staged orders are stored in the order the writer reads them (a chunk is a range of customers),
# not in the file's (by date): each chunk then reads a few neighbouring pages instead of pages all
# over the table, which matters once the table outgrows the database's temporary-table cache
# (PostgreSQL's `temp_buffers`, 8 MB by default; SQLite's temp page cache).
CLUSTERED = {"imp_orders": 1}  # table -> its index (in INDEXES) giving that order


def _columns(name: str) -> str:
    return re.sub(r"\bDT\b", "TIMESTAMPTZ" if is_postgres() else "TEXT", TABLES[name])


_COPY_TYPES = {"BIGINT": "int8", "INTEGER": "int4", "TEXT": "text", "DT": "text"}


def column_types(name: str, columns: Sequence[str]) -> list[str]:
    """The types psycopg dumps a staging table's columns as (COPY, `BulkWriter`): told once
    rather than found value by value. `DT` columns are sent as text (`db_datetime_converter`);
    the server reads the text as the column's type, as it reads any COPY text."""
    declared = {}
    for definition in TABLES[name].split(","):
        words = definition.split()
        if len(words) >= 2:
            declared[words[0]] = _COPY_TYPES[words[1]]
    return [declared[column] for column in columns]


def tables_create() -> None:
    with connection.cursor() as cursor:
        for name in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TEMPORARY TABLE {name} ({_columns(name)})")


def tables_index() -> None:
    """Index the staged rows once they are all in (cheaper than indexing row by row), and store
    the staged orders in the writer's order (`CLUSTERED`): copied sorted into a new table, then
    indexed (on PostgreSQL too: `CLUSTER` after the indexes built every index of the table twice;
    100k orders 1.66 -> 1.28 s with the ANALYZE)."""
    with connection.cursor() as cursor:
        for name, index in CLUSTERED.items():
            order = INDEXES[name][index]
            cursor.execute(f"CREATE TEMPORARY TABLE {name}_sorted ({_columns(name)})")
            cursor.execute(f"INSERT INTO {name}_sorted SELECT * FROM {name} ORDER BY {order}")
            cursor.execute(f"DROP TABLE {name}")
            cursor.execute(f"ALTER TABLE {name}_sorted RENAME TO {name}")
        for name, indexes in INDEXES.items():
            for n, columns in enumerate(indexes):
                cursor.execute(f"CREATE INDEX {name}_{n} ON {name} ({columns})")
    tables_analyze()


@contextmanager
def indexes_suspended(name: str) -> Iterator[None]:
    """Without the staging table's indexes while a statement rewrites most of its rows, built
    again after: cheaper than updating them row by row (300,000 staged orders marked present
    on PostgreSQL: the UPDATE 6.5 s with its indexes, 1.7 s + 1.4 s without them and after)."""
    with connection.cursor() as cursor:
        for n in range(len(INDEXES[name])):
            cursor.execute(f"DROP INDEX {name}_{n}")
    yield
    with connection.cursor() as cursor:
        for n, columns in enumerate(INDEXES[name]):
            cursor.execute(f"CREATE INDEX {name}_{n} ON {name} ({columns})")
        if is_postgres():
            cursor.execute(f"ANALYZE {name}")


def tables_analyze() -> None:
    """Autovacuum never analyses temporary tables: without this PostgreSQL's planner guesses."""
    if is_postgres():
        with connection.cursor() as cursor:
            for name in TABLES:
                cursor.execute(f"ANALYZE {name}")


def tables_drop() -> None:
    if connection.connection is None:
        return
    with connection.cursor() as cursor:
        for name in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _sqlite_converter(field: models.Field):
    if isinstance(field, models.DateTimeField):

        def convert(value):
            if value is None:
                return None
            return str(value.astimezone(dt.UTC).replace(tzinfo=None))

        return convert
    if isinstance(field, models.DecimalField):
        return lambda value: None if value is None else str(value)
    if isinstance(field, models.BooleanField):
        return lambda value: int(value)
    return None


class BulkWriter:
    """Append rows to a table: COPY on PostgreSQL, `executemany` elsewhere.

    `table` is a model (columns named after its fields) or a staging table name with explicit
    columns. Rows are tuples in column order; values are plain Python values.
    """

    def __init__(
        self,
        table: str | type[models.Model],
        columns: Sequence[str],
        *,
        types: Sequence[str] | None = None,
    ) -> None:
        self.columns = list(columns)
        # PostgreSQL types to dump the values as (`column_types`), else psycopg picks a dumper for
        # every value by its Python type (100k staged orders: COPY 1.05 -> 0.77 s here).
        self.types = list(types) if types else None
        self.converters: list = []
        if isinstance(table, str):
            self.table = table
            self.converters = [None] * len(self.columns)
        else:
            self.table = table._meta.db_table
            by_name = {f.attname: f for f in table._meta.concrete_fields}
            by_name.update({f.column: f for f in table._meta.concrete_fields})
            self.columns = [by_name[c].column for c in columns]
            self.converters = [_sqlite_converter(by_name[c]) for c in columns]
        quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        self.copy_sql = f"COPY {connection.ops.quote_name(self.table)} ({quoted}) FROM STDIN"
        marks = ", ".join("?" for _ in self.columns)
        self.insert_sql = f'INSERT INTO "{self.table}" ({quoted}) VALUES ({marks})'

    def write(self, rows: Iterable[tuple]) -> int:
        count = 0
        if is_postgres():
            with connection.cursor() as cursor, cursor.cursor.copy(self.copy_sql) as copy:
                if self.types:
                    copy.set_types(self.types)
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        converters = [(i, c) for i, c in enumerate(self.converters) if c is not None]
        if converters:

            def converted(row):
                row = list(row)
                for i, convert in converters:
                    row[i] = convert(row[i])
                return row

            rows = map(converted, rows)
        rows = list(rows)
        connection.ensure_connection()
        raw = connection.connection.cursor()
        try:
            raw.executemany(self.insert_sql, rows)
        finally:
            raw.close()
        return len(rows)


class IdAllocator:
    """Primary keys for rows written in bulk, so that rows can point at each other before COPY.

    PostgreSQL: taken from the table's own sequence in blocks (`nextval` over `generate_series`),
    so ids never clash with the live path's; what a chunk does not use is kept for the next.
    SQLite: the database is locked for writing for the whole chunk transaction, so the next ids
    are simply above the highest used; call `reset()` at the start of each chunk transaction.
    """

    BLOCK = 20_000

    def __init__(self, model: type[models.Model]) -> None:
        self.table = model._meta.db_table
        self.column = model._meta.pk.column
        self._ids: list[int] = []
        self._next = None

    def reset(self) -> None:
        if not is_postgres():
            self._next = None
            self._ids = []

    def next(self) -> int:
        if not self._ids:
            self._refill(1)
        return self._ids.pop()

    def take(self, n: int) -> list[int]:
        if len(self._ids) < n:
            self._refill(n - len(self._ids))
        if n <= 0:
            return []
        taken = self._ids[-n:]
        del self._ids[-n:]
        return taken[::-1]

    def _refill(self, n: int) -> None:
        want = max(n, self.BLOCK)
        if is_postgres():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [connection.ops.quote_name(self.table), self.column, want],
                )
                fresh = [r[0] for r in cursor.fetchall()]
        else:
            if self._next is None:
                with connection.cursor() as cursor:
                    cursor.execute(f'SELECT MAX("{self.column}") FROM "{self.table}"')
                    top = cursor.fetchone()[0] or 0
                    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
                    row = cursor.fetchone()
                    self._next = max(top, row[0] if row else 0) + 1
            fresh = list(range(self._next, self._next + want))
            self._next += want
        # Popped from the end: the smallest ids are kept last so that they are used first.
        self._ids = sorted(self._ids + fresh, reverse=True)


def dec(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def fetch_iter(sql: str, params: Sequence = (), *, size: int = 5000):
    """Stream a query's rows without holding them all (a server-side cursor on PostgreSQL)."""
    cursor = connection.chunked_cursor() if is_postgres() else connection.cursor()
    with cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(size):
            yield from batch


def execute(sql: str, params: Sequence = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scalar(sql: str, params: Sequence = ()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


def rows(sql: str, params: Sequence = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
