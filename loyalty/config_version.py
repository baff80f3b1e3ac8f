"""The configuration version's triggers, for migrations (`loyalty.selectors.order_path` reads it).

One row in `loyalty_config_version` is set to a new random value by triggers whenever a watched
table changes (any writer: `QuerySet.update` and, on PostgreSQL, TRUNCATE included). Random, not a
counter: a rolled-back change restores the old value together with the old data, and a later
change can never reuse a value some process cached data under. loyalty creates the table and
watches its own tables (`0013_config_version`); apps above it watch theirs from their own
migrations with `config_version_watch`, so no migration of this app depends on theirs.

Caveat (SQLite): a migration that rebuilds a watched table drops its triggers; the tests in
`tests/loyalty/test_api_orders_config_reads.py` would notice.
"""

from __future__ import annotations

TABLE = "loyalty_config_version"
BUMP_FUNCTION = "loyalty_config_version_bump"


def _sqlite_trigger(table: str, event: str) -> str:
    return f"{table}_cfgver_{event.split()[0].lower()}"


def config_version_create(schema_editor) -> None:
    """The table, its row and (PostgreSQL) the function the triggers call."""
    vendor = schema_editor.connection.vendor
    run = schema_editor.execute
    if vendor == "postgresql":
        run(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, version bigint NOT NULL)")
        run(f"INSERT INTO {TABLE} VALUES (1, (random() * 9.0e18)::bigint)")
        run(
            f"CREATE FUNCTION {BUMP_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN UPDATE {TABLE} SET version = (random() * 9.0e18)::bigint WHERE id = 1; "
            "RETURN NULL; END $$"
        )
    elif vendor == "sqlite":
        run(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, version bigint NOT NULL)")
        run(f"INSERT INTO {TABLE} VALUES (1, random())")
    # Other backends: no table; the order path then reads the configuration every time.


def config_version_drop(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {BUMP_FUNCTION}()")
    if vendor in ("postgresql", "sqlite"):
        schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def config_version_watch(schema_editor, *, table: str, events: list[str]) -> None:
    """Bump the version after `events` (e.g. "INSERT", "UPDATE OF is_active") on `table`."""
    vendor = schema_editor.connection.vendor
    run = schema_editor.execute
    if vendor == "postgresql":
        run(
            f"CREATE TRIGGER {table}_cfgver AFTER {' OR '.join(events)} OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {BUMP_FUNCTION}()"
        )
    elif vendor == "sqlite":
        for event in events:
            run(
                f"CREATE TRIGGER {_sqlite_trigger(table, event)} AFTER {event} ON {table} "
                f"BEGIN UPDATE {TABLE} SET version = random() WHERE id = 1; END"
            )


def config_version_unwatch(schema_editor, *, table: str, events: list[str]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_cfgver ON {table}")
    elif vendor == "sqlite":
        for event in events:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {_sqlite_trigger(table, event)}")
