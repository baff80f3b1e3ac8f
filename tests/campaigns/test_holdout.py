"""A campaign's holdout (`campaigns.holdout`): a deterministic hash of (campaign, member) decides
who gets no bonus, and the award log records it once per member.

- the split: the share is within sampling error over 10,000 ids, and the same on every run (exact
  counts and one bucket checked against SHA-256 computed outside Python: `printf 7:42 |
  sha256sum`);
- orders: a held-out member gets no bonus, takes no budget, and the holdout row is written once;
  a treated member on the same campaign gets the bonus as before;
- actions (`award_grant`): the same, with the reason `held_out` (the API says `no_campaign`);
- validation: 0–50, never on a referral campaign.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest

from campaigns.holdout import held_out, holdout_bucket
from campaigns.models import Campaign, CampaignAward, CampaignHoldout
from campaigns.selectors import campaign_budget_left
from campaigns.services.actions import activity_record
from config.errors import ServiceError
from loyalty.models import Posting
from tests.campaigns.factories import make_campaign

FRIDAY = dt.datetime(2026, 1, 9, 10, 0, tzinfo=dt.UTC)


def test_the_bucket_is_the_first_8_bytes_of_sha256_mod_10000():
    # printf 7:42 | sha256sum -> 6fb44d7d504d375b…; 0x6fb44d7d504d375b mod 10,000 = 7451
    assert holdout_bucket(campaign_id=7, member_id=42) == 7451
    # printf 1:1 | sha256sum -> d6b5915c46057bcb…; mod 10,000 = 283
    assert holdout_bucket(campaign_id=1, member_id=1) == 283


def test_the_split_holds_out_the_share_within_tolerance_and_the_same_members_every_run():
    ten = Campaign(pk=1, holdout_percent=10)
    twenty = Campaign(pk=1, holdout_percent=20)
    other = Campaign(pk=2, holdout_percent=10)
    ids = range(1, 10_001)

    out_10 = {m for m in ids if held_out(ten, member_id=m)}
    out_20 = {m for m in ids if held_out(twenty, member_id=m)}
    out_other = {m for m in ids if held_out(other, member_id=m)}

    # 10% ± 1 point (3.3 standard errors of 0.3 points), and exactly these counts on every run.
    assert abs(len(out_10) - 1_000) <= 100
    assert (len(out_10), len(out_other)) == (1_049, 968)
    assert abs(len(out_20) - 2_000) <= 130
    # Raising the share keeps everyone already held out; other campaigns hold out other members
    # (independent at 10%: about 1% of members in both).
    assert out_10 <= out_20
    assert abs(len(out_10 & out_other) - 100) <= 40
    assert not any(held_out(Campaign(pk=1, holdout_percent=0), member_id=m) for m in ids)


def _split(make_member, campaign, n=12):
    """Members on either side of the campaign's split (enrolled until both sides have one)."""
    treated, holdout = [], []
    for _ in range(n):
        member = make_member()
        (holdout if held_out(campaign, member_id=member.pk) else treated).append(member)
        if treated and holdout:
            break
    assert treated, "50% split: both sides within 12 members"
    assert holdout, "50% split: both sides within 12 members"
    return treated[0], holdout[0]


def test_a_held_out_member_gets_no_bonus_and_the_log_records_it_once(make_member, record_order):
    campaign = make_campaign(
        "double", "multiplier", multiplier=Decimal("2.00"), holdout_percent=50, budget_points=1000
    )
    treated, holdout = _split(make_member, campaign)

    first = record_order(holdout, "O-H1", "120.00", placed_at=FRIDAY)
    second = record_order(holdout, "O-H2", "30.00", placed_at=FRIDAY)
    treated_order = record_order(treated, "O-T1", "120.00", placed_at=FRIDAY)

    assert (first.campaign_bonus, first.total) == ([], 120)
    assert (second.campaign_bonus, second.total) == ([], 30)
    assert (treated_order.campaign_bonus, treated_order.total) == ([("double", 120)], 240)
    log = CampaignHoldout.objects.get()
    assert (log.campaign_id, log.member_id, log.reference, log.points_withheld) == (
        campaign.pk,
        holdout.pk,
        "order:O-H1",
        120,
    )
    assert list(CampaignAward.objects.values_list("member_id", "points")) == [(treated.pk, 120)]
    assert Posting.objects.filter(kind="campaign_bonus", member=holdout).count() == 0
    # The holdout took nothing from the budget.
    assert campaign_budget_left(campaign=campaign) == 880


def test_a_held_out_member_gets_no_action_bonus_with_the_reason(make_member, system_actor):
    campaign = make_campaign("review", "action", action="review", points=50, holdout_percent=50)
    treated, holdout = _split(make_member, campaign)

    out = activity_record(member=holdout, type="review", reference="R-1", actor=system_actor)
    again = activity_record(member=holdout, type="review", reference="R-2", actor=system_actor)
    ok = activity_record(member=treated, type="review", reference="R-1", actor=system_actor)

    assert (out.points_awarded, out.reason) == (0, "held_out")
    assert (again.points_awarded, again.reason) == (0, "held_out")
    assert (ok.points_awarded, ok.awards) == (50, [("review", 50)])
    assert list(CampaignHoldout.objects.values_list("member_id", "reference")) == [
        (holdout.pk, "review:R-1")
    ]


def test_the_activity_api_says_no_campaign_for_a_held_out_member(make_member, api_client):
    """The storefront contract's reasons are fixed (`no_campaign`, `limit_reached`,
    `budget_exhausted`): for a held-out member no campaign applies."""
    campaign = make_campaign(
        "follow", "action", action="social_follow", points=40, holdout_percent=50
    )
    _treated, holdout = _split(make_member, campaign)

    response = api_client.post(
        f"/api/v1/members/{holdout.external_id}/activities",
        {"type": "social_follow", "reference": "ig"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"points_awarded": 0, "awards": [], "reason": "no_campaign"}
    assert CampaignHoldout.objects.get().reference == "social_follow:ig"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "percent", "message"),
    [
        ("multiplier", 51, "The holdout is a share from 0 to 50 percent."),
        ("referral", 10, "A referral campaign cannot hold members out"),
    ],
)
def test_the_holdout_share_is_validated(kind, percent, message):
    with pytest.raises(ServiceError) as excinfo:
        make_campaign(
            "bad", kind, multiplier=Decimal("2.00"), referrer_points=10, holdout_percent=percent
        )

    assert excinfo.value.code == "validation_error"
    assert excinfo.value.errors[0]["field"] == "holdout_percent"
    assert excinfo.value.message.startswith(message)
