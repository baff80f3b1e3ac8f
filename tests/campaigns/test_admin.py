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
            "weekdays": ["5"],
            "categories": "",
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
            "weekdays": ["9"],
            "categories": "",
            "points": "0",
            "referee_points": "0",
            "referee_trigger": "first_order",
            "referrer_points": "0",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors == {
        "weekdays": ["Select a valid choice. 9 is not one of the available choices."]
    }
    assert Campaign.objects.count() == 0


def test_customer_service_reads_but_cannot_change_campaigns(client):
    campaign = make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    client.force_login(staff("Customer service"))

    assert client.get("/admin/campaigns/campaign/").status_code == HTTPStatus.OK
    assert client.get("/admin/campaigns/campaign/add/").status_code == HTTPStatus.FORBIDDEN
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/change/", {"name": "x"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def _multiplier_form(**fields) -> dict:
    return {
        "name": "New",
        "kind": "multiplier",
        "is_active": "on",
        "starts_at_0": "2026-01-01",
        "starts_at_1": "00:00:00",
        "multiplier": "2.00",
        "categories": "",
        "points": "0",
        "referee_points": "0",
        "referee_trigger": "first_order",
        "referrer_points": "0",
        **fields,
    }


def _messages(response) -> list[str]:
    from django.contrib.messages import get_messages

    return [str(m) for m in get_messages(response.wsgi_request)]


def test_weekdays_are_checkboxes_and_categories_are_tags(client):
    client.force_login(staff("Marketing"))

    response = client.post(
        "/admin/campaigns/campaign/add/",
        _multiplier_form(
            code="weekend", weekdays=["7", "6"], categories=" Gifts, Home,,Gifts ", _continue="1"
        ),
    )

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    assert (campaign.weekdays, campaign.categories) == ([6, 7], ["Gifts", "Home"])
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'type="checkbox" name="weekdays" value="6"' in page
    assert 'value="6" class="weekday-choices" id="id_weekdays_5" checked' in page
    assert 'name="categories" value="Gifts, Home"' in page
    assert "data-kind-fields=" in page
    assert "Enter a valid JSON" not in page


def test_saving_a_multiplier_that_stacks_warns_with_the_combined_multiplier(client):
    make_campaign("fridays", "multiplier", name="Double Fridays", weekdays=[5])
    make_campaign("sundays", "multiplier", name="Double Sundays", weekdays=[7])
    client.force_login(staff("Marketing"))

    response = client.post(
        "/admin/campaigns/campaign/add/", _multiplier_form(code="fri-sat", weekdays=["5", "6"])
    )

    assert response.status_code == HTTPStatus.FOUND
    assert _messages(response)[0] == (
        "Campaigns stack: “Double Fridays” (×2.00, Friday) can apply to the same orders as this "
        "one. Their bonuses add up, so such an order earns ×3.00 its base points, not ×2.00."
    )
    campaign = Campaign.objects.get(code="fri-sat")
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="stacking-warning"' in page
    assert "Double Sundays" not in page


def test_multipliers_that_cannot_meet_do_not_stack():
    from campaigns.selectors import multipliers_stacking
    from loyalty.demo import demo_tiers_ensure

    _member, silver, gold, _platinum = demo_tiers_ensure()
    make_campaign("gold-days", "multiplier", weekdays=[5], tiers=[gold])
    make_campaign("toys", "multiplier", categories=["Toys"])
    make_campaign("the-1st", "multiplier", day_of_month=1)
    make_campaign("off", "multiplier", is_active=False)
    make_campaign("ended", "multiplier", ends_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    make_campaign("bonus", "action", action="review", points=10)
    mine = make_campaign(
        "silver-gifts",
        "multiplier",
        weekdays=[5, 6],
        day_of_month=15,
        categories=["Gifts"],
        tiers=[silver],
        starts_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )

    assert multipliers_stacking(mine) == []
    everyone = make_campaign("everyone", "multiplier", multiplier=Decimal("1.50"))
    found = multipliers_stacking(mine)
    assert [(s.campaign.code, s.days) for s in found] == [
        ("everyone", "Friday, Saturday on day 15 of the month")
    ]
    # For a form's tiers not yet saved: gold members meet gold-days, toys, the 1st and "ended"
    # (its window overlaps, both from 2025), not silver-gifts (silver only).
    stacking = multipliers_stacking(everyone, tier_ids={gold.pk})
    assert [s.campaign.code for s in stacking] == ["ended", "gold-days", "the-1st", "toys"]


@pytest.mark.parametrize(
    ("budget", "outlook"),
    [
        (
            1000,
            "At the last 30 days' pace, 30 days use 30% of the budget left; it lasts about 100 "
            "days.",
        ),
        (
            200,
            "At the last 30 days' pace the budget left runs out after about 20 days: 30 days "
            "would cost 300 points, 100 more than is left.",
        ),
    ],
)
def test_the_preview_sets_the_30_day_cost_against_the_budget(
    client, make_member, record_order, budget, outlook
):
    from django.utils import timezone

    record_order(make_member(), "O-1", "150.00", placed_at=timezone.now() - dt.timedelta(days=3))
    campaign = make_campaign(
        "triple", "multiplier", multiplier=Decimal("3.00"), budget_points=budget
    )
    client.force_login(staff("Marketing"))

    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/preview/").content.decode()

    assert '<td id="cost-points">300</td>' in page
    assert '<td id="budget-outlook"' in page
    assert outlook in page.replace("&#x27;", "'")


def test_a_category_longer_than_an_order_item_s_is_refused_on_its_field(client):
    client.force_login(staff("Marketing"))
    long = "G" * 65

    response = client.post(
        "/admin/campaigns/campaign/add/",
        _multiplier_form(code="long", categories=f"Gifts, {long}"),
    )

    assert response.status_code == HTTPStatus.OK
    form = response.context["adminform"].form
    assert form.errors.as_data()["categories"][0].code == "category_too_long"
    assert form.errors["categories"] == [
        f"Categories: “{long}” has 65 characters; an order item's category has at most 64, so "
        "it could never match."
    ]
    assert not Campaign.objects.exists()
    # The field keeps what was typed, for the chips to show again.
    assert f'name="categories" value="Gifts, {long}"' in response.content.decode()


def test_at_most_fifty_categories(client):
    client.force_login(staff("Marketing"))

    response = client.post(
        "/admin/campaigns/campaign/add/",
        _multiplier_form(code="many", categories=", ".join(f"C{n}" for n in range(51))),
    )

    form = response.context["adminform"].form
    assert form.errors["categories"] == ["Categories: 51 given; a campaign names at most 50."]
    assert not Campaign.objects.exists()
