"""`GET /api/v1/members/{external_id}/transactions`: the member's ledger, newest first."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import Posting
from loyalty.services.points import points_adjust_post, points_spend
from members import services as member_services
from tests.loyalty.test_api_orders import assert_problem, iso, order_body, placed, post

URL = "/api/v1/members/C-1001/transactions"


def rows(response) -> list[tuple]:
    return [
        (t["kind"], t["points"], t["status"], t["order_id"]) for t in response.json()["results"]
    ]


@pytest.fixture
def ledger(api_client, member, system_actor):
    """Five postings, oldest first by effective_at:
    O-old earned 40 (placed 30 days ago, available), a redemption of 15 (10 days ago),
    O-new earned 25 (placed an hour ago, pending), its refund reversing 10, an adjustment of 5.
    """
    old = placed(days=-30)
    post(api_client, order_body(order_id="O-old", placed_at=iso(old), total="40.00"))
    with transaction.atomic():
        points_spend(
            member=member,
            points=15,
            actor=system_actor,
            idempotency_key="spend-1",
            reward_code="TOTE",
            now=placed(days=-10),
        )
    post(api_client, order_body(order_id="O-new", total="25.00"))
    response = api_client.post(
        "/api/v1/orders/O-new/refunds",
        {"refund_id": "R-1", "amount": "10.00", "refunded_at": iso(placed(minutes=30))},
        format="json",
    )
    assert response.status_code == HTTPStatus.CREATED
    points_adjust_post(
        member=member, points=5, reason="goodwill", actor=system_actor, idempotency_key="adj-1"
    )
    return {"old": old}


def test_the_ledger_is_listed_newest_first(api_client, ledger):
    response = api_client.get(URL)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (5, None, None)
    assert rows(response) == [
        ("adjust", 5, "available", None),
        ("refund_reversal", -10, "available", "O-new"),
        ("earn", 25, "pending", "O-new"),
        ("redeem", -15, "available", None),
        ("earn", 40, "available", "O-old"),
    ]


def test_each_item_carries_the_contract_fields(api_client, member, ledger):
    earn = Posting.objects.get(member=member, kind="earn", order__order_id="O-old")
    redeem = Posting.objects.get(member=member, kind="redeem")

    items = {t["id"]: t for t in api_client.get(URL).json()["results"]}

    assert items[earn.pk] == {
        "id": earn.pk,
        "kind": "earn",
        "points": 40,
        "status": "available",
        "created_at": iso_z(earn.created_at),
        "effective_at": iso_z(ledger["old"]),
        "available_at": iso_z(ledger["old"] + dt.timedelta(days=14)),
        "expires_at": iso_z(ledger["old"] + dt.timedelta(days=14 + 365)),
        "description": "Order O-old",
        "order_id": "O-old",
        "reward_code": None,
        "campaign_code": None,
    }
    assert (items[redeem.pk]["reward_code"], items[redeem.pk]["available_at"]) == ("TOTE", None)


def iso_z(moment: dt.datetime) -> str:
    """How the API writes a time: in the program's zone (London), ISO 8601, `Z` for UTC."""
    text = timezone.localtime(moment).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def test_pages_of_page_size(api_client, ledger):
    first = api_client.get(URL, {"page_size": 2})
    last = api_client.get(URL, {"page_size": 2, "page": 3})

    assert first.json()["count"] == 5
    assert rows(first) == [
        ("adjust", 5, "available", None),
        ("refund_reversal", -10, "available", "O-new"),
    ]
    assert (
        first.json()["next"]
        == "http://testserver/api/v1/members/C-1001/transactions?page=2&page_size=2"
    )
    assert rows(last) == [("earn", 40, "available", "O-old")]
    assert (last.json()["next"], last.json()["previous"] is not None) == (None, True)


def test_page_size_is_capped_at_200(api_client, member, system_actor):
    for i in range(205):
        points_adjust_post(
            member=member, points=1, reason="r", actor=system_actor, idempotency_key=f"a-{i}"
        )

    response = api_client.get(URL, {"page_size": 500})

    assert (response.json()["count"], len(response.json()["results"])) == (205, 200)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "earn"}, [("earn", 25, "pending", "O-new"), ("earn", 40, "available", "O-old")]),
        ({"kind": "redeem"}, [("redeem", -15, "available", None)]),
        ({"status": "pending"}, [("earn", 25, "pending", "O-new")]),
        ({"status": "available", "kind": "earn"}, [("earn", 40, "available", "O-old")]),
    ],
)
def test_filters_by_kind_and_status(api_client, ledger, params, expected):
    response = api_client.get(URL, params)

    assert rows(response) == expected


def test_from_and_to_take_dates_in_the_program_zone_both_inclusive(api_client, ledger):
    old_day = timezone.localdate(ledger["old"])

    only_that_day = api_client.get(URL, {"from": old_day.isoformat(), "to": old_day.isoformat()})
    until_the_day_before = api_client.get(URL, {"to": (old_day - dt.timedelta(days=1)).isoformat()})
    since_the_day_after = api_client.get(
        URL, {"from": (old_day + dt.timedelta(days=1)).isoformat()}
    )

    assert rows(only_that_day) == [("earn", 40, "available", "O-old")]
    assert rows(until_the_day_before) == []
    assert only_that_day.json()["count"] + since_the_day_after.json()["count"] == 5


def test_from_and_to_take_datetimes_with_a_zone(api_client, ledger):
    old = ledger["old"]

    exact = api_client.get(URL, {"from": iso(old), "to": iso(old)})
    after = api_client.get(URL, {"from": iso(old + dt.timedelta(seconds=1)), "kind": "earn"})

    assert rows(exact) == [("earn", 40, "available", "O-old")]
    assert rows(after) == [("earn", 25, "pending", "O-new")]


def test_the_last_day_and_a_zone_past_postgresqls_range_are_answered(api_client, ledger):
    # found by schemathesis (tests/hardening): `to=9999-12-31` overflowed looking for the day
    # after, and an offset of -20:36 (Python reads up to ±23:59) was refused by PostgreSQL: 500s
    far_zone = ledger["old"].astimezone(dt.timezone(-dt.timedelta(hours=20, minutes=36)))

    everything = api_client.get(URL, {"from": "0001-01-01", "to": "9999-12-31"})
    exact = api_client.get(URL, {"from": far_zone.isoformat(), "to": far_zone.isoformat()})

    assert everything.json()["count"] == 5
    assert rows(exact) == [("earn", 40, "available", "O-old")]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "bonus"}, "kind"),
        ({"status": "spent"}, "status"),
        ({"from": "last week"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-01-05T10:00:00"}, "from"),  # naive
        ({"from": "0001-01-01T00:00:00+05:00"}, "from"),  # before year 1 in UTC
        ({"page_size": "ten"}, "page_size"),  # was served the default page size (schemathesis)
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "-1"}, "page_size"),
    ],
)
def test_a_bad_filter_is_400_validation_error_naming_the_parameter(
    api_client, member, params, field
):
    response = api_client.get(URL, params)

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field)


def test_an_unknown_member_is_404_and_an_erased_one_410(api_client, member, system_actor):
    unknown = api_client.get("/api/v1/members/C-404/transactions")
    member_services.member_erase(member=member, actor=system_actor)
    erased = api_client.get(URL)

    assert_problem(unknown, HTTPStatus.NOT_FOUND, "member_not_found")
    assert_problem(erased, HTTPStatus.GONE, "member_erased")


def test_a_member_without_postings_has_an_empty_list(api_client, member):
    response = api_client.get(URL)

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_the_query_count_does_not_grow_with_the_page(api_client, member, make_member):
    make_member(external_id="C-2002")
    for i in range(3):
        post(api_client, order_body(order_id=f"O-{i}", member="C-2002", total="5.00"))
    for i in range(30):
        post(api_client, order_body(order_id=f"P-{i}", total="5.00"))

    with CaptureQueriesContext(connection) as few:
        small = api_client.get("/api/v1/members/C-2002/transactions")
    with CaptureQueriesContext(connection) as many:
        big = api_client.get(URL)

    assert (len(small.json()["results"]), len(big.json()["results"])) == (3, 30)
    # key, member, count, page: the same four whatever the page holds
    assert len(few.captured_queries) == len(many.captured_queries) == 4


def test_without_an_api_key_it_is_401(anon_client, member):
    assert_problem(anon_client.get(URL), HTTPStatus.UNAUTHORIZED, "unauthenticated")


@pytest.mark.parametrize("external_id", ["C 1001", "x" * 65, "Ç-1", "C-1001!"])
def test_a_malformed_external_id_is_a_validation_error_naming_it(api_client, external_id):
    response = api_client.get(f"/api/v1/members/{external_id}/transactions")

    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "external_id"
