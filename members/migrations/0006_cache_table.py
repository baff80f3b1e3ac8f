"""The database cache's table (production's default cache: the API rate limit counts there).

`createcachetable` makes the table of every database cache the settings name, and nothing when
there is none (development and tests use local memory); it is idempotent.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("members", "0005_translated_names_member_locale")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
