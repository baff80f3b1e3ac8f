# The order path caches "no multiplier or first-order campaign is active" against loyalty's
# configuration version (`loyalty.config_version`): which campaigns those are changes the version.
# `points_awarded`, updated by every award, must not: only these columns are watched.

from django.db import migrations

from loyalty.config_version import config_version_unwatch, config_version_watch

TABLE = "campaigns_campaign"
EVENTS = ["INSERT", "UPDATE OF is_active, kind, action", "DELETE"]


def forwards(apps, schema_editor):
    config_version_watch(schema_editor, table=TABLE, events=EVENTS)


def backwards(apps, schema_editor):
    config_version_unwatch(schema_editor, table=TABLE, events=EVENTS)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_roles"),
        ("loyalty", "0013_config_version"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
