import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Group, User

from campaigns.models import Campaign
from members.models import AuditEntry
from tests.campaigns.factories import make_campaign
from tests.loyalty.conftest import T0

pytestmark = pytest.mark.django_db


def staff(role: str) -> User:
    user = User.objects.create_user(
        username=role.lower().replace(" ", ""), password="x", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def test_campaign_pages_render(admin_client, member, record_order):
    campaign = make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    record_order(member, "O-1", "10.00", placed_at=T0)

    for url in (
        "/admin/campaigns/campaign/",
        "/admin/campaigns/campaign/add/",
        f"/admin/campaigns/campaign/{campaign.pk}/change/",
        f"/admin/campaigns/campaign/{campaign.pk}/results/",
        "/admin/campaigns/campaignaward/",
        "/admin/campaigns/referral/",
    ):
        assert admin_client.get(url).status_code == HTTPStatus.OK, url


def test_the_preview_shows_targeted_members_and_the_30_day_cost(client, make_member, record_order):
    from django.utils import timezone

    now = timezone.now()
    a, b = make_member(), make_member()
    record_order(a, "O-1", "100.00", placed_at=now - dt.timedelta(days=3))
    record_order(b, "O-2", "50.00", placed_at=now - dt.timedelta(days=10))
    record_order(b, "O-3", "999.00", placed_at=now - dt.timedelta(days=40))  # outside 30 days
    campaign = make_campaign("triple", "multiplier", multiplier=Decimal("3.00"))
    client.force_login(staff("Marketing"))

    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/preview/").content.decode()

    # members: a, b; cost: (100 + 50) base × (3 − 1) = 300 points = 3.00 at 0.01
    assert '<td id="targeted">2</td>' in page
    assert '<td id="cost-points">300</td>' in page
    assert '<td id="cost-money">3.00</td>' in page


def test_the_results_view_adds_up_awards_orders_and_cost(admin_client, member, record_order):
    campaign = make_campaign("double", "multiplier", multiplier=Decimal("2.00"), budget_points=1000)
    record_order(member, "O-1", "100.00", placed_at=T0)
    record_order(member, "O-2", "50.00", placed_at=T0)

    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/results/").content.decode()

    assert '<td id="points">150</td>' in page
    assert '<td id="members">1</td>' in page
    assert '<td id="orders">2</td>' in page
    assert '<td id="revenue">150.00 GBP</td>' in page
    assert '<td id="cost">1.50 GBP</td>' in page
    assert '<td id="budget-left">850 points</td>' in page


def test_marketing_creates_a_campaign_through_the_service_audited(client):
    client.force_login(staff("Marketing"))

    response = client.post(
        "/admin/campaigns/campaign/add/",
        {
            "code": "fridays",
            "name": "Fridays",
            "kind": "multiplier",
            "is_active": "on",
            "starts_at_0": "2026-01-01",
            "starts_at_1": "00:00:00",
            "multiplier": "2.00",
            "weekdays": "[5]",
            "categories": "[]",
            "points": "0",
            "referee_points": "0",
            "referee_trigger": "first_order",
            "referrer_points": "0",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    assert Campaign.objects.get().weekdays == [5]
    assert AuditEntry.objects.get(action="campaign.create").actor_label == "marketing"


def test_an_invalid_campaign_is_refused_with_the_field_named(client):
    client.force_login(staff("Marketing"))

    response = client.post(
        "/admin/campaigns/campaign/add/",
        {
            "code": "bad",
            "name": "Bad",
            "kind": "multiplier",
            "is_active": "on",
            "starts_at_0": "2026-01-01",
            "starts_at_1": "00:00:00",
            "multiplier": "2.00",
            "weekdays": "[9]",
            "categories": "[]",
            "points": "0",
            "referee_points": "0",
            "referee_trigger": "first_order",
            "referrer_points": "0",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert "Weekdays are ISO numbers" in response.content.decode()
    assert Campaign.objects.count() == 0


def test_customer_service_reads_but_cannot_change_campaigns(client):
    campaign = make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    client.force_login(staff("Customer service"))

    assert client.get("/admin/campaigns/campaign/").status_code == HTTPStatus.OK
    assert client.get("/admin/campaigns/campaign/add/").status_code == HTTPStatus.FORBIDDEN
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/change/", {"name": "x"})
    assert response.status_code == HTTPStatus.FORBIDDEN
