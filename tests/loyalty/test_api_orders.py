"""`POST /api/v1/orders`: earning through the storefront API, its replies and its refusals."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty import hooks
from loyalty.demo import demo_tiers_ensure
from loyalty.hooks import OrderBonus
from loyalty.models import Account, Order, Posting
from loyalty.selectors.members import member_points
from members import services as member_services
from members.models import Member

PROBLEM = "application/problem+json"
URL = "/api/v1/orders"


# One reference instant per test session, so that the same order built twice is the same order.
NOW = timezone.now().replace(microsecond=0)


def placed(**delta) -> dt.datetime:
    """A placed_at relative to the session's start (the default: an hour before it)."""
    return NOW - dt.timedelta(hours=1) + dt.timedelta(**delta)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def order_body(**overrides) -> dict:
    body = {
        "order_id": "O-1",
        "member": "C-1001",
        "placed_at": iso(placed()),
        "currency": "GBP",
        "total": "123.99",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def post(client, body):
    return client.post(URL, body, format="json")


def assert_problem(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field]


def available_on(moment: dt.datetime, days: int = 14) -> str:
    return timezone.localdate(moment + dt.timedelta(days=days)).isoformat()


def test_an_order_earns_and_answers_201_with_the_breakdown(api_client, member):
    when = placed()

    response = post(api_client, order_body(placed_at=iso(when)))

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        "order_id": "O-1",
        "points": {"base": 123, "tier_bonus": 0, "campaign_bonus": [], "total": 123},
        "available_on": available_on(when),
        "member": {"tier": None, "points": {"available": 0, "pending": 123}},
    }
    posting = Posting.objects.get(member=member)
    assert (posting.kind, posting.points, posting.actor_kind, posting.actor_api_key_id) == (
        "earn",
        123,
        "api",
        api_client.api_key.pk,
    )


def test_eligible_total_items_and_channel_are_recorded(api_client, member):
    body = order_body(
        total="120.00",
        eligible_total="80.5",
        channel="web",
        items=[
            {"sku": "A-1", "category": "shoes", "quantity": 2, "unit_price": "30.25"},
            {"sku": "B-2", "quantity": 1, "unit_price": "20"},
        ],
    )

    response = post(api_client, body)

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["points"]["base"] == 80
    order = Order.objects.get(order_id="O-1")
    assert (order.total, str(order.eligible_total), order.channel) == (120, "80.50", "web")
    assert order.items == [
        {"sku": "A-1", "category": "shoes", "quantity": 2, "unit_price": "30.25"},
        {"sku": "B-2", "quantity": 1, "unit_price": "20.00"},
    ]


def test_the_same_order_again_answers_200_with_the_same_body_and_earns_once(api_client, member):
    first = post(api_client, order_body())

    again = post(api_client, order_body())

    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert again.json() == first.json()
    assert Posting.objects.filter(member=member).count() == 1


def test_a_repeat_for_a_member_erased_since_is_410_member_erased(api_client, member, system_actor):
    first = post(api_client, order_body())
    member_services.member_erase(member=member, actor=system_actor)

    again = post(api_client, order_body())

    # The API acts on no erased member, a repeat included: the storefront learns why.
    assert first.status_code == HTTPStatus.CREATED
    assert_problem(again, HTTPStatus.GONE, "member_erased")


def test_orders_for_an_erased_email_shaped_id_are_410_and_never_make_a_member(
    api_client, make_member
):
    # given: a member the storefront knew by their email, an order, the erasure (the id became a
    # pseudonym), and a stranger who enrolled since with the same email
    make_member(external_id="ada@example.com", email="ada@example.com")
    first = post(api_client, order_body(member="ada@example.com"))
    erased = api_client.delete("/api/v1/members/ada@example.com")
    pseudonym = erased["External-Id-Replaced-By"]
    stranger = api_client.put("/api/v1/members/C-2", {"email": "ada@example.com"}, format="json")

    # when: the storefront repeats the order, sends a new one, or enrols the old id again
    repeat = post(api_client, order_body(member="ada@example.com"))
    new = post(api_client, order_body(order_id="O-2", member="ada@example.com"))
    by_pseudonym = post(api_client, order_body(order_id="O-3", member=pseudonym))
    enrol = api_client.put(
        "/api/v1/members/ada@example.com", {"email": "ada@example.com"}, format="json"
    )

    # then: each is refused as the erased member's, and nothing is written
    assert (first.status_code, stranger.status_code) == (HTTPStatus.CREATED, HTTPStatus.CREATED)
    for response in (repeat, new, by_pseudonym, enrol):
        assert_problem(response, HTTPStatus.GONE, "member_erased")
    assert list(Order.objects.values_list("order_id", "member__external_id")) == [
        ("O-1", pseudonym)
    ]
    assert not Posting.objects.filter(member__external_id="C-2").exists()
    assert sorted(Member.objects.values_list("external_id", flat=True)) == sorted(
        ["C-2", pseudonym]
    )


def test_the_same_order_id_with_other_content_is_409_order_conflict(api_client, member):
    post(api_client, order_body())

    response = post(api_client, order_body(total="124.00"))

    assert_problem(response, HTTPStatus.CONFLICT, "order_conflict")
    assert Posting.objects.filter(member=member).count() == 1


def test_the_same_order_id_for_another_member_is_409_order_conflict(
    api_client, member, make_member
):
    make_member(external_id="C-2002")
    post(api_client, order_body())

    response = post(api_client, order_body(member="C-2002"))

    assert_problem(response, HTTPStatus.CONFLICT, "order_conflict")


def test_an_unknown_member_is_404_member_not_found(api_client, db):
    response = post(api_client, order_body(member="C-404"))

    assert_problem(response, HTTPStatus.NOT_FOUND, "member_not_found")
    assert Order.objects.count() == 0


def test_an_erased_member_is_410_member_erased(api_client, member, system_actor):
    member_services.member_erase(member=member, actor=system_actor)

    response = post(api_client, order_body())

    assert_problem(response, HTTPStatus.GONE, "member_erased")
    assert Order.objects.count() == 0


def test_another_currency_without_a_rate_is_422_currency_mismatch(api_client, member):
    response = post(api_client, order_body(currency="EUR"))

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "currency_mismatch", "currency")
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"total": 123.99}, "total"),  # a JSON number for money
        ({"total": 124}, "total"),
        ({"total": "123.999"}, "total"),  # more than two decimals
        ({"total": "-1.00"}, "total"),
        ({"total": "1e3"}, "total"),
        ({"total": " 12.00"}, "total"),
        ({"eligible_total": 12.5}, "eligible_total"),
        ({"eligible_total": "200.00"}, "eligible_total"),  # more than the total
        ({"placed_at": "2026-01-05T10:00:00"}, "placed_at"),  # naive: no zone
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"currency": "gbp"}, "currency"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "O" * 65}, "order_id"),
        ({"colour": "red"}, "colour"),  # unknown field
        ({"total": None}, "total"),  # missing
        ({"items": [{"sku": "A", "quantity": 1, "unit_price": 5}]}, "items[0].unit_price"),
        ({"items": [{"sku": "A", "quantity": 0, "unit_price": "5.00"}]}, "items[0].quantity"),
        (
            {"items": [{"sku": "A", "quantity": 1, "unit_price": "5.00", "size": "M"}]},
            "items[0].size",
        ),
    ],
)
def test_a_malformed_order_is_400_validation_error_naming_the_field(
    api_client, member, overrides, field
):
    response = post(api_client, order_body(**overrides))

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field)
    assert Order.objects.count() == 0


def test_placed_at_in_the_future_is_refused_beyond_a_few_minutes_of_clock_skew(api_client, member):
    late = post(api_client, order_body(placed_at=iso(timezone.now() + dt.timedelta(minutes=6))))
    skewed = post(
        api_client,
        order_body(order_id="O-2", placed_at=iso(timezone.now() + dt.timedelta(minutes=2))),
    )

    assert_problem(late, HTTPStatus.BAD_REQUEST, "validation_error", "placed_at")
    assert skewed.status_code == HTTPStatus.CREATED


def test_a_zone_other_than_utc_is_the_same_instant(api_client, member):
    when = placed()
    offset = when.astimezone(dt.timezone(dt.timedelta(hours=-5)))

    response = post(api_client, order_body(placed_at=offset.isoformat()))
    again_in_utc = post(api_client, order_body(placed_at=iso(when)))

    assert (response.status_code, again_in_utc.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert Order.objects.get(order_id="O-1").placed_at == when
    assert response.json()["available_on"] == available_on(when)


def test_without_an_api_key_it_is_401(anon_client, member):
    response = post(anon_client, order_body())

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_campaign_bonuses_are_listed_one_per_campaign(api_client, member, monkeypatch):
    def provider(*, order, member, base_points, settings, actor):
        return [OrderBonus("DOUBLE", base_points), OrderBonus("SHOES", 7)]

    monkeypatch.setattr(hooks, "order_bonus_providers", [provider])

    first = post(api_client, order_body(total="50.00"))
    again = post(api_client, order_body(total="50.00"))

    expected_points = {
        "base": 50,
        "tier_bonus": 0,
        "campaign_bonus": [
            {"campaign": "DOUBLE", "points": 50},
            {"campaign": "SHOES", "points": 7},
        ],
        "total": 107,
    }
    assert (first.status_code, first.json()["points"]) == (HTTPStatus.CREATED, expected_points)
    assert first.json()["member"]["points"] == {"available": 0, "pending": 107}
    assert again.json() == first.json()


def test_the_member_tier_is_the_one_held_after_the_order(api_client, member, system_actor):
    demo_tiers_ensure(actor=system_actor)

    upgrade = post(api_client, order_body(total="300.00"))
    # placed after the upgrade (an order placed before it earns at the tier held then:
    # tests/loyalty/test_backdated_tier.py)
    next_order = post(
        api_client, order_body(order_id="O-2", total="100.00", placed_at=iso(timezone.now()))
    )

    # The order that crosses Silver's threshold earns at the entry tier; the next one at Silver.
    assert upgrade.json()["points"] == {
        "base": 300,
        "tier_bonus": 0,
        "campaign_bonus": [],
        "total": 300,
    }
    assert upgrade.json()["member"]["tier"] == "silver"
    assert next_order.json()["points"]["tier_bonus"] == 25
    assert next_order.json()["member"] == {
        "tier": "silver",
        "points": {"available": 0, "pending": 425},
    }


def test_points_already_past_the_pending_period_are_available_at_once(api_client, member):
    when = placed(days=-20)

    response = post(api_client, order_body(placed_at=iso(when), total="10.00"))

    assert response.json()["available_on"] == available_on(when)
    assert response.json()["member"]["points"] == {"available": 10, "pending": 0}


def test_the_member_summary_points_block_after_orders(api_client, member):
    old = placed(days=-300)  # available since day 14, expires 365 days after that: in 79 days
    post(api_client, order_body(order_id="O-old", placed_at=iso(old), total="40.00"))
    post(api_client, order_body(order_id="O-new", total="25.50"))

    response = api_client.get("/api/v1/members/C-1001")

    expires = timezone.localdate(old + dt.timedelta(days=14 + 365))
    assert response.json()["points"] == {
        "available": 40,
        "pending": 25,
        "lifetime_earned": 65,
        "expiring": [{"points": 40, "on": expires.isoformat()}],
    }
    assert member_points(member=member)["available"] == Account.objects.get(member=member).available


# Measured for a new order, no tier or campaign configured, the configuration unchanged since the
# previous order; a savepoint and its release count as two (the test runs in a transaction): the
# key; then on PostgreSQL one statement, which finds the member, locks their account, checks the
# configuration version the process cached the settings under, and writes the order, its
# postings, lots and balance (in production, with no transaction around it, those are all the
# round trips: no BEGIN, no COMMIT); on SQLite, the member, the account lock, which also reads
# the configuration version, the order (insert-unless-taken), the postings + lots + balance
# in three, and the `points.earned` event in two (the member's event counter, the event; on
# PostgreSQL both are in the one statement). The campaigns' hooks: nothing ("no campaign is a
# candidate" is cached under the same version; no award bookkeeping, no "first order?" question
# for a member not referred). After a configuration change, see `test_api_orders_config_reads.py`.
LOYALTY_QUERIES = {"postgresql": 4, "sqlite": 11}
CAMPAIGN_HOOK_QUERIES = 0


@pytest.mark.parametrize("first_order", [True, False], ids=["first order", "returning member"])
def test_earning_costs_a_bounded_number_of_queries(
    api_client, member, make_member, django_assert_num_queries, monkeypatch, first_order
):
    from django.db import connection, transaction

    from loyalty.services.ledger import account_lock

    if first_order:  # the program's settings row exists and the member's account is open
        post(api_client, order_body(order_id="O-warm", member=make_member().external_id))
        with transaction.atomic():
            account_lock(member_id=member.pk)
    else:
        post(api_client, order_body(order_id="O-warm"))
    budget = LOYALTY_QUERIES[connection.vendor]

    with django_assert_num_queries(budget + CAMPAIGN_HOOK_QUERIES):
        response = post(api_client, order_body(order_id="O-budget"))
    monkeypatch.setattr(hooks, "order_bonus_providers", [])
    monkeypatch.setattr(hooks, "order_recorded_listeners", [])
    with django_assert_num_queries(budget):
        without_hooks = post(api_client, order_body(order_id="O-budget-2"))

    assert (response.status_code, without_hooks.status_code) == (201, 201)


def test_the_answers_have_exactly_the_shape_the_schema_declares(api_client, member, monkeypatch):
    from loyalty.api.orders import OrderOutputSerializer, RefundOutputSerializer

    monkeypatch.setattr(
        hooks, "order_bonus_providers", [lambda **kw: [OrderBonus("DOUBLE", kw["base_points"])]]
    )
    order = post(api_client, order_body(total="50.00")).json()
    refund = api_client.post(
        "/api/v1/orders/O-1/refunds", {"refund_id": "R-1", "amount": "5.00"}, format="json"
    ).json()

    # The views write plain dicts; each must read back through its declared serializer unchanged.
    for serializer_class, body in (
        (OrderOutputSerializer, order),
        (RefundOutputSerializer, refund),
    ):
        serializer = serializer_class(data=body)
        assert serializer.is_valid(), serializer.errors
        assert serializer_class(serializer.validated_data).data == body


def test_the_order_serializer_keeps_no_state_from_one_request_to_the_next():
    from decimal import Decimal

    from loyalty.api.orders import OrderInputSerializer

    def item(quantity, price):
        return [{"sku": "A", "quantity": quantity, "unit_price": price}]

    bad = OrderInputSerializer(data=order_body(items=item(0, "5.00"), total="x"))
    good = OrderInputSerializer(data=order_body(items=item(2, "1.50")))

    assert (bad.is_valid(), good.is_valid()) == (False, True)
    assert sorted(bad.errors) == ["items", "total"]
    assert bad.errors["items"][0]["quantity"]
    assert [dict(i) for i in good.validated_data["items"]] == [
        {"sku": "A", "quantity": 2, "unit_price": Decimal("1.50")}
    ]
    assert good.validated_data["total"] == Decimal("123.99")
    assert good.fields["total"] is not bad.fields["total"]
    assert (good.fields["total"].parent, bad.fields["total"].parent) == (good, bad)
