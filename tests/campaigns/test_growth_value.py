"""The growth-value ladder end to end (成长值, `docs/tiers.md`): a member enrols, earns growth
value from orders and actions (a review, a custom daily sign-in), climbs at once, a refund takes
the order's growth value back, and the daily evaluation demotes after the hold and again when
the growth value has left the window. The sentences follow the metric in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone, translation

from campaigns.services.actions import activity_record
from config.languages import date_text
from loyalty.models import Tier, TierChange
from loyalty.selectors.tier_metric import Metric, metric_value
from loyalty.selectors.tiers import member_tier_summary, qualification_window
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.tier_config import tier_save
from loyalty.services.tiers import tier_evaluate_all
from tests.campaigns.factories import make_campaign
from tests.conftest import ENROLLED_AT
from tests.loyalty.tiers_helpers import held, settings_set

DAY = dt.timedelta(days=1)
SOURCES = ("orders", "review", "other_actions")


def _growth(member, at: dt.datetime) -> int:
    window = qualification_window(as_of=at, qualification="rolling_365")
    return metric_value(member_id=member.pk, window=window, metric=Metric("growth_value", SOURCES))


def _history(member) -> list[tuple]:
    return [
        (c.from_tier.code, c.to_tier.code, c.kind, c.qualifying_value, c.qualifying_spend, c.note)
        for c in TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("at", "pk")
    ]


def test_the_growth_value_ladder_end_to_end(db, record_order, record_refund, system_actor):
    # given: a ladder on growth value from orders, reviews and other actions (not sign-up);
    # Silver 200, Gold 500, Platinum 1000; a 30-day hold
    settings_set(tier_metric="growth_value", growth_sources=list(SOURCES), tier_hold_days=30)
    for rank, (code, threshold, multiplier) in enumerate(
        [
            ("member", "0", "1"),
            ("silver", "200", "1.25"),
            ("gold", "500", "1.5"),
            ("platinum", "1000", "2"),
        ]
    ):
        tier_save(
            actor=system_actor,
            code=code,
            name=code.title(),
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
        )
    make_campaign("welcome", "action", action="signup", points=20)
    make_campaign("reviews", "action", action="review", points=50)
    make_campaign("sign-in", "action", action="custom", action_code="daily-sign-in", points=10)
    t = timezone.now().replace(microsecond=0) - 100 * DAY

    # when: she enrols (the sign-up bonus does not count) and orders for 150.00
    member = program_member_enrol(
        actor=system_actor, external_id="GV-1", email="gv@example.com", enrolled_at=ENROLLED_AT
    )
    record_order(member, "GV-O1", "150.00", placed_at=t)
    assert (_growth(member, t), held(member)) == (150, "member")

    # when: a review (+50): 200, Silver at once; a daily sign-in (+10): 210
    activity_record(member=member, type="review", reference="R-1", actor=system_actor, now=t + DAY)
    assert (_growth(member, t + DAY), held(member)) == (200, "silver")
    activity_record(
        member=member,
        type="daily-sign-in",
        reference="2026-01-01",
        actor=system_actor,
        now=t + 2 * DAY,
    )
    assert _growth(member, t + 2 * DAY) == 210

    # then: the summary speaks growth value, in English and in Chinese
    summary = member_tier_summary(member, as_of=t + 2 * DAY + dt.timedelta(hours=1))
    progress = summary["progress"]
    by = timezone.localdate(t + 365 * DAY) - DAY  # the day before the first order leaves
    until = timezone.localdate(t + 2 * DAY + 30 * DAY)  # the sign-in qualified her again
    assert (progress["metric"], progress["qualifying_value"]) == ("growth_value", 210)
    assert (progress["next_tier"]["threshold_value"], progress["next_tier"]["remaining_value"]) == (
        500,
        290,
    )
    assert progress["explanation"] == (
        f"Earn 290 more growth points by {date_text(by)} to reach Gold. "
        f"Silver is yours until {date_text(until)}."
    )
    member.locale = "zh-hans"
    chinese = member_tier_summary(member, as_of=t + 2 * DAY + dt.timedelta(hours=1))
    with translation.override("zh-hans"):
        by_zh, until_zh = date_text(by), date_text(until)
    assert chinese["progress"]["explanation"] == (
        f"在 {by_zh} 前再获得 290 成长值即可升级为 Gold。您的 Silver 等级有效期至 {until_zh}。"
    )
    member.locale = ""

    # when: an order of 300.00 at Silver earns 300 + 75 tier bonus: 585, Gold at once
    record_order(member, "GV-O2", "300.00", placed_at=t + 3 * DAY)
    assert (_growth(member, t + 3 * DAY), held(member)) == (585, "gold")

    # when: it is refunded in full: its 375 points, and its growth value, go back
    record_refund("GV-O2", "GV-R2", "300.00", now=t + 4 * DAY)
    assert (_growth(member, t + 4 * DAY), held(member)) == (210, "gold")

    # then: the daily run keeps Gold inside the hold, demotes to Silver after it (210 ≥ 200),
    # and to Member once the first order, the review and the sign-in have left the window
    tier_evaluate_all(as_of=timezone.localdate(t + 10 * DAY), actor=system_actor)
    assert held(member) == "gold"
    tier_evaluate_all(as_of=timezone.localdate(t + 34 * DAY), actor=system_actor)
    assert held(member) == "silver"
    tier_evaluate_all(as_of=timezone.localdate(t + 367 * DAY), actor=system_actor)
    assert held(member) == "member"
    assert _history(member) == [
        ("member", "silver", "upgrade", 200, None, "Bonus review:R-1"),
        ("silver", "gold", "upgrade", 585, None, "Order GV-O2"),
        ("gold", "silver", "downgrade", 210, None, "Tier evaluation"),
        ("silver", "member", "downgrade", 0, None, "Tier evaluation"),
    ]
    assert Tier.objects.count() == 4
