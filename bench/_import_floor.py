"""The import's floor, measured in the same run: what writing its finished rows costs at least.

`bench/import.py` (PostgreSQL) calls this module's functions around the import it times:

1. `floor_database_create(url)` before the import: an empty copy of the migrated database (the
   demo tier ladder included), `CREATE DATABASE ... TEMPLATE`, so the floor loads into the same
   schema, indexes and foreign keys the import wrote into.
2. `floor_rows_dump(url, folder)` after it: every table the import left rows in (the ledger's
   tables of `loyalty.importing.exclusive.TABLES`, the tier state, the import's run and events),
   `COPY ... TO` binary files.
3. `floor_measure(url, folder, exclusive=...)`: in a child process (Django's own connection,
   as the import has), one transaction that `COPY`s the files back:
   - chunked import's floor: into the tables as they are, every index and foreign key live (the
     foreign keys, `DEFERRABLE INITIALLY DEFERRED`, are checked at the commit, which is timed);
   - `--exclusive`'s floor: inside the import's own `ledger_exclusive()` (non-unique indexes and
     foreign keys dropped, then built again): a bare `COPY` then the index builds.
   The child prints the seconds of that transaction, commit included.

Nothing here parses, checks or computes: the floor is what PostgreSQL needs for these rows on
this machine, so `import rate / floor rate` is the share of it the importer reaches. Not a
benchmark itself (`make bench` skips `bench/_*.py`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR_DB = "loyalty_floor"
# Tables an import writes besides the ledger's (`exclusive.TABLES`), loaded after them (parents
# first, as the import writes them).
EXTRA_TABLES = (
    "loyalty_debt",
    "loyalty_membertier",
    "loyalty_tierchange",
    "loyalty_tierevaluationrun",
    "loyalty_importrun",
    "events_event",
    "events_membereventcounter",
)


def _admin_url(url: str, dbname: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, dbname=dbname)


def floor_database_create(url: str) -> str:
    """An empty copy of `url`'s database (no connection may be open on it); its URL."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    source = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(_admin_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{FLOOR_DB}"')
        conn.execute(f'CREATE DATABASE "{FLOOR_DB}" TEMPLATE "{source}"')
    return url.rsplit("/", 1)[0] + "/" + FLOOR_DB


def floor_tables(url: str) -> list[str]:
    """The tables whose rows the floor loads, in load order (those that exist and have rows)."""
    import psycopg

    from loyalty.importing.exclusive import TABLES

    with psycopg.connect(url) as conn:
        present = {
            name
            for (name,) in conn.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r' "
                "AND relnamespace = to_regnamespace(current_schema())"
            )
        }
        tables = [t for t in (*TABLES, *EXTRA_TABLES) if t in present]
        exists = "SELECT EXISTS (SELECT 1 FROM {})"
        return [t for t in tables if conn.execute(exists.format(t)).fetchone()[0]]


def floor_rows_dump(url: str, folder: Path, tables: list[str]) -> dict[str, int]:
    """`COPY` each table's rows to `folder/<table>.bin`; rows per table."""
    import psycopg

    counts = {}
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for table in tables:
            with (
                open(folder / f"{table}.bin", "wb") as out,
                cursor.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy,
            ):
                for block in copy:
                    out.write(block)
            counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return counts


def floor_measure(floor_url: str, folder: Path, tables: list[str], *, exclusive: bool) -> float:
    """Seconds to load the dumped rows into the floor database (the child's figure)."""
    env = dict(os.environ, DATABASE_URL=floor_url, DJANGO_SETTINGS_MODULE="config.settings.test")
    command = [sys.executable, __file__, str(folder), json.dumps(tables)]
    if exclusive:
        command.append("--exclusive")
    output = subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return float(output.stdout.strip().splitlines()[-1])


def _load(folder: Path, tables: list[str], *, exclusive: bool) -> float:
    """In the child: truncate the tables, then load them in one timed transaction."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection, transaction

    from loyalty.importing.exclusive import ledger_exclusive

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    started = time.monotonic()
    with transaction.atomic():
        block = ledger_exclusive() if exclusive else transaction.atomic()
        with block, connection.cursor() as cursor:
            for table in tables:
                with (
                    open(folder / f"{table}.bin", "rb") as source,
                    cursor.cursor.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy,
                ):
                    while data := source.read(1 << 20):
                        copy.write(data)
    return time.monotonic() - started  # the commit (and its deferred FK checks) included


if __name__ == "__main__":
    seconds = _load(Path(sys.argv[1]), json.loads(sys.argv[2]), exclusive="--exclusive" in sys.argv)
    print(f"{seconds:.3f}")
