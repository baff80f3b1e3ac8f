"""The program settings row exists from the first migrate on.

It used to be created by the first reader. On the storefront's first order that creation bumped
the configuration version inside the order's own transaction, after the order path had read the
version and cached the configuration under it; the next order's one-statement earn then found the
version moved and fell back to the locked path (12 statements instead of 4, once per process
start on a fresh database). Readers still create it if it is missing (a flushed test database).
"""

from django.db import migrations


def settings_row_create(apps, schema_editor):
    apps.get_model("loyalty", "ProgramSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0021_guestorder")]

    operations = [migrations.RunPython(settings_row_create, migrations.RunPython.noop)]
