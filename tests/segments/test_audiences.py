"""Segments used as audiences: campaigns award only members inside (and record it), rewards take
them as eligibility, the bulk award goes through the adjustment rules once per key, freezing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import CampaignAward
from config.errors import ServiceError
from loyalty.models import AdjustmentRequest, Posting
from members.actors import Actor
from members.roles import CUSTOMER_SERVICE, SUPERVISOR
from rewards.services.catalogue import reward_create
from rewards.services.redemptions import redemption_create
from segments.models import Club, Segment
from segments.selectors.segments import segment_member_ids, segment_members
from segments.services.clubs import club_join, club_leave
from segments.services.segments import segment_award_points, segment_freeze, segment_save
from tests.campaigns.factories import make_campaign
from tests.loyalty.staff import actor_for, staff_user

pytestmark = pytest.mark.django_db
T = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)  # a Monday
PARENTS = {"all": [{"field": "club", "op": "in", "value": ["parents"]}]}


@pytest.fixture
def parents(make_member, system_actor):
    club = Club.objects.create(code="parents", name="Parents")
    inside, outside = make_member(external_id="IN"), make_member(external_id="OUT")
    club_join(member=inside, club=club, actor=system_actor, now=T)
    segment = segment_save(
        segment=Segment(code="parents", name="Parents", conditions=PARENTS), actor=system_actor
    )
    return segment, inside, outside


def test_a_segment_targeted_campaign_awards_only_members_inside(parents, record_order):
    segment, inside, outside = parents
    make_campaign("double", "multiplier", multiplier=Decimal("2.00"), segment=segment)
    record_order(inside, "O-in", "100.00", placed_at=T)
    record_order(outside, "O-out", "100.00", placed_at=T)
    bonus = dict(Posting.objects.filter(kind="campaign_bonus").values_list("member_id", "points"))
    assert bonus == {inside.pk: 100}
    award = CampaignAward.objects.get()
    assert (award.member_id, award.points, award.segment_code) == (inside.pk, 100, "parents")


def test_segment_membership_is_read_when_the_campaign_applies(parents, record_order, system_actor):
    segment, inside, _outside = parents
    make_campaign("double", "multiplier", multiplier=Decimal("2.00"), segment=segment)
    club_leave(member=inside, club=Club.objects.get(code="parents"), actor=system_actor)
    record_order(inside, "O-in", "100.00", placed_at=T)
    assert not Posting.objects.filter(kind="campaign_bonus").exists()


def test_a_reward_for_a_segment(parents, give_points_, system_actor):
    segment, inside, outside = parents
    reward_create(code="KIDS", name="Kids' gift", kind="fixed_discount", points_cost=100,
                  value=Decimal("1.00"), segment=segment, actor=system_actor)  # fmt: skip
    give_points_(inside, 500)
    give_points_(outside, 500)
    with pytest.raises(ServiceError) as caught:
        redemption_create(member=outside, reward_code="KIDS", actor=system_actor)
    assert (caught.value.code, caught.value.extra["reason"]) == ("not_eligible", "not_in_segment")
    result = redemption_create(member=inside, reward_code="KIDS", actor=system_actor)
    assert result.redemption.points_spent == 100


def test_bulk_award_posts_once_per_key(parents, make_member, role_groups):
    segment, inside, _outside = parents
    supervisor = actor_for(staff_user(SUPERVISOR, "sue"))
    award = segment_award_points(
        segment=segment, points=50, reason="Parents' week", key="k1", actor=supervisor
    )
    again = segment_award_points(
        segment=segment, points=50, reason="Parents' week", key="k1", actor=supervisor
    )
    assert (award.members, award.requested, again.pk) == (1, 0, award.pk)
    adjusts = list(Posting.objects.filter(kind="adjust").values_list("member_id", "points"))
    assert adjusts == [(inside.pk, 50)]


def test_bulk_award_beyond_the_limit_is_held_for_approval(parents, make_member, role_groups):
    segment, inside, _outside = parents
    agent = actor_for(staff_user(CUSTOMER_SERVICE, "cs"))
    award = segment_award_points(
        segment=segment, points=5000, reason="Too generous", key="k2", actor=agent
    )
    assert (award.members, award.requested) == (0, 1)
    assert list(AdjustmentRequest.objects.values_list("member_id", "points")) == [(inside.pk, 5000)]
    assert not Posting.objects.filter(kind="adjust").exists()


def test_a_reason_is_required(parents):
    segment, _inside, _outside = parents
    with pytest.raises(ServiceError) as caught:
        segment_award_points(
            segment=segment, points=5, reason=" ", key="k", actor=Actor.system("t")
        )
    assert caught.value.code == "validation_error"


def test_freezing_keeps_the_members_of_that_moment(parents, make_member, system_actor):
    segment, inside, outside = parents
    assert segment_freeze(segment=segment) == 1
    club_join(member=outside, club=Club.objects.get(code="parents"), actor=system_actor)
    segment.refresh_from_db()
    assert (segment.kind, segment.member_count) == ("frozen", 1)
    assert list(segment_member_ids(segment)) == [inside.pk]
    dynamic = Segment(code="d", name="D", conditions=PARENTS)
    assert sorted(segment_members(dynamic).values_list("pk", flat=True)) == sorted(
        [inside.pk, outside.pk]
    )
    with pytest.raises(ServiceError):
        segment_freeze(segment=segment)
