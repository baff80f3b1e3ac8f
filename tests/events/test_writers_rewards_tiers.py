"""Tiers, rewards, referrals, approvals and the import: each writer writes exactly its event, in
the change's own transaction, with the exact payload; a rolled-back change leaves none."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import Event
from loyalty.demo import demo_tiers_ensure
from loyalty.importing.pipeline import import_orders
from loyalty.models import Tier
from loyalty.services.adjustments import adjustment_request, adjustment_request_approve
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_adjust_post
from loyalty.services.tiers import (
    tier_evaluate_all,
    tier_evaluate_member,
    tier_override,
    tier_override_end,
)
from members.actors import Actor
from members.roles import CUSTOMER_SERVICE, SUPERVISOR
from rewards.services import redemption_cancel, redemption_create, redemption_use
from tests.campaigns.factories import make_campaign
from tests.conftest import ENROLLED_AT
from tests.events.conftest import iso
from tests.loyalty.conftest import T0
from tests.loyalty.staff import staff_user
from tests.rewards.conftest import make_reward

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")
DAY = dt.timedelta(days=1)
__all__ = ["make_reward"]  # a fixture shared with the rewards tests


@pytest.fixture
def ladder(db):
    return demo_tiers_ensure(actor=SYSTEM)


def _tier(member_id, sequence, from_tier, to_tier, direction, at, external_id="C-1001"):
    payload = {"from_tier": from_tier, "to_tier": to_tier, "direction": direction}
    return (
        "tier.changed",
        member_id,
        sequence,
        {"member_external_id": external_id, **payload, "effective_at": iso(at)},
    )


def test_an_order_that_reaches_a_tier_writes_tier_changed_after_its_points(
    written, ladder, member, record_order
):
    with written() as got:
        result = record_order(member, "O-1", "300.00", placed_at=T0, now=T0)

    assert [event[:3] for event in got] == [
        ("points.earned", member.pk, 2),
        ("tier.changed", member.pk, 3),
    ]
    assert got[1] == _tier(member.pk, 3, "member", "silver", "up", result.order.created_at)


def test_an_override_its_end_and_a_lapse(written, ladder, member):
    gold = Tier.objects.get(code="gold")
    today = timezone.localdate()
    with written() as got:
        tier_override(member=member, tier=gold, until=today, reason="match", actor=SYSTEM)
        tier_override_end(member=member, reason="done", actor=SYSTEM)
        tier_override(member=member, tier=gold, until=today, reason="match", actor=SYSTEM)
        moment = tier_evaluate_member(member_id=member.pk, actor=SYSTEM, as_of=today + DAY)[0].at

    at = [payload["effective_at"] for *_, payload in got]
    assert got == [
        ("tier.changed", member.pk, 2, got[0][3]),
        ("tier.changed", member.pk, 3, got[1][3]),
        ("tier.changed", member.pk, 4, got[2][3]),
        _tier(member.pk, 5, "gold", "member", "lapse", moment),
    ]
    assert [p for *_, p in got[:3]] == [
        {"member_external_id": "C-1001", "from_tier": "member", "to_tier": "gold",
         "direction": "override", "effective_at": at[0]},
        {"member_external_id": "C-1001", "from_tier": "gold", "to_tier": "member",
         "direction": "override", "effective_at": at[1]},
        {"member_external_id": "C-1001", "from_tier": "member", "to_tier": "gold",
         "direction": "override", "effective_at": at[2]},
    ]  # fmt: skip


def test_the_daily_evaluation_writes_its_tier_events_set_based(
    written, ladder, make_member, record_order, django_assert_max_num_queries
):
    members = [make_member() for _ in range(3)]
    for n, member in enumerate(members):
        record_order(member, f"O-{n}", "300.00", placed_at=T0, now=T0)  # silver on the way
    as_of = (T0 + 400 * DAY).date()  # the spend left the window: down, once the hold is over

    with written() as got, django_assert_max_num_queries(30):
        written_changes = tier_evaluate_all(as_of=as_of, actor=SYSTEM)

    assert written_changes == 3
    moment = got[0][3]["effective_at"]
    down = {"from_tier": "silver", "to_tier": "member", "direction": "down"}
    assert got == [
        ("tier.changed", m.pk, 4, {"member_external_id": m.external_id, **down,
                                   "effective_at": moment})
        for m in members
    ]  # fmt: skip
    assert tier_evaluate_all(as_of=as_of, actor=SYSTEM) == 0


def test_a_redemption_its_use_and_a_cancelled_one(written, member, make_reward):
    make_reward(code="FIVE_OFF")
    points_adjust_post(member=member, points=1200, reason="seed", actor=SYSTEM, idempotency_key="s")
    now = timezone.now()
    with written() as got:
        used = redemption_create(member=member, reward_code="FIVE_OFF", actor=SYSTEM, now=now)
        redemption_use(redemption=used.redemption, order_id="O-9", actor=SYSTEM)
        other = redemption_create(member=member, reward_code="FIVE_OFF", actor=SYSTEM, now=now)
        redemption_cancel(redemption=other.redemption, actor=SYSTEM, reason="changed mind")

    first, second = str(used.redemption.pk), str(other.redemption.pk)
    assert got == [
        ("reward.redeemed", member.pk, 3, {"member_external_id": "C-1001",
         "redemption_id": first, "reward_code": "FIVE_OFF", "points": -500,
         "expires_at": iso(used.redemption.expires_at)}),
        ("coupon.used", member.pk, 4, {"member_external_id": "C-1001", "redemption_id": first,
         "reward_code": "FIVE_OFF", "order_id": "O-9"}),
        ("reward.redeemed", member.pk, 5, {"member_external_id": "C-1001",
         "redemption_id": second, "reward_code": "FIVE_OFF", "points": -500,
         "expires_at": iso(other.redemption.expires_at)}),
        ("coupon.cancelled", member.pk, 6, {"member_external_id": "C-1001",
         "redemption_id": second, "reward_code": "FIVE_OFF", "points_returned": 500}),
    ]  # fmt: skip
    assert used.redemption.coupon_code not in str(list(Event.objects.values("payload")))


def test_a_referral_completes_for_the_referrer(written, member, record_order):
    make_campaign("refer", "referral", referee_points=0, referrer_points=500)
    friend = program_member_enrol(
        external_id="F-1",
        email="f1@example.com",
        referral_code=member.referral_code,
        enrolled_at=ENROLLED_AT,  # before the order (an earlier order needs retro credit)
        actor=SYSTEM,
    )
    record_order(friend, "O-1", "40.00", placed_at=T0)
    with written() as got:
        daily_jobs_run(as_of=(T0 + 15 * DAY).date())

    mine = [event for event in got if event[1] == member.pk]
    assert [event[0] for event in mine] == ["points.earned", "referral.completed"]
    assert mine[1][3] == {
        "member_external_id": "C-1001",
        "referral_id": mine[1][3]["referral_id"],
        "points": 500,
    }
    assert "F-1" not in str(mine)


def test_an_approved_adjustment(written, member):
    agent, supervisor = staff_user(CUSTOMER_SERVICE, "agent"), staff_user(SUPERVISOR, "super")
    request = adjustment_request(
        member=member, points=5000, reason="lost parcel, Mrs X", actor=Actor.staff(agent)
    ).request
    with written() as got:
        adjustment_request_approve(request=request, actor=Actor.staff(supervisor))

    assert got == [
        ("points.adjusted", member.pk, 2,
         {"member_external_id": "C-1001", "points": 5000, "adjustment_id": request.pk}),
        ("adjustment.approved", member.pk, 3,
         {"member_external_id": "C-1001", "adjustment_id": request.pk, "points": 5000}),
    ]  # fmt: skip


def test_the_import_writes_one_summary_event(written, tmp_path, ladder):
    placed = (timezone.now() - 30 * DAY).replace(microsecond=0).isoformat()
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,email,placed_at,total,currency\n"
        f"O-1,C-1,a@b.co,{placed},100.00,GBP\n"
        f"O-2,C-2,b@b.co,{placed},300.00,GBP\n"
        f"O-3,C-2,b@b.co,{placed},5.00,GBP\n"
    )
    with written() as got:
        result = import_orders(path=path, actor=SYSTEM)
    with written() as dry:
        import_orders(path=path, actor=SYSTEM, dry_run=True)

    assert got == [
        (
            "import.completed",
            None,
            None,
            {
                "import_id": result.run.pk,
                "format": "orders",
                "orders": 3,
                "members_created": 2,
                "points": 405,
                "rows_rejected": 0,
            },
        )
    ]
    assert dry == []


class Injected(Exception):
    """A failure after the change wrote its event, before its transaction commits."""


def _raise(*args, **kwargs):
    raise Injected


# The staff services open durable transactions (no outer one allowed): their last step before
# the commit fails instead (`audit_record`, after the event); the others fail in an outer one.
@pytest.mark.parametrize(
    ("change", "fails"),
    [
        ("override", "loyalty.services.tier_overrides.audit_record"),
        ("approve", "loyalty.services.adjustments.audit_record"),
        ("redeem", None),
    ],
)
def test_a_rolled_back_change_leaves_no_event(
    change, fails, ladder, member, make_reward, monkeypatch
):
    make_reward(code="FIVE_OFF")
    points_adjust_post(member=member, points=900, reason="seed", actor=SYSTEM, idempotency_key="s")
    agent, supervisor = staff_user(CUSTOMER_SERVICE, "agent"), staff_user(SUPERVISOR, "super")
    request = adjustment_request(
        member=member, points=5000, reason="goodwill", actor=Actor.staff(agent)
    ).request
    work = {
        "override": lambda: tier_override(
            member=member,
            tier=Tier.objects.get(code="gold"),
            until=timezone.localdate(),
            reason="x",
            actor=SYSTEM,
        ),
        "redeem": lambda: redemption_create(member=member, reward_code="FIVE_OFF", actor=SYSTEM),
        "approve": lambda: adjustment_request_approve(
            request=request, actor=Actor.staff(supervisor)
        ),
    }[change]
    events = list(Event.objects.values_list("position", flat=True))
    if fails:
        monkeypatch.setattr(fails, _raise)
    else:
        inner = work

        def work() -> None:
            with transaction.atomic():
                inner()
                raise Injected

    with pytest.raises(Injected):
        work()

    assert list(Event.objects.values_list("position", flat=True)) == events
    assert Tier.objects.filter(code="gold").exists()


def test_the_injected_failures_come_after_the_event(ladder, member, monkeypatch):
    """The override's event is written before its audit entry (so the test above can fail)."""
    seen = []
    monkeypatch.setattr(
        "loyalty.services.tier_overrides.audit_record",
        lambda **kw: seen.append(Event.objects.count()),
    )
    tier_override(
        member=member,
        tier=Tier.objects.get(code="gold"),
        until=timezone.localdate(),
        reason="x",
        actor=SYSTEM,
    )

    assert seen == [Event.objects.count()]
    assert Event.objects.filter(member_id=member.pk, type="tier.changed").count() == 1
