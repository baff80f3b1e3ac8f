# The order path now caches the live multiplier and first-order campaigns themselves (windows,
# budgets, limits, multipliers, target tiers) under loyalty's configuration version, not only
# "none is active" (`campaigns.services.orders`). Awards no longer write the campaign row (budgets
# are counted in `CampaignBudgetStripe`, `0006_budget_stripes`), so every change of a campaign
# row, and of its target tiers, is a configuration change and changes the version.

from django.db import migrations

from loyalty.config_version import config_version_unwatch, config_version_watch

CAMPAIGNS = "campaigns_campaign"
BEFORE = ["INSERT", "UPDATE OF is_active, kind, action", "DELETE"]
EVERY_CHANGE = ["INSERT", "UPDATE", "DELETE"]
TIERS = "campaigns_campaign_tiers"


def forwards(apps, schema_editor):
    config_version_unwatch(schema_editor, table=CAMPAIGNS, events=BEFORE)
    config_version_watch(schema_editor, table=CAMPAIGNS, events=EVERY_CHANGE)
    config_version_watch(schema_editor, table=TIERS, events=EVERY_CHANGE)


def backwards(apps, schema_editor):
    config_version_unwatch(schema_editor, table=TIERS, events=EVERY_CHANGE)
    config_version_unwatch(schema_editor, table=CAMPAIGNS, events=EVERY_CHANGE)
    config_version_watch(schema_editor, table=CAMPAIGNS, events=BEFORE)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0006_budget_stripes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
