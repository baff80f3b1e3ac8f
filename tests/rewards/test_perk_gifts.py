"""The "birthday gift" perk gives something: a coupon of the reward Marketing set for it, on the
birthday of each member who holds the perk (tier, paid plan, club), once a year."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.models import Perk
from loyalty.services.jobs import daily_jobs_run, daily_step_names
from members.actors import Actor
from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, MARKETING
from memberships.services import membership_start, plan_save
from rewards.models import PerkGift, Redemption, Reward
from rewards.services.perk_gifts import birthday_gifts_daily, perk_gift_save
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
BIRTHDAY = dt.date(1990, 3, 14)
AS_OF = dt.date(2026, 3, 14)
CUTOFF = timezone.make_aware(dt.datetime(2026, 3, 14, 3, 30))


@pytest.fixture
def cake(make_reward) -> Reward:
    return make_reward(code="CAKE", name="Birthday cake", stock=10)


@pytest.fixture
def birthday_perk(db) -> Perk:
    demo_tiers_ensure(actor=ACTOR)  # the entry tier "member" has the birthday gift perk
    return Perk.objects.get(code="birthday_gift")


def _given() -> list[tuple[int, str]]:
    return list(Redemption.objects.order_by("member_id").values_list("member_id", "gift_key"))


def test_members_holding_the_perk_get_the_coupon_on_their_birthday_once_a_year(
    make_member, cake, birthday_perk
):
    perk_gift_save(actor=ACTOR, perk=birthday_perk, reward=cake)
    today = make_member(birth_date=BIRTHDAY)
    make_member(birth_date=dt.date(1990, 3, 15))  # not today
    make_member()  # no birth date

    given = birthday_gifts_daily(as_of=AS_OF, cutoff=CUTOFF, actor=ACTOR)
    again = birthday_gifts_daily(as_of=AS_OF, cutoff=CUTOFF, actor=ACTOR)

    assert (given, again) == (1, 0)
    assert _given() == [(today.pk, f"perk:birthday_gift:{today.pk}:2026")]
    gift = Redemption.objects.get()
    assert (gift.points_spent, gift.gift_cause, gift.reward_id) == (
        0,
        "perk:birthday_gift",
        cake.pk,
    )
    assert Reward.objects.get(pk=cake.pk).stock == 9
    # next year, again
    assert birthday_gifts_daily(as_of=AS_OF.replace(year=2027), cutoff=CUTOFF, actor=ACTOR) == 1


def test_only_holders_of_the_perk_get_it_through_a_tier_or_a_plan(
    make_member, cake, birthday_perk, system_actor
):
    # given: the perk on a paid plan only, not on any tier
    for tier in birthday_perk.tiers.all():
        tier.perks.remove(birthday_perk)
    plan_save(
        actor=system_actor,
        code="plus",
        name="Plus",
        price=Decimal("9.00"),
        currency="GBP",
        perks=[birthday_perk],
    )
    perk_gift_save(actor=ACTOR, perk=birthday_perk, reward=cake)
    paying = make_member(birth_date=BIRTHDAY)
    make_member(birth_date=BIRTHDAY)  # no plan
    membership_start(
        member=paying,
        plan_code="plus",
        payment_reference="pay-1",
        actor=system_actor,
        now=timezone.make_aware(dt.datetime(2026, 3, 1)),
    )

    assert birthday_gifts_daily(as_of=AS_OF, cutoff=CUTOFF, actor=ACTOR) == 1
    assert [m for m, _ in _given()] == [paying.pk]


def test_no_configured_reward_no_gift_and_the_step_runs_daily(make_member, birthday_perk):
    make_member(birth_date=BIRTHDAY)

    assert birthday_gifts_daily(as_of=AS_OF, cutoff=CUTOFF, actor=ACTOR) == 0
    assert "birthday_gifts" in daily_step_names()


def test_the_daily_jobs_give_it(make_member, cake, birthday_perk):
    perk_gift_save(actor=ACTOR, perk=birthday_perk, reward=cake)
    member = make_member(birth_date=BIRTHDAY)

    daily_jobs_run(as_of=AS_OF)

    assert [m for m, _ in _given()] == [member.pk]


def test_marketing_sets_the_birthday_gift_in_the_admin_audited(cake, birthday_perk):
    client = client_for(staff_user(MARKETING, "marketer"))

    response = client.post(
        reverse("admin:rewards_perkgift_add"),
        {"perk": str(birthday_perk.pk), "reward": str(cake.pk)},
    )

    assert response.status_code == HTTPStatus.FOUND, response.content
    assert PerkGift.objects.get().reward_id == cake.pk
    entry = AuditEntry.objects.get(action="perk_gift.create")
    assert entry.changes == {"perk": [None, "birthday_gift"], "reward": [None, "CAKE"]}
    listing = client.get(reverse("admin:rewards_perkgift_changelist"))
    assert listing.status_code == HTTPStatus.OK
    refused = client_for(staff_user(CUSTOMER_SERVICE, "agent")).post(
        reverse("admin:rewards_perkgift_add"),
        {"perk": str(birthday_perk.pk), "reward": str(cake.pk)},
    )
    assert refused.status_code == HTTPStatus.FORBIDDEN
