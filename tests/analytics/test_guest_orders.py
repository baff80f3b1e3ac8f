"""Guest orders: recorded without a member (nothing earned, idempotent), and a guest who enrols
later gets their guest orders as their history, earning under the import's
rules (docs/api.md, "Guest orders", and `loyalty.services.guests`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from config.errors import Conflict
from loyalty.models import GuestOrder, Order, Posting
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.guests import guest_key_for_email, guest_order_record

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def test_a_guest_order_earns_nothing_and_is_idempotent():
    placed = timezone.now() - DAY
    first = guest_order_record(
        order_id="G-1",
        guest_key="shop-77",
        placed_at=placed,
        currency="GBP",
        total=Decimal("42.50"),
    )
    again = guest_order_record(
        order_id="G-1",
        guest_key="shop-77",
        placed_at=placed,
        currency="GBP",
        total=Decimal("42.50"),
    )

    assert (first.created, again.created, again.order.pk) == (True, False, first.order.pk)
    assert first.order.eligible_amount == Decimal("42.50")
    assert Posting.objects.count() == 0
    assert Order.objects.count() == 0
    with pytest.raises(Conflict) as conflict:
        guest_order_record(
            order_id="G-1", guest_key="shop-77", placed_at=placed, currency="GBP", total=Decimal(50)
        )
    assert conflict.value.code == "order_conflict"


def test_a_guest_who_enrols_gets_their_orders_as_history_under_the_import_rules(system_actor):
    # given: two orders by the same email, one 500 days ago (its points' lifetime is over),
    # one 3 days ago (still pending), and another guest's order
    now = timezone.now()
    key = guest_key_for_email("  Lin@Example.com ")
    for order_id, total, days in (("W-1", "100.00", 500), ("W-2", "40.00", 3)):
        guest_order_record(
            order_id=order_id,
            guest_key=key,
            placed_at=now - days * DAY,
            currency="GBP",
            total=Decimal(total),
        )
    guest_order_record(
        order_id="W-3", guest_key="other", placed_at=now - DAY, currency="GBP", total=Decimal(9)
    )

    # when
    member = program_member_enrol(actor=system_actor, external_id="C-9", email="lin@example.com")

    # then
    orders = dict(Order.objects.filter(member=member).values_list("order_id", "points_base"))
    assert orders == {"guest:W-1": 100, "guest:W-2": 40}
    assert set(GuestOrder.objects.filter(member=member).values_list("order_id", flat=True)) == {
        "W-1",
        "W-2",
    }
    assert GuestOrder.objects.get(order_id="W-3").member_id is None
    kinds = sorted(Posting.objects.filter(member=member).values_list("kind", "points"))
    assert kinds == [("earn", 40), ("earn", 100), ("expire", -100)]
    member.account.refresh_from_db()
    assert (member.account.available, member.account.pending) == (0, 40)


def test_a_guest_order_is_claimed_once(system_actor):
    guest_order_record(
        order_id="W-1",
        guest_key="C-9",
        placed_at=timezone.now() - DAY,
        currency="GBP",
        total=Decimal(10),
    )
    member = program_member_enrol(actor=system_actor, external_id="C-9", email="a@example.com")

    from django.db import transaction

    from loyalty.services.guests import guest_orders_claim

    with transaction.atomic():
        again = guest_orders_claim(member=member, actor=system_actor)

    assert again == 0
    assert Order.objects.filter(member=member).count() == 1
