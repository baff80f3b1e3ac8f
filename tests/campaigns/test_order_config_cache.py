"""The order path takes the live campaigns from the configuration cache (`loyalty.selectors.
order_path`, `campaigns.services.orders`): no campaign query on an order once cached, and any
change to a campaign or its target tiers, by whichever writer, applies to the very next order.
"""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus

from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign
from loyalty.demo import demo_tiers_ensure
from loyalty.selectors.program import program_settings
from tests.campaigns.factories import make_campaign
from tests.loyalty.test_api_orders import order_body, post


def earn(api_client, order_id: str, total: str = "100.00") -> list:
    response = post(api_client, order_body(order_id=order_id, total=total))
    assert response.status_code == HTTPStatus.CREATED, response.content
    return [(b["campaign"], b["points"]) for b in response.json()["points"]["campaign_bonus"]]


def campaign_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "campaigns_campaign"' in q["sql"]]


def award_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "campaigns_campaignaward"' in q["sql"]]


def test_a_live_campaign_is_read_once_then_taken_from_the_cache(api_client, member):
    program_settings()  # creating the settings record is a configuration change too
    make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    assert earn(api_client, "O-1") == [("double", 100)]

    with CaptureQueriesContext(connection) as second:
        assert earn(api_client, "O-2") == [("double", 100)]

    assert campaign_reads(second.captured_queries) == []
    # No per-member limit, and the order is new: nothing of the member's awards to read either.
    assert award_reads(second.captured_queries) == []


def test_a_per_member_limit_still_counts_the_members_awards(api_client, member):
    make_campaign("twice", "multiplier", multiplier=Decimal("2.00"), per_member_limit=2)

    bonuses = [earn(api_client, f"O-{i}") for i in range(3)]

    assert bonuses == [[("twice", 100)], [("twice", 100)], []]


def test_a_multiplier_budget_or_limit_changed_behind_the_services_back_applies_next_order(
    api_client, member
):
    make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    assert earn(api_client, "O-1") == [("double", 100)]

    Campaign.objects.filter(code="double").update(multiplier=Decimal("1.50"))
    assert earn(api_client, "O-2") == [("double", 50)]
    Campaign.objects.filter(code="double").update(per_member_limit=2)
    assert earn(api_client, "O-3") == []  # O-1 and O-2 were its two awards


def test_target_tiers_changed_apply_to_the_next_order(api_client, member):
    ladder = {t.code: t for t in demo_tiers_ensure()}
    campaign = make_campaign("gold-double", "multiplier", multiplier=Decimal("2.00"))
    assert earn(api_client, "O-1") == [("gold-double", 100)]

    campaign.tiers.add(ladder["gold"])  # the member is in the entry tier
    assert earn(api_client, "O-2") == []
    campaign.tiers.remove(ladder["gold"])
    assert earn(api_client, "O-3") == [("gold-double", 100)]
