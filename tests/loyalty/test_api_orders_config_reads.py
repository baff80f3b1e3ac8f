"""`POST /api/v1/orders` sees a change to the program's configuration on the very next order.

The order path caches the settings, the tier ladder and "no campaign is a candidate" per process,
checked on every order against a version the database changes by triggers
(`loyalty.selectors.order_path`): a change to the settings, the tiers or the campaigns is seen by
the very next order, even one written behind the services' back (`QuerySet.update`, no signal, no
audit), which is what these tests do.
"""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.db.models import F

from campaigns.models import Campaign, CampaignAward, CampaignBudgetStripe
from loyalty.demo import demo_tiers_ensure
from loyalty.models import ProgramSettings, Tier
from loyalty.selectors.program import program_settings
from tests.campaigns.factories import make_campaign
from tests.loyalty.test_api_orders import (
    CAMPAIGN_HOOK_QUERIES,
    LOYALTY_QUERIES,
    available_on,
    iso,
    order_body,
    placed,
    post,
)


def earn(api_client, order_id: str, total: str = "100.00", **body) -> dict:
    response = post(api_client, order_body(order_id=order_id, total=total, **body))
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response.json()


def test_a_settings_change_applies_to_the_next_order(api_client, member):
    assert earn(api_client, "O-1")["points"]["base"] == 100
    ProgramSettings.objects.filter(pk=program_settings().pk).update(
        earn_rate=Decimal("2.5"), pending_days=3
    )

    answer = earn(api_client, "O-2", placed_at=iso(placed()))

    assert answer["points"]["base"] == 250
    assert answer["available_on"] == available_on(placed(), days=3)


def test_tiers_created_and_changed_apply_to_the_next_order(api_client, member):
    assert earn(api_client, "O-1")["member"]["tier"] is None
    ladder = demo_tiers_ensure()
    entry = ladder[0]

    answer = earn(api_client, "O-2")
    assert (answer["member"]["tier"], answer["points"]["tier_bonus"]) == (entry.code, 0)

    Tier.objects.filter(pk=entry.pk).update(multiplier=Decimal("1.50"))
    answer = earn(api_client, "O-3")
    assert (answer["points"]["base"], answer["points"]["tier_bonus"]) == (100, 50)


def test_a_campaign_switched_on_and_off_applies_from_the_next_order(api_client, member):
    make_campaign("double", "multiplier", multiplier=Decimal("2.00"), is_active=False)
    assert earn(api_client, "O-1")["points"]["campaign_bonus"] == []

    Campaign.objects.filter(code="double").update(is_active=True)
    assert earn(api_client, "O-2")["points"]["campaign_bonus"] == [
        {"campaign": "double", "points": 100}
    ]
    assert CampaignAward.objects.get().reference == "order:O-2"

    Campaign.objects.filter(code="double").update(is_active=False)
    assert earn(api_client, "O-3")["points"]["campaign_bonus"] == []


def test_a_first_order_campaign_rewards_the_first_order_only(api_client, member, make_member):
    make_campaign("welcome", "action", action="first_order", points=30)

    earn(api_client, "O-1")
    earn(api_client, "O-2")

    award = CampaignAward.objects.get(member=member)
    assert (award.reference, award.points) == ("first_order", 30)
    # Switched on after a member's first order: their next order is not a first order.
    Campaign.objects.filter(code="welcome").update(is_active=False)
    later = make_member(external_id="C-2002")
    earn(api_client, "O-3", member="C-2002")
    Campaign.objects.filter(code="welcome").update(is_active=True)
    earn(api_client, "O-4", member="C-2002")
    assert not CampaignAward.objects.filter(member=later).exists()


def test_the_one_statement_config_read_returns_what_the_orm_reads(db):
    from loyalty.selectors.order_path import program_config_read
    from loyalty.selectors.tiers import tier_ladder

    def fields(obj) -> dict:
        return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}

    ProgramSettings.objects.filter(pk=1).delete()
    settings_obj, ladder = program_config_read()  # creates the record with its defaults
    assert (fields(settings_obj), ladder) == (fields(ProgramSettings.objects.get(pk=1)), [])

    demo_tiers_ensure()
    ProgramSettings.objects.filter(pk=1).update(earn_rate=Decimal("1.25"))
    settings_obj, ladder = program_config_read()

    assert fields(settings_obj) == fields(ProgramSettings.objects.get(pk=1))
    assert settings_obj.earn_rate == Decimal("1.25")
    assert [fields(t) for t in ladder] == [fields(t) for t in tier_ladder()]
    assert len(ladder) == Tier.objects.count() == 4  # the demo ladder, entry tier first


def config_version():
    from loyalty.selectors.order_path import config_version_read

    return config_version_read()


def test_the_configuration_version_changes_with_what_the_order_path_caches(db):
    program_settings()
    seen = [config_version()]
    assert seen[0] is not None

    def changed() -> bool:
        seen.append(config_version())
        return seen[-1] != seen[-2]

    ProgramSettings.objects.filter(pk=1).update(pending_days=5)
    assert changed()
    demo_tiers_ensure()
    assert changed()
    Tier.objects.filter(rank=0).update(multiplier=Decimal("1.10"))
    assert changed()
    campaign = make_campaign(
        "double", "multiplier", multiplier=Decimal("2.00"), is_active=False, budget_points=1000
    )
    assert changed()
    Campaign.objects.filter(pk=campaign.pk).update(is_active=True)
    assert changed()
    # Every award updates the campaign's budget: that must not invalidate every process's cache.
    stripes = CampaignBudgetStripe.objects.filter(campaign=campaign, stripe=0)
    assert stripes.update(points_awarded=F("points_awarded") + 5) == 1
    assert not changed()
    Campaign.objects.filter(pk=campaign.pk).delete()
    assert changed()
    Tier.objects.all().delete()
    assert changed()


@pytest.mark.django_db(transaction=True)
def test_a_flush_of_the_configuration_changes_the_version(db):
    program_settings()
    before = config_version()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE loyalty_programsettings")
        else:
            cursor.execute("DELETE FROM loyalty_programsettings")
    assert config_version() != before


def test_a_configuration_change_costs_the_next_order_two_reads_then_none(
    api_client, member, django_assert_num_queries
):
    # On PostgreSQL the one statement, made for the version the process saw last, writes nothing,
    # and the order goes the usual way once: the member (+ 1), its savepoint and release here
    # (+ 2), the account lock (+ 1), the settings + ladder (+ 1), the campaigns (+ 1), the paid
    # plans with a multiplier (+ 1, memberships' hook), and the order and its postings apart
    # (+ 2: that no campaign or plan can add a bonus is known once their hooks have looked; the
    # order's `points.earned` event goes in the postings' statement, as the one statement writes
    # it inside its CTEs).
    after_change = {"postgresql": 9, "sqlite": 3}[connection.vendor]
    program_settings()  # creating the record is a change too
    earn(api_client, "O-1")
    budget = LOYALTY_QUERIES[connection.vendor] + CAMPAIGN_HOOK_QUERIES
    with django_assert_num_queries(budget):
        earn(api_client, "O-2")

    ProgramSettings.objects.filter(pk=1).update(earn_rate=Decimal("3"))
    with django_assert_num_queries(budget + after_change):  # settings + ladder, campaigns, plans
        assert earn(api_client, "O-3")["points"]["base"] == 300
    with django_assert_num_queries(budget):
        assert earn(api_client, "O-4")["points"]["base"] == 300
