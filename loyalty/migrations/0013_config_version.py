# The configuration version the order path caches against (`loyalty.selectors.order_path`): one
# row, set to a new random value by triggers whenever the program settings, the tiers, or the
# campaigns' "is it a candidate for an order" columns change (any writer, `QuerySet.update` and
# TRUNCATE included). Random, not a counter: a rolled-back change restores the old value together
# with the old data, and a later change can never reuse a value some process cached data under.
# Not a Django model (nothing reads it through the ORM); the table survives `flush`, which the
# TRUNCATE / DELETE triggers make harmless.

from django.db import migrations

TABLE = "loyalty_config_version"
# (table, events): what changes the cached configuration.
WATCHED = [
    ("loyalty_programsettings", ["INSERT", "UPDATE", "DELETE"]),
    ("loyalty_tier", ["INSERT", "UPDATE", "DELETE"]),
    # Only which campaigns are active multiplier / first-order campaigns is cached (and only when
    # there is none); `points_awarded`, updated by every award, must not bump the version.
    ("campaigns_campaign", ["INSERT", "UPDATE OF is_active, kind, action", "DELETE"]),
]


def _trigger_name(table: str, event: str) -> str:
    return f"{table}_cfgver_{event.split()[0].lower()}"


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    run = schema_editor.execute
    if vendor == "postgresql":
        run(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, version bigint NOT NULL)")
        run(f"INSERT INTO {TABLE} VALUES (1, (random() * 9.0e18)::bigint)")
        run(
            "CREATE FUNCTION loyalty_config_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN UPDATE {TABLE} SET version = (random() * 9.0e18)::bigint WHERE id = 1; "
            "RETURN NULL; END $$"
        )
        for table, events in WATCHED:
            run(
                f"CREATE TRIGGER {table}_cfgver AFTER {' OR '.join(events)} OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION loyalty_config_version_bump()"
            )
    elif vendor == "sqlite":
        run(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, version bigint NOT NULL)")
        run(f"INSERT INTO {TABLE} VALUES (1, random())")
        for table, events in WATCHED:
            for event in events:
                run(
                    f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table} "
                    f"BEGIN UPDATE {TABLE} SET version = random() WHERE id = 1; END"
                )
    # Other backends: no table; the order path then reads the configuration every time.


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    run = schema_editor.execute
    if vendor == "postgresql":
        for table, _events in WATCHED:
            run(f"DROP TRIGGER IF EXISTS {table}_cfgver ON {table}")
        run("DROP FUNCTION IF EXISTS loyalty_config_version_bump()")
    elif vendor == "sqlite":
        for table, events in WATCHED:
            for event in events:
                run(f"DROP TRIGGER IF EXISTS {_trigger_name(table, event)}")
    if vendor in ("postgresql", "sqlite"):
        run(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0012_order_indexes"),
        ("campaigns", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
