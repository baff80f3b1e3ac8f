"""`GET /api/v1/tiers`: the ladder for the storefront's "our tiers" page."""

from __future__ import annotations

from http import HTTPStatus

from loyalty.demo import demo_tiers_ensure
from loyalty.selectors.program import program_settings

BIRTHDAY = {
    "code": "birthday_gift",
    "name": "Birthday gift",
    "kind": "birthday_gift",
    "value": None,
}
SHIPPING = {
    "code": "free_shipping",
    "name": "Free shipping",
    "kind": "free_shipping",
    "value": None,
}


def test_no_ladder_is_an_empty_list(api_client):
    response = api_client.get("/api/v1/tiers")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"currency": "GBP", "metric": "qualifying_spend", "results": []}


def test_the_demo_ladder_entry_tier_first_with_perks(
    api_client, system_actor, django_assert_max_num_queries
):
    demo_tiers_ensure(actor=system_actor)
    program_settings()  # the settings row exists in any real program

    # The API key, the settings, the tiers, their perks.
    with django_assert_max_num_queries(4):
        response = api_client.get("/api/v1/tiers")

    body = response.json()
    assert [(t["code"], t["rank"], t["threshold"], t["multiplier"]) for t in body["results"]] == [
        ("member", 0, "0.00", "1.00"),
        ("silver", 1, "250.00", "1.25"),
        ("gold", 2, "500.00", "1.50"),
        ("platinum", 3, "1000.00", "2.00"),
    ]
    assert body["results"][1] == {
        "code": "silver",
        "name": "Silver",
        "rank": 1,
        "threshold": "250.00",
        "threshold_value": None,
        "multiplier": "1.25",
        "description": "Spend £250 in a year.",
        "perks": [BIRTHDAY, SHIPPING],
    }
    assert [p["code"] for p in body["results"][3]["perks"]] == [
        "members_discount_10",
        "birthday_gift",
        "early_access",
        "free_shipping",
        "priority_support",
    ]


def test_the_ladder_needs_an_api_key(anon_client):
    response = anon_client.get("/api/v1/tiers")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
