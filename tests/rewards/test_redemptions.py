"""Redeeming, using, cancelling and expiring coupons through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from config.errors import ServiceError
from loyalty.hooks import daily_job_steps
from loyalty.models import Account, Posting
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.tiers import tier_override
from members.models import Member
from members.services import member_erase, member_set_status
from rewards.models import Redemption, Reward, StockMovement
from rewards.services import (
    coupon_code_generate,
    redemption_cancel,
    redemption_create,
    redemption_use,
    redemptions_expire,
)
from rewards.services import redemptions as redemption_services
from rewards.services.redemptions import COUPON_ALPHABET, COUPON_LENGTH


def _available(member) -> int:
    return Account.objects.get(member=member).available


def _code(exc_info) -> str:
    return exc_info.value.code


# --- redeeming ---------------------------------------------------------------------------------


def test_redeem_spends_points_takes_stock_and_issues_a_coupon(
    member, give_points, make_reward, system_actor
):
    # given a member with 1,200 points and a £5-off reward with 3 left
    give_points(member, 1200)
    reward = make_reward(code="FIVE_OFF", stock=3, coupon_valid_days=30)
    now = timezone.now()

    # when they redeem it
    result = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor, now=now)

    # then 500 points are spent, one unit of stock is gone, and a coupon is issued
    redemption = Redemption.objects.get(pk=result.redemption.pk)
    assert result.available == 700
    assert _available(member) == 700
    assert redemption.status == Redemption.Status.ISSUED
    assert redemption.points_spent == 500
    assert redemption.value == Decimal("5.00")
    assert redemption.currency == "GBP"
    assert redemption.kind == "fixed_discount"
    assert redemption.expires_at == now + dt.timedelta(days=30)
    assert len(redemption.coupon_code) == COUPON_LENGTH
    assert set(redemption.coupon_code) <= set(COUPON_ALPHABET)
    assert Reward.objects.get(pk=reward.pk).stock == 2
    spend = redemption.spend_posting
    assert (spend.kind, spend.points, spend.reward_code, spend.source_id) == (
        "redeem",
        -500,
        "FIVE_OFF",
        str(redemption.pk),
    )
    movement = StockMovement.objects.get(reward=reward, kind="redemption")
    assert (movement.delta, movement.stock_after, movement.redemption_id) == (
        -1,
        2,
        redemption.pk,
    )
    assert movement.actor_label == system_actor.label


def test_unlimited_reward_records_no_stock_movement(member, give_points, make_reward, system_actor):
    give_points(member, 500)
    reward = make_reward(code="UNLIMITED")

    redemption_create(member=member, reward_code="UNLIMITED", actor=system_actor)

    assert Reward.objects.get(pk=reward.pk).stock is None
    assert StockMovement.objects.filter(reward=reward).count() == 0


def test_coupon_alphabet_has_no_look_alike_characters():
    assert set("0O1IL") & set(COUPON_ALPHABET) == set()
    codes = {coupon_code_generate() for _ in range(200)}
    assert len(codes) == 200


def test_a_coupon_code_collision_draws_again(
    member, give_points, make_reward, system_actor, monkeypatch
):
    # given one coupon already issued
    give_points(member, 1000)
    make_reward(code="FIVE_OFF")
    first = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)
    draws = iter([first.redemption.coupon_code, "ABCDEFGHJKMN"])
    monkeypatch.setattr(redemption_services, "coupon_code_generate", lambda: next(draws))

    # when the next draw repeats it
    second = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    # then the code is drawn again and the redemption still goes through, once
    assert second.redemption.coupon_code == "ABCDEFGHJKMN"
    assert Redemption.objects.filter(member=member).count() == 2
    assert _available(member) == 0


def test_reward_not_found(member, system_actor):
    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="NOPE", actor=system_actor)

    assert (_code(exc), exc.value.status) == ("reward_not_found", 404)


def test_erased_member_cannot_redeem(member, make_reward, system_actor):
    make_reward(code="FIVE_OFF")
    member_erase(member=member, actor=system_actor)

    with pytest.raises(ServiceError) as exc:
        redemption_create(
            member=Member.objects.get(pk=member.pk), reward_code="FIVE_OFF", actor=system_actor
        )

    assert (_code(exc), exc.value.status) == ("member_erased", 410)


def test_suspended_member_is_not_eligible(member, give_points, make_reward, system_actor):
    give_points(member, 1000)
    make_reward(code="FIVE_OFF")
    member_set_status(member=member, status="suspended", actor=system_actor, reason="fraud check")

    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    assert (_code(exc), exc.value.status, exc.value.extra) == (
        "not_eligible",
        422,
        {"reason": "member_suspended"},
    )
    assert _available(member) == 1000


def test_insufficient_points_changes_nothing(member, give_points, make_reward, system_actor):
    # given 499 points and a limited reward costing 500
    give_points(member, 499)
    reward = make_reward(code="FIVE_OFF", stock=2)

    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    # then nothing happened: no spend, no stock taken, no coupon
    assert (_code(exc), exc.value.status) == ("insufficient_points", 422)
    assert _available(member) == 499
    assert Reward.objects.get(pk=reward.pk).stock == 2
    assert Redemption.objects.count() == 0
    assert StockMovement.objects.filter(kind="redemption").count() == 0
    assert Posting.objects.filter(kind="redeem").count() == 0


def test_out_of_stock(member, give_points, make_reward, system_actor):
    give_points(member, 1000)
    make_reward(code="FIVE_OFF", stock=1)
    redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    assert (_code(exc), exc.value.status) == ("out_of_stock", 409)
    assert _available(member) == 500


@pytest.mark.parametrize(
    ("window", "is_active"),
    [
        ((None, None), False),  # switched off
        ((dt.timedelta(days=1), None), True),  # not started yet
        ((dt.timedelta(days=-10), dt.timedelta(days=-1)), True),  # over
        ((None, dt.timedelta(seconds=0)), True),  # ends exactly now: over
    ],
)
def test_reward_outside_its_window_is_inactive(
    member, give_points, make_reward, system_actor, window, is_active
):
    now = timezone.now()
    give_points(member, 1000)
    start, end = window
    make_reward(
        code="WINDOWED",
        is_active=is_active,
        active_from=now + start if start is not None else None,
        active_to=now + end if end is not None else None,
    )

    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="WINDOWED", actor=system_actor, now=now)

    assert (_code(exc), exc.value.status) == ("reward_inactive", 422)
    assert _available(member) == 1000


def test_reward_inside_its_window_redeems(member, give_points, make_reward, system_actor):
    now = timezone.now()
    give_points(member, 1000)
    make_reward(
        code="WINDOWED",
        active_from=now - dt.timedelta(days=1),
        active_to=now + dt.timedelta(days=1),
    )

    result = redemption_create(member=member, reward_code="WINDOWED", actor=system_actor, now=now)

    assert result.redemption.status == "issued"


def test_min_tier_compares_ranks(member, give_points, make_reward, system_actor, tiers):
    # given a reward for silver and above, and a member in the entry tier
    give_points(member, 2000)
    make_reward(code="SILVER_ONLY", min_tier=tiers["silver"])

    # then the member is refused
    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="SILVER_ONLY", actor=system_actor)
    assert (_code(exc), exc.value.status, exc.value.extra) == (
        "not_eligible",
        422,
        {"reason": "tier_too_low"},
    )

    # when staff place the member in gold (ranks above silver)
    tier_override(
        member=member,
        tier=tiers["gold"],
        until=timezone.localdate() + dt.timedelta(days=30),
        reason="VIP",
        actor=system_actor,
    )

    # then the member may redeem
    result = redemption_create(member=member, reward_code="SILVER_ONLY", actor=system_actor)
    assert result.redemption.status == "issued"


def test_min_tier_exactly_met(member, give_points, make_reward, system_actor, tiers):
    give_points(member, 600)
    make_reward(code="SILVER_ONLY", min_tier=tiers["silver"])
    tier_override(
        member=member,
        tier=tiers["silver"],
        until=timezone.localdate(),
        reason="VIP",
        actor=system_actor,
    )

    result = redemption_create(member=member, reward_code="SILVER_ONLY", actor=system_actor)

    assert result.redemption.points_spent == 500


def test_per_member_limit_counts_all_but_cancelled(member, give_points, make_reward, system_actor):
    # given a reward limited to 2 per member
    give_points(member, 5000)
    make_reward(code="TWICE", per_member_limit=2)
    first = redemption_create(member=member, reward_code="TWICE", actor=system_actor)
    second = redemption_create(member=member, reward_code="TWICE", actor=system_actor)
    redemption_use(redemption=second.redemption, order_id="O-1", actor=system_actor)

    # then a third is refused
    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="TWICE", actor=system_actor)
    assert (_code(exc), exc.value.status) == ("limit_reached", 422)

    # and after one is cancelled, one more is allowed (and then the limit holds again)
    redemption_cancel(redemption=first.redemption, actor=system_actor, reason="changed mind")
    redemption_create(member=member, reward_code="TWICE", actor=system_actor)
    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="TWICE", actor=system_actor)
    assert _code(exc) == "limit_reached"


def test_per_member_limit_is_per_member(make_member, give_points, make_reward, system_actor):
    ada, bob = make_member(), make_member()
    give_points(ada, 500)
    give_points(bob, 500)
    make_reward(code="ONCE", per_member_limit=1)

    redemption_create(member=ada, reward_code="ONCE", actor=system_actor)
    redemption_create(member=bob, reward_code="ONCE", actor=system_actor)

    assert Redemption.objects.filter(reward__code="ONCE").count() == 2


def test_expired_coupons_still_count_towards_the_limit(
    member, give_points, make_reward, system_actor
):
    give_points(member, 1000)
    make_reward(code="ONCE", per_member_limit=1, coupon_valid_days=1)
    issued_at = timezone.now() - dt.timedelta(days=2)
    redemption_create(member=member, reward_code="ONCE", actor=system_actor, now=issued_at)
    assert redemptions_expire(cutoff=timezone.now(), actor=system_actor) == 1

    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code="ONCE", actor=system_actor)

    assert _code(exc) == "limit_reached"


# --- points_discount -----------------------------------------------------------------------------


@pytest.fixture
def points_discount(make_reward):
    # 100 points minimum; the discount must be 10%..50% of the order; 1 point = £0.01.
    return make_reward(
        code="POINTS_OFF",
        name="Points off your order",
        kind="points_discount",
        min_points=100,
        min_share=Decimal("0.10"),
        max_share=Decimal("0.50"),
    )


def test_points_discount_turns_points_into_money_off(
    member, give_points, points_discount, system_actor
):
    give_points(member, 3000)

    result = redemption_create(
        member=member,
        reward_code="POINTS_OFF",
        points=2500,
        order_total=Decimal("50.00"),
        actor=system_actor,
    )

    assert (result.redemption.points_spent, result.redemption.value) == (2500, Decimal("25.00"))
    assert result.redemption.order_total == Decimal("50.00")
    assert result.available == 500


@pytest.mark.parametrize(
    ("points", "order_total", "accepted"),
    [
        (99, "1000.00", False),  # below min_points
        (100, "10.00", True),  # £1.00 = exactly 10% (the minimum share)
        (99, "9.90", False),  # min_points still applies though 10% would be 99
        (499, "50.00", False),  # £4.99 < 10% of £50
        (500, "50.00", True),  # exactly 10%
        (2500, "50.00", True),  # exactly 50% (the maximum share)
        (2501, "50.00", False),  # £25.01 > 50%
        (150, "2.00", False),  # the order is too small for any amount: max 100 points
    ],
)
def test_points_discount_bounds(
    member, give_points, points_discount, system_actor, points, order_total, accepted
):
    give_points(member, 10_000)

    if accepted:
        result = redemption_create(
            member=member,
            reward_code="POINTS_OFF",
            points=points,
            order_total=Decimal(order_total),
            actor=system_actor,
        )
        assert result.redemption.points_spent == points
        return
    with pytest.raises(ServiceError) as exc:
        redemption_create(
            member=member,
            reward_code="POINTS_OFF",
            points=points,
            order_total=Decimal(order_total),
            actor=system_actor,
        )
    assert (_code(exc), exc.value.status, exc.value.errors[0]["field"]) == (
        "points_out_of_range",
        422,
        "points",
    )
    assert _available(member) == 10_000


def test_points_discount_out_of_range_says_what_is_allowed(
    member, give_points, points_discount, system_actor
):
    give_points(member, 10_000)

    with pytest.raises(ServiceError) as exc:
        redemption_create(
            member=member,
            reward_code="POINTS_OFF",
            points=3000,
            order_total=Decimal("50.00"),
            actor=system_actor,
        )

    assert exc.value.extra == {"min_points": 500, "max_points": 2500}


def test_points_discount_needs_the_points(member, give_points, points_discount, system_actor):
    give_points(member, 400)

    with pytest.raises(ServiceError) as exc:
        redemption_create(
            member=member,
            reward_code="POINTS_OFF",
            points=500,
            order_total=Decimal("50.00"),
            actor=system_actor,
        )

    assert _code(exc) == "insufficient_points"


@pytest.mark.parametrize(
    ("reward_code", "kwargs", "field"),
    [
        ("POINTS_OFF", {"order_total": Decimal("50.00")}, "points"),
        ("POINTS_OFF", {"points": 500}, "order_total"),
        ("FIVE_OFF", {"points": 500}, "points"),
        ("FIVE_OFF", {"order_total": Decimal("50.00")}, "order_total"),
    ],
)
def test_points_and_order_total_belong_to_points_discount_only(
    member, give_points, points_discount, make_reward, system_actor, reward_code, kwargs, field
):
    give_points(member, 1000)
    make_reward(code="FIVE_OFF")

    with pytest.raises(ServiceError) as exc:
        redemption_create(member=member, reward_code=reward_code, actor=system_actor, **kwargs)

    assert (_code(exc), exc.value.status, exc.value.errors[0]["field"]) == (
        "validation_error",
        400,
        field,
    )


# --- use -----------------------------------------------------------------------------------------


@pytest.fixture
def issued(member, give_points, make_reward, system_actor):
    give_points(member, 1000)
    make_reward(code="FIVE_OFF", stock=10)
    return redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor).redemption


def test_use_marks_the_coupon_used(issued, system_actor):
    used = redemption_use(redemption=issued, order_id="O-77", actor=system_actor)

    assert (used.status, used.used_order_id) == ("used", "O-77")
    assert used.used_at is not None


def test_use_twice_is_redemption_used(issued, system_actor):
    redemption_use(redemption=issued, order_id="O-77", actor=system_actor)

    with pytest.raises(ServiceError) as exc:
        redemption_use(redemption=issued, order_id="O-78", actor=system_actor)

    assert (_code(exc), exc.value.status) == ("redemption_used", 409)
    assert Redemption.objects.get(pk=issued.pk).used_order_id == "O-77"


def test_use_after_cancel_is_redemption_cancelled(issued, system_actor):
    redemption_cancel(redemption=issued, actor=system_actor, reason="test")

    with pytest.raises(ServiceError) as exc:
        redemption_use(redemption=issued, order_id="O-1", actor=system_actor)

    assert (_code(exc), exc.value.status) == ("redemption_cancelled", 409)


def test_use_past_expiry_is_redemption_expired_even_before_the_job(issued, system_actor):
    with pytest.raises(ServiceError) as exc:
        redemption_use(
            redemption=issued,
            order_id="O-1",
            actor=system_actor,
            now=issued.expires_at,
        )

    assert (_code(exc), exc.value.status) == ("redemption_expired", 409)
    assert Redemption.objects.get(pk=issued.pk).status == "issued"


def test_use_needs_an_order_id(issued, system_actor):
    with pytest.raises(ServiceError) as exc:
        redemption_use(redemption=issued, order_id="  ", actor=system_actor)

    assert (_code(exc), exc.value.status) == ("validation_error", 400)


# --- cancel --------------------------------------------------------------------------------------


def test_cancel_gives_points_and_stock_back(issued, member, system_actor):
    assert _available(member) == 500

    cancelled = redemption_cancel(redemption=issued, actor=system_actor, reason="wrong reward")

    assert cancelled.status == "cancelled"
    assert cancelled.cancel_reason == "wrong reward"
    assert _available(member) == 1000
    assert cancelled.return_posting.kind == "cancel_redemption"
    assert cancelled.return_posting.points == 500
    assert Reward.objects.get(code="FIVE_OFF").stock == 10
    movement = StockMovement.objects.get(kind="cancellation")
    assert (movement.delta, movement.stock_after, movement.redemption_id) == (1, 10, issued.pk)


def test_cancel_twice_gives_points_back_once(issued, member, system_actor):
    redemption_cancel(redemption=issued, actor=system_actor, reason="once")

    with pytest.raises(ServiceError) as exc:
        redemption_cancel(redemption=issued, actor=system_actor, reason="twice")

    assert (_code(exc), exc.value.status) == ("redemption_cancelled", 409)
    assert _available(member) == 1000
    assert Posting.objects.filter(kind="cancel_redemption").count() == 1
    assert Reward.objects.get(code="FIVE_OFF").stock == 10
    assert StockMovement.objects.filter(kind="cancellation").count() == 1


def test_cancel_after_use_is_redemption_used(issued, member, system_actor):
    redemption_use(redemption=issued, order_id="O-1", actor=system_actor)

    with pytest.raises(ServiceError) as exc:
        redemption_cancel(redemption=issued, actor=system_actor, reason="late")

    assert _code(exc) == "redemption_used"
    assert _available(member) == 500


def test_cancel_after_expiry_is_redemption_expired(issued, member, system_actor):
    with pytest.raises(ServiceError) as exc:
        redemption_cancel(
            redemption=issued, actor=system_actor, reason="late", now=issued.expires_at
        )

    assert _code(exc) == "redemption_expired"
    assert _available(member) == 500


def test_cancelled_points_keep_their_expiry(member, give_points, make_reward, system_actor):
    # given points that expire in 100 days, spent on a reward
    credit = give_points(member, 500)
    make_reward(code="FIVE_OFF")
    issued = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    # when cancelled
    cancelled = redemption_cancel(redemption=issued.redemption, actor=system_actor, reason="x")

    # then the points come back with the expiry they had
    assert cancelled.return_posting.expires_at == credit.expires_at


# --- expiry --------------------------------------------------------------------------------------


def test_the_daily_jobs_expire_unused_coupons_once(member, give_points, make_reward, system_actor):
    # given one coupon past its validity, one still valid, and one used
    give_points(member, 1500)
    make_reward(code="SHORT", stock=5, coupon_valid_days=7)
    long_ago = timezone.now() - dt.timedelta(days=8)
    stale = redemption_create(
        member=member, reward_code="SHORT", actor=system_actor, now=long_ago
    ).redemption
    fresh = redemption_create(member=member, reward_code="SHORT", actor=system_actor).redemption
    used = redemption_create(
        member=member, reward_code="SHORT", actor=system_actor, now=long_ago
    ).redemption
    redemption_use(
        redemption=used, order_id="O-1", actor=system_actor, now=long_ago + dt.timedelta(days=1)
    )
    assert ("expire_coupons", redemption_services.coupons_expire_daily_step) in daily_job_steps

    # when the daily jobs run, twice
    first = daily_jobs_run()
    second = daily_jobs_run()

    # then only the stale coupon expired, once; no points came back; its stock did
    assert (first.steps["expire_coupons"], second.steps["expire_coupons"]) == (1, 0)
    statuses = dict(Redemption.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: "expired", fresh.pk: "issued", used.pk: "used"}
    assert Redemption.objects.get(pk=stale.pk).expired_at is not None
    assert _available(member) == 0
    assert Posting.objects.filter(kind="cancel_redemption").count() == 0
    assert Reward.objects.get(code="SHORT").stock == 3
    movement = StockMovement.objects.get(kind="expiry")
    assert (movement.delta, movement.stock_after, movement.redemption_id) == (1, 3, stale.pk)


def test_expired_coupon_cannot_be_used_or_cancelled(issued, system_actor):
    redemptions_expire(cutoff=issued.expires_at, actor=system_actor)

    for action in (
        lambda: redemption_use(redemption=issued, order_id="O-1", actor=system_actor),
        lambda: redemption_cancel(redemption=issued, actor=system_actor, reason="x"),
    ):
        with pytest.raises(ServiceError) as exc:
            action()
        assert _code(exc) == "redemption_expired"


def test_expiry_in_batches(member, give_points, make_reward, system_actor):
    give_points(member, 500 * 5)
    make_reward(code="SHORT", coupon_valid_days=1)
    long_ago = timezone.now() - dt.timedelta(days=2)
    for _ in range(5):
        redemption_create(member=member, reward_code="SHORT", actor=system_actor, now=long_ago)

    expired = redemptions_expire(cutoff=timezone.now(), actor=system_actor, batch=2)

    assert expired == 5
    assert set(Redemption.objects.values_list("status", flat=True)) == {"expired"}
