"""An exclusive import: the ledger locked, written in one transaction, indexes built once.

For the first import of a shop's history, before the storefront goes live (`import_orders
--exclusive`). Most of a chunked import's time on PostgreSQL goes to keeping the ledger's
secondary indexes up to date row by row and to checking every new row's foreign keys one by one
when each chunk commits (measured in `docs/benchmarks.md`, "Historical import"); building an
index once over the loaded rows, and checking a foreign key with one join over the whole table,
costs a fraction of that.

`ledger_exclusive()` wraps the writing of every chunk:
1. one transaction for the whole write (the chunks' own transactions become savepoints);
2. the tables the import writes are locked, in a fixed order (`TABLES`), against reads and
   writes (PostgreSQL `ACCESS EXCLUSIVE`; SQLite's one writer holds the database's write lock
   from the first statement, and readers keep reading the last committed state): the storefront
   and the admin wait for the import to finish;
3. their non-unique indexes, and on PostgreSQL the foreign keys these tables hold, are dropped;
   unique indexes and constraints stay, so every duplicate is still refused as it is written;
4. when every chunk is written, the same indexes are created again and the foreign keys added
   again from the definitions read before dropping them (PostgreSQL checks each one over the
   whole table then, and refuses the commit if any row points nowhere).

Invariants: the schema after the block is the schema before it, object for object (names,
definitions, `DEFERRABLE INITIALLY DEFERRED`), whatever happens: DDL is transactional on both
engines, so an error or a kill anywhere rolls the indexes, constraints and rows back together,
and the next run starts from the state before (the same end state as one clean run, as for a
chunked import). Nothing is committed until the end: a killed exclusive import leaves nothing,
not the whole customers a chunked one would have committed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from loyalty.importing.staging import execute, is_postgres, rows

# The tables an import writes, in the order they are locked (parents before children, as the
# ledger's writes go).
TABLES = (
    "members_member",
    "loyalty_account",
    "loyalty_order",
    "loyalty_refund",
    "loyalty_posting",
    "loyalty_lot",
    "loyalty_lotallocation",
)


@contextmanager
def ledger_exclusive(timings: dict[str, float] | None = None) -> Iterator[None]:
    """Hold the ledger for one transaction with its indexes (and foreign keys) built at the end.

    `timings` (seconds per step) gains `drop` and `rebuild`."""
    timings = timings if timings is not None else {}
    with transaction.atomic():
        clock = time.monotonic()
        if is_postgres():
            execute(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE")
            # A table with foreign-key checks still pending cannot be altered: when the caller's
            # transaction has written before (nothing has in the command's), check them now.
            # Every deferrable constraint of the schema is `INITIALLY DEFERRED`: restored after.
            execute("SET CONSTRAINTS ALL IMMEDIATE")
            execute("SET CONSTRAINTS ALL DEFERRED")
        restore = _postgres_drop() if is_postgres() else _sqlite_drop()
        timings["drop"] = timings.get("drop", 0.0) + time.monotonic() - clock
        yield
        clock = time.monotonic()
        if is_postgres():
            # Each index is built by sorting the whole table: in memory rather than in
            # temporary files where the server allows it (for this transaction only).
            execute("SET LOCAL maintenance_work_mem = '512MB'")
        with connection.cursor() as cursor:
            for statement in restore:
                cursor.execute(statement)
        timings["rebuild"] = timings.get("rebuild", 0.0) + time.monotonic() - clock


def _postgres_drop() -> list[str]:
    """Drop the foreign keys held by `TABLES` and their non-unique indexes; return the
    statements that create them again (indexes first: the foreign keys' checks use them)."""
    names = list(TABLES)
    indexes = rows(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
        "pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY(%s) AND t.relnamespace = to_regnamespace(current_schema()) "
        "AND NOT i.indisunique AND NOT i.indisprimary ORDER BY 1",
        [names],
    )
    foreign_keys = rows(
        "SELECT quote_ident(t.relname), quote_ident(k.conname), "
        "pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid "
        "WHERE k.contype = 'f' AND t.relname = ANY(%s) "
        "AND t.relnamespace = to_regnamespace(current_schema()) ORDER BY 1, 2",
        [names],
    )
    with connection.cursor() as cursor:
        for table, name, _definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in indexes] + [
        f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
        for table, name, definition in foreign_keys
    ]


def _sqlite_drop() -> list[str]:
    """Drop the non-unique indexes of `TABLES` (SQLite's foreign keys are part of the tables and
    cheap: a look-up of the parent's primary key); return their `CREATE INDEX` statements."""
    indexes = [
        (name, sql)
        for name, table, sql in rows(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
            "AND sql IS NOT NULL ORDER BY name"
        )
        if table in TABLES and not sql.lstrip().upper().startswith("CREATE UNIQUE")
    ]
    with connection.cursor() as cursor:
        for name, _sql in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in indexes]
