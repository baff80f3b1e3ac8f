# The configuration version the order path caches against (`loyalty.selectors.order_path`,
# `loyalty.config_version`): the table, and triggers on the program settings and the tiers.
# Apps above this one watch their own tables from their own migrations (campaigns: 0003).

from django.db import migrations

from loyalty.config_version import (
    config_version_create,
    config_version_drop,
    config_version_unwatch,
    config_version_watch,
)

WATCHED = [
    ("loyalty_programsettings", ["INSERT", "UPDATE", "DELETE"]),
    ("loyalty_tier", ["INSERT", "UPDATE", "DELETE"]),
]


def forwards(apps, schema_editor):
    config_version_create(schema_editor)
    for table, events in WATCHED:
        config_version_watch(schema_editor, table=table, events=events)


def backwards(apps, schema_editor):
    for table, events in WATCHED:
        config_version_unwatch(schema_editor, table=table, events=events)
    config_version_drop(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0012_order_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
