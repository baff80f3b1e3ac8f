"""Gift coupons (`rewards.services.gifts`): a redemption with no points, from stock, once per
key."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from events.models import Event
from loyalty.models import Posting
from members.actors import Actor
from rewards.models import Redemption, Reward, StockMovement
from rewards.services import gift_grant, redemption_cancel
from rewards.services.gifts import ALREADY_GIVEN, GIVEN, MEMBER_INACTIVE, OUT_OF_STOCK

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def _gift(member, reward, key="campaign:BDAY:1:birthday:2026"):
    return gift_grant(member=member, reward=reward, cause="campaign:BDAY", key=key, actor=ACTOR)


def test_a_gift_takes_one_from_stock_and_no_points(member, make_reward):
    reward = make_reward(code="CAKE", stock=2)

    result = _gift(member, reward)

    assert result.outcome == GIVEN
    gift = Redemption.objects.get()
    assert (gift.points_spent, gift.spend_posting_id, gift.gift_cause, gift.status) == (
        0,
        None,
        "campaign:BDAY",
        "issued",
    )
    assert gift.is_gift
    assert len(gift.coupon_code) == 12
    assert Reward.objects.get(pk=reward.pk).stock == 1
    movement = StockMovement.objects.get(kind="redemption")
    assert (movement.delta, movement.stock_after, movement.redemption_id) == (-1, 1, gift.pk)
    assert not Posting.objects.exists()
    event = Event.objects.get(type="reward.gifted")
    payload = {k: v for k, v in event.payload.items() if k != "member_external_id"}
    assert payload == {
        "redemption_id": str(gift.pk),
        "reward_code": "CAKE",
        "cause": "campaign:BDAY",
        "expires_at": payload["expires_at"],
    }


def test_the_same_key_gives_once(member, make_reward):
    reward = make_reward(code="CAKE", stock=5)

    first = _gift(member, reward)
    again = _gift(member, reward)

    assert (first.outcome, again.outcome) == (GIVEN, ALREADY_GIVEN)
    assert again.redemption.pk == first.redemption.pk
    assert Reward.objects.get(pk=reward.pk).stock == 4
    assert Event.objects.filter(type="reward.gifted").count() == 1


def test_out_of_stock_gives_nothing_and_writes_nothing(member, make_reward):
    reward = make_reward(code="CAKE", stock=0)

    result = _gift(member, reward)

    assert (result.outcome, result.redemption) == (OUT_OF_STOCK, None)
    assert not Redemption.objects.exists()
    assert not StockMovement.objects.filter(kind="redemption").exists()


def test_a_suspended_member_gets_no_gift(member, make_reward):
    from members.models import Member

    Member.objects.filter(pk=member.pk).update(status=Member.Status.SUSPENDED)
    assert _gift(member, make_reward(stock=3)).outcome == MEMBER_INACTIVE


def test_cancelling_a_gift_gives_the_stock_back_and_no_points(member, make_reward):
    reward = make_reward(code="CAKE", stock=1)
    gift = _gift(member, reward).redemption

    cancelled = redemption_cancel(redemption=gift, actor=ACTOR, reason="wrong member")

    assert (cancelled.status, cancelled.return_posting_id) == ("cancelled", None)
    assert Reward.objects.get(pk=reward.pk).stock == 1
    assert Event.objects.get(type="coupon.cancelled").payload["points_returned"] == 0


def test_the_database_refuses_a_gift_with_points_or_a_redemption_without_a_posting(
    member, make_reward
):
    gift = _gift(member, make_reward(stock=3)).redemption
    with pytest.raises(IntegrityError), transaction.atomic():
        Redemption.objects.filter(pk=gift.pk).update(points_spent=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Redemption.objects.filter(pk=gift.pk).update(gift_key="", gift_cause="")
