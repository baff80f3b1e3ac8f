"""A late, back-dated order earns at the tier held when it was placed (`docs/tiers.md`).

The demo ladder (`loyalty.demo`): Member 0 ×1, Silver 250 ×1.25, Gold 500 ×1.5, Platinum 1000 ×2.
Each rule is checked on the API (both order paths on PostgreSQL), the service and the import.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.models import Order
from loyalty.services.tiers import tier_held_at, tier_override
from tests.loyalty.tiers_helpers import held

DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def test_the_issue_reproduction_a_late_order_earns_at_the_tier_held_when_placed(
    api_client, ladder, make_member
):
    # given: an order placed 3 days ago makes the member Platinum
    make_member(external_id="C-1")
    now = timezone.now().replace(microsecond=0)
    big = api_client.post(
        "/api/v1/orders",
        {
            "order_id": "O-BIG",
            "member": "C-1",
            "placed_at": iso(now - 3 * DAY),
            "currency": "GBP",
            "total": "1500.00",
        },
        format="json",
    )
    assert big.status_code == HTTPStatus.CREATED, big.content
    assert big.json()["member"]["tier"] == "platinum"

    # when: an order placed 5 days ago arrives late
    late = api_client.post(
        "/api/v1/orders",
        {
            "order_id": "O-LATE",
            "member": "C-1",
            "placed_at": iso(now - 5 * DAY),
            "currency": "GBP",
            "total": "100.00",
        },
        format="json",
    )

    # then: it earns at the entry tier it was placed in; the member is still Platinum
    assert late.status_code == HTTPStatus.CREATED, late.content
    body = late.json()
    assert body["points"] == {"base": 100, "tier_bonus": 0, "campaign_bonus": [], "total": 100}
    assert body["member"]["tier"] == "platinum"
    assert Order.objects.get(order_id="O-LATE").tier_code == "member"
    # an order placed now earns ×2
    now_order = api_client.post(
        "/api/v1/orders",
        {
            "order_id": "O-NOW",
            "member": "C-1",
            "placed_at": iso(timezone.now()),
            "currency": "GBP",
            "total": "100.00",
        },
        format="json",
    )
    assert now_order.json()["points"]["tier_bonus"] == 100


def test_the_tier_held_is_read_from_the_history_between_changes(
    ladder, member, record_order, system_actor
):
    t0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
    record_order(member, "O-1", "300.00", placed_at=t0)  # → silver at t0
    record_order(member, "O-2", "300.00", placed_at=t0 + 10 * DAY)  # → gold at t0 + 10 days
    assert held(member) == "gold"

    assert tier_held_at(member_id=member.pk, at=t0 - DAY)[:2] == ("member", Decimal("1.00"))
    assert tier_held_at(member_id=member.pk, at=t0 + DAY) == ("silver", Decimal("1.25"), False)
    assert tier_held_at(member_id=member.pk, at=t0 + 11 * DAY) == ("gold", Decimal("1.50"), True)

    between = record_order(member, "O-3", "100.00", placed_at=t0 + 5 * DAY, now=t0 + 12 * DAY)
    assert (between.base, between.tier_bonus, between.order.tier_code) == (100, 25, "silver")
    assert between.tier_code == "gold"  # what the member holds once it is recorded


def test_an_override_in_place_when_the_order_was_placed_applies(
    ladder, make_member, record_order, system_actor
):
    member = make_member(external_id="C-9")
    platinum = next(t for t in ladder if t.code == "platinum")
    placed = timezone.now() - 2 * DAY
    tier_override(
        member=member,
        tier=platinum,
        until=timezone.localdate() + dt.timedelta(days=30),
        reason="Complaint",
        actor=system_actor,
    )
    # the override was given after the order was placed: the order earns at the entry tier
    late = record_order(member, "O-1", "100.00", placed_at=placed, now=timezone.now())
    assert (late.tier_bonus, late.order.tier_code, late.tier_code) == (0, "member", "platinum")
    # placed after it: ×2
    after = record_order(member, "O-2", "100.00", placed_at=timezone.now(), now=timezone.now())
    assert (after.tier_bonus, after.order.tier_code) == (100, "platinum")
