# A campaign's budget moves from one counter on its row (every award locked the campaign) to
# budget stripes (`campaigns.services.budget`); what a campaign has awarded is summed from its
# awards on read. Existing budgets are split here: stripe 0 keeps what was awarded, what is left
# is spread over the 8 stripes.

import django.db.models.deletion
from django.db import migrations, models

from loyalty.config_version import config_version_unwatch, config_version_watch

STRIPES = 8  # `campaigns.services.budget.STRIPES` when this was written


def stripes_from_counters(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Stripe = apps.get_model("campaigns", "CampaignBudgetStripe")
    rows = []
    for campaign_id, budget, awarded in Campaign.objects.filter(
        budget_points__isnull=False
    ).values_list("pk", "budget_points", "points_awarded"):
        share, extra = divmod(max(budget - awarded, 0), STRIPES)
        for i in range(STRIPES):
            done = awarded if i == 0 else 0
            rows.append(
                Stripe(
                    campaign_id=campaign_id,
                    stripe=i,
                    points_awarded=done,
                    budget_points=done + share + (1 if i < extra else 0),
                )
            )
    Stripe.objects.bulk_create(rows)


def counters_from_stripes(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Stripe = apps.get_model("campaigns", "CampaignBudgetStripe")
    for campaign in Campaign.objects.all():
        awarded = Stripe.objects.filter(campaign_id=campaign.pk).aggregate(
            p=models.Sum("points_awarded")
        )["p"]
        if awarded:
            Campaign.objects.filter(pk=campaign.pk).update(points_awarded=awarded)


# `0003_config_version_trigger`'s triggers: SQLite rebuilds the table to drop a column, and drops
# its triggers with it; they are made again (on PostgreSQL: dropped and made again, the same).
TABLE = "campaigns_campaign"
EVENTS = ["INSERT", "UPDATE OF is_active, kind, action", "DELETE"]


def triggers_again(apps, schema_editor):
    config_version_unwatch(schema_editor, table=TABLE, events=EVENTS)
    config_version_watch(schema_editor, table=TABLE, events=EVENTS)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_translated_names"),
        ("loyalty", "0013_config_version"),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignBudgetStripe",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("stripe", models.PositiveSmallIntegerField(verbose_name="stripe")),
                ("budget_points", models.PositiveIntegerField(verbose_name="budget points")),
                (
                    "points_awarded",
                    models.PositiveIntegerField(default=0, verbose_name="points awarded"),
                ),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="budget_stripes",
                        to="campaigns.campaign",
                        verbose_name="campaign",
                    ),
                ),
            ],
            options={
                "verbose_name": "campaign budget stripe",
                "verbose_name_plural": "campaign budget stripes",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("campaign", "stripe"), name="budget_stripe_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("points_awarded__lte", models.F("budget_points"))),
                        name="budget_stripe_within_budget",
                    ),
                ],
            },
        ),
        migrations.RunPython(stripes_from_counters, counters_from_stripes),
        migrations.RemoveConstraint(model_name="campaign", name="campaign_within_budget"),
        migrations.RemoveField(model_name="campaign", name="points_awarded"),
        migrations.RunPython(triggers_again, triggers_again),
        migrations.RemoveIndex(model_name="campaignaward", name="award_campaign_member_idx"),
        migrations.AddIndex(
            model_name="campaignaward",
            index=models.Index(
                fields=["campaign", "member", "points"], name="award_campaign_member_idx"
            ),
        ),
    ]
