# The plan's earn multiplier is applied on orders: the order path caches "no plan has a
# multiplier above 1" against loyalty's configuration version (`loyalty.config_version`), so
# every change to a plan changes the version. The code leaves room for the bonus's campaign code
# ("plan:" + code, 64 characters).

import django.core.validators
from django.db import migrations, models

from loyalty.config_version import config_version_unwatch, config_version_watch

TABLE = "memberships_plan"
EVENTS = ["INSERT", "UPDATE", "DELETE"]


def forwards(apps, schema_editor):
    config_version_watch(schema_editor, table=TABLE, events=EVENTS)


def backwards(apps, schema_editor):
    config_version_unwatch(schema_editor, table=TABLE, events=EVENTS)


class Migration(migrations.Migration):

    dependencies = [
        ('memberships', '0003_earn_multiplier_help'),
        ('loyalty', '0013_config_version'),
    ]

    operations = [
        migrations.AlterField(
            model_name='plan',
            name='code',
            field=models.SlugField(max_length=59, unique=True, verbose_name='code'),
        ),
        migrations.AlterField(
            model_name='plan',
            name='earn_multiplier',
            field=models.DecimalField(decimal_places=2, default=1, help_text="Adds to the tier's: an order earns base points × (tier multiplier + this − 1); the plan's part is its own bonus posting.", max_digits=4, validators=[django.core.validators.MinValueValidator(1)], verbose_name='earn multiplier'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
