"""The plan's earn multiplier on orders (docs/memberships.md, "Earn multiplier"): its own bonus
posting, added to the tier's; reversed by refunds by the order rule; quiet while no plan has one;
not given to imported orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection

from loyalty import hooks
from loyalty.demo import demo_tiers_ensure
from loyalty.models import Order, Posting, Tier
from loyalty.selectors.audit import ledger_audit
from loyalty.selectors.order_path import config_version_read
from loyalty.selectors.program import program_settings
from loyalty.services.orders import order_record, refund_record
from memberships.models import Plan
from memberships.services import membership_cancel, membership_start, plan_save
from memberships.services.earning import plan_bonuses_quiet, plan_order_bonuses
from tests.memberships.conftest import T0, days

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ledger_audited(db):
    yield
    assert ledger_audit().mismatches == []


def _earn(member, actor, order_id, total="100.00", *, placed_at):
    return order_record(
        order_id=order_id,
        member=member,
        placed_at=placed_at,
        currency="GBP",
        total=Decimal(total),
        actor=actor,
        now=placed_at,
    )


def _join(member, actor, *, code="plus", ref="pay-1", now=T0):
    return membership_start(
        member=member, plan_code=code, payment_reference=ref, actor=actor, now=now
    )


def test_the_plan_bonus_adds_to_the_tier_bonus_as_its_own_posting(member, make_plan, system_actor):
    # given: the entry tier earns ×1.5, the member holds a plan of ×1.25
    demo_tiers_ensure(actor=system_actor)
    Tier.objects.filter(rank=0).update(multiplier=Decimal("1.50"))
    make_plan(earn_multiplier=Decimal("1.25"))
    _join(member, system_actor)

    # when
    result = _earn(member, system_actor, "O-1", "100.00", placed_at=T0 + days(1))

    # then: base × (1.5 + 1.25 − 1) = 175, as three postings
    assert (result.base, result.tier_bonus, result.campaign_bonus) == (100, 50, [("plan:plus", 25)])
    assert result.total == 175
    bonus = Posting.objects.get(member=member, kind="campaign_bonus")
    assert (bonus.campaign_code, bonus.points, bonus.description) == (
        "plan:plus",
        25,
        "Plus (×1.25) on order O-1",
    )
    assert bonus.idempotency_key == "order:O-1:campaign:plan:plus"
    assert Order.objects.get(order_id="O-1").points_campaign == 25


def test_only_orders_placed_while_the_plan_held_its_perks_earn_the_bonus(
    member, make_plan, system_actor
):
    make_plan(earn_multiplier=Decimal("2.00"))
    membership = _join(member, system_actor)  # 1 Jan, one month
    membership_cancel(
        membership=membership, at_period_end=False, actor=system_actor, now=T0 + days(10)
    )

    before = _earn(member, system_actor, "O-before", placed_at=T0 - days(1))
    during = _earn(member, system_actor, "O-during", placed_at=T0 + days(5))
    after = _earn(member, system_actor, "O-after", placed_at=T0 + days(11))

    assert [r.campaign_bonus for r in (before, during, after)] == [[], [("plan:plus", 100)], []]


def test_with_several_plans_the_highest_multiplier_counts_once(member, make_plan, system_actor):
    make_plan(code="plus", name="Plus", earn_multiplier=Decimal("1.25"))
    make_plan(code="max", name="Max", earn_multiplier=Decimal("1.50"))
    make_plan(code="flat", name="Flat", earn_multiplier=Decimal("1"))
    for n, code in enumerate(("plus", "max", "flat")):
        _join(member, system_actor, code=code, ref=f"pay-{n}")

    result = _earn(member, system_actor, "O-1", "99.99", placed_at=T0 + days(1))

    # base 99; floor(99 × 0.5) = 49
    assert (result.base, result.campaign_bonus) == (99, [("plan:max", 49)])


def test_a_refund_reverses_the_plan_bonus_by_the_order_rule(member, make_plan, system_actor):
    make_plan(earn_multiplier=Decimal("1.25"))
    _join(member, system_actor)
    _earn(member, system_actor, "O-1", "100.00", placed_at=T0 + days(1))

    first = refund_record(
        order_id="O-1",
        refund_id="R-1",
        amount=Decimal("40.00"),
        actor=system_actor,
        now=T0 + days(2),
    )
    second = refund_record(
        order_id="O-1",
        refund_id="R-2",
        amount=Decimal("60.00"),
        actor=system_actor,
        now=T0 + days(3),
    )

    # floor(125 × 40 ÷ 100) = 50, then the rest: 75; the order holds nothing after the last
    assert (first.refund.points_reversed, second.refund.points_reversed) == (50, 75)
    order = Order.objects.get(order_id="O-1")
    assert (order.points_earned, order.points_reversed) == (125, 125)


def test_the_storefront_answer_names_the_plan_bonus(api_client, member, make_plan, system_actor):
    make_plan(earn_multiplier=Decimal("1.10"))
    _join(member, system_actor, now=T0 - days(400))  # long ago: a year's plan
    Plan.objects.filter(code="plus").update(period_months=12)

    response = api_client.post(
        "/api/v1/orders",
        {
            "order_id": "O-1",
            "member": member.external_id,
            "placed_at": (T0 - days(399)).isoformat(),
            "currency": "GBP",
            "total": "50.00",
        },
        format="json",
    )

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert response.json()["points"]["campaign_bonus"] == [{"campaign": "plan:plus", "points": 5}]
    assert response.json()["points"]["total"] == 55


def test_quiet_while_no_plan_has_a_multiplier_above_one(member, make_plan, system_actor):
    # given: a plan of ×1 held by the member
    plan = make_plan()
    _join(member, system_actor)
    program_settings()  # creating the record is a configuration change too
    _earn(member, system_actor, "O-1", placed_at=T0 + days(1))  # caches "no plan can"
    assert plan_bonuses_quiet(config_version_read()) is True
    assert hooks.order_bonuses_quiet(config_version_read()) is True  # campaigns: none either

    # when: Marketing raises the plan's multiplier
    plan_save(
        actor=system_actor,
        plan=plan,
        **{f: getattr(plan, f) for f in ("code", "name", "price", "currency")},
        earn_multiplier=Decimal("1.50"),
    )

    # then: the version moved, the next order finds out and is not quiet under it
    assert plan_bonuses_quiet(config_version_read()) is False
    result = _earn(member, system_actor, "O-2", placed_at=T0 + days(2))
    assert result.campaign_bonus == [("plan:plus", 50)]
    assert plan_bonuses_quiet(config_version_read()) is False


def test_the_provider_costs_no_query_while_no_plan_can_award(
    member, make_plan, system_actor, django_assert_num_queries
):
    make_plan()
    program_settings()
    _earn(member, system_actor, "O-1", placed_at=T0 + days(1))
    order = Order.objects.get(order_id="O-1")
    order._config_version = config_version_read()

    with django_assert_num_queries(0):
        assert (
            plan_order_bonuses(
                order=order, member=member, base_points=100, settings=None, actor=system_actor
            )
            == []
        )


def test_imported_orders_earn_no_plan_bonus(member, make_plan, system_actor, tmp_path):
    from django.utils import timezone

    from loyalty.importing.pipeline import import_orders
    from members.actors import Actor

    make_plan(earn_multiplier=Decimal("2.00"))
    now = timezone.now()
    _join(member, system_actor, now=now - days(20))
    placed = (now - days(5)).replace(microsecond=0).astimezone(dt.UTC)
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,email,placed_at,total,currency\n"
        f"IMP-1,{member.external_id},,{placed.isoformat()},100.00,GBP\n"
    )

    result = import_orders(path=path, actor=Actor.system("tests"))

    assert result.orders_created == 1, result.errors
    order = Order.objects.get(order_id="IMP-1")
    assert (order.points_base, order.points_campaign) == (100, 0)
    assert connection.vendor in ("postgresql", "sqlite")
