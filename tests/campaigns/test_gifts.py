"""Campaign gift coupons (`Campaign.gift_reward`): beside or instead of points, once per trigger,
from the reward's stock; tier-entry campaigns on every path that writes an upgrade."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import CampaignAward, Referral
from campaigns.services.actions import activity_record
from campaigns.services.calendar import calendar_awards
from config.errors import ServiceError
from loyalty import hooks
from loyalty.demo import demo_tiers_ensure
from loyalty.services import tier_batches
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.tiers import tier_evaluate_all
from members.actors import Actor
from rewards.models import Redemption, Reward
from rewards.services import reward_create
from tests.campaigns.factories import make_campaign
from tests.campaigns.test_referrals import available, enrol
from tests.loyalty.conftest import T0
from tests.loyalty.tiers_helpers import held, order_row

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


@pytest.fixture
def cake(db):
    return reward_create(
        code="CAKE",
        name="Birthday cake",
        kind="free_product",
        sku="CAKE-1",
        points_cost=1000,
        value=Decimal("8.00"),
        stock=3,
        actor=ACTOR,
    )


def gifts(member=None) -> list[tuple[str, str]]:
    rows = Redemption.objects.order_by("created_at", "pk")
    if member is not None:
        rows = rows.filter(member=member)
    return list(rows.values_list("reward__code", "gift_cause"))


def test_an_action_campaign_gives_a_coupon_instead_of_points_once_per_trigger(member, cake):
    make_campaign("review-gift", "action", action="review", points=0, gift_reward=cake)

    first = activity_record(member=member, type="review", reference="R-1", actor=ACTOR)
    again = activity_record(member=member, type="review", reference="R-1", actor=ACTOR)

    assert (first.points_awarded, first.gifts, first.reason) == (0, ["review-gift"], None)
    assert (again.gifts, again.reason) == ([], "limit_reached")
    assert gifts(member) == [("CAKE", "campaign:review-gift")]
    assert Reward.objects.get(pk=cake.pk).stock == 2
    assert not CampaignAward.objects.exists()


def test_points_and_a_coupon_together(member, cake):
    make_campaign("review", "action", action="review", points=50, gift_reward=cake)

    result = activity_record(member=member, type="review", reference="R-1", actor=ACTOR)

    assert (result.points_awarded, result.awards) == (50, [("review", 50)])
    assert gifts(member) == [("CAKE", "campaign:review")]
    gift = Redemption.objects.get()
    assert gift.gift_key == f"campaign:review:{member.pk}:review:R-1"


def test_a_gift_only_campaign_keeps_its_per_member_limit(member, cake):
    make_campaign(
        "follow", "action", action="social_follow", points=0, gift_reward=cake, per_member_limit=1
    )

    activity_record(member=member, type="social_follow", reference="ig", actor=ACTOR)
    second = activity_record(member=member, type="social_follow", reference="tt", actor=ACTOR)

    assert second.reason == "limit_reached"
    assert len(gifts(member)) == 1


def test_a_birthday_campaign_gives_its_coupon_once_a_year(make_member, cake):
    member = make_member(birth_date=dt.date(1990, 3, 14))
    make_member(birth_date=dt.date(1990, 3, 15))
    make_campaign("bday", "action", action="birthday", points=0, gift_reward=cake)
    cutoff = timezone.make_aware(dt.datetime(2026, 3, 14, 3, 30))

    given = calendar_awards(as_of=dt.date(2026, 3, 14), cutoff=cutoff, actor=ACTOR)
    again = calendar_awards(as_of=dt.date(2026, 3, 14), cutoff=cutoff, actor=ACTOR)

    assert (given, again) == (1, 0)
    assert gifts() == [("CAKE", "campaign:bday")]
    assert Redemption.objects.get().member_id == member.pk


def test_a_first_order_campaign_gives_its_coupon_with_the_first_order_only(
    member, cake, record_order
):
    make_campaign("welcome", "action", action="first_order", points=20, gift_reward=cake)

    record_order(member, "O-1", "10.00")
    record_order(member, "O-2", "10.00")

    assert gifts(member) == [("CAKE", "campaign:welcome")]


def test_a_referrals_gift_goes_to_the_referrer(member, cake, record_order):
    make_campaign("refer", "referral", referee_points=100, referrer_points=0, gift_reward=cake)
    friend = enrol(1, member)

    record_order(friend, "O-1", "40.00", placed_at=T0)
    daily_jobs_run(as_of=(T0 + dt.timedelta(days=15)).date())

    assert available(friend) == 140  # the order's 40 and the referral's 100
    assert gifts() == [("CAKE", "campaign:refer")]
    assert Redemption.objects.get().member_id == member.pk
    assert Referral.objects.get().status == "rewarded"


def test_a_campaign_with_neither_points_nor_a_gift_or_a_multiplier_with_a_gift_is_refused(cake):
    with pytest.raises(ServiceError) as nothing:
        make_campaign("empty", "action", action="review", points=0)
    with pytest.raises(ServiceError) as multiplier:
        make_campaign("double", "multiplier", multiplier=Decimal("2"), gift_reward=cake)

    assert nothing.value.errors[0]["field"] == "points"
    assert multiplier.value.errors[0]["field"] == "gift_reward"


# --- tier entry -------------------------------------------------------------------------------


@pytest.fixture
def ladder(db):
    return demo_tiers_ensure(actor=ACTOR)


def test_reaching_a_tier_on_an_order_gives_that_tiers_gift(member, ladder, cake, record_order):
    silver = next(t for t in ladder if t.code == "silver")
    make_campaign(
        "silver-gift", "action", action="tier_entry", points=0, gift_reward=cake, tiers=[silver]
    )
    now = timezone.now()

    record_order(member, "O-1", "300.00", placed_at=now, now=now)  # silver (250)
    record_order(member, "O-2", "300.00", placed_at=now, now=now)  # gold (500): not targeted

    assert held(member) == "gold"
    gift = Redemption.objects.get()
    assert (gift.member_id, gift.gift_cause) == (member.pk, "campaign:silver-gift")
    assert gift.gift_key == f"campaign:silver-gift:{member.pk}:tier_entry:silver:{now.year}"


def test_the_set_based_evaluation_gives_tier_entry_gifts_batch_by_batch_within_stock(
    make_member, ladder, cake, monkeypatch
):
    # given: 5 members whose spend (imported, never evaluated) reaches gold, batches of 2, and a
    # gold-entry campaign with points and a coupon of a reward with 3 left
    monkeypatch.setattr(tier_batches, "BATCH_SIZE", 2)
    gold = next(t for t in ladder if t.code == "gold")
    make_campaign(
        "gold-gift", "action", action="tier_entry", points=10, gift_reward=cake, tiers=[gold]
    )
    now = timezone.now()
    members = [make_member() for _ in range(5)]
    for n, member in enumerate(members):
        order_row(member, f"IMP-{n}", "600.00", placed_at=now - dt.timedelta(days=2))
    listened = []
    original = list(hooks.tier_entered_listeners)
    monkeypatch.setattr(
        hooks,
        "tier_entered_listeners",
        [*original, lambda *, entries, actor: listened.append(len(entries))],
    )

    # when: the daily evaluation runs, twice
    written = tier_evaluate_all(as_of=now, actor=ACTOR)
    tier_evaluate_all(as_of=now, actor=ACTOR, full=True)

    # then: everyone is gold, each got the points once, and 3 coupons went (the stock), once each
    assert written == 5
    assert {held(m) for m in members} == {"gold"}
    assert listened == [2, 2, 1]  # one call per batch, its upgrades together
    assert CampaignAward.objects.filter(campaign__code="gold-gift").count() == 5
    assert len(gifts()) == 3
    assert Reward.objects.get(pk=cake.pk).stock == 0


def test_tier_entry_is_once_per_member_tier_and_year(member, ladder, cake):
    silver = next(t for t in ladder if t.code == "silver")
    make_campaign(
        "silver-gift", "action", action="tier_entry", points=0, gift_reward=cake, tiers=[silver]
    )
    this_year = timezone.now()
    next_year = this_year + dt.timedelta(days=366)

    for at in (this_year, this_year, next_year):
        hooks.tier_entered(
            entries=[hooks.TierEntry(member_id=member.pk, tier_code="silver", at=at)], actor=ACTOR
        )

    assert len(gifts(member)) == 2
