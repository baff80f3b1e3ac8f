"""Redemption rate, coupon usage rate and the referral funnel.

- **Redemption rate** (Smile.io's definition) = points redeemed ÷ points issued, percent to one
  decimal: over the period (its rollup sums, no query) and to date (every rollup day up to the
  period's last day, one aggregate). Redeemed is net of cancelled redemptions; issued is earned +
  tier bonus + campaign bonus (`docs/dashboard.md`, "Points in the period").
- **Coupon usage rate** (the figure Tesco reports for Clubcard vouchers) = coupons used ÷ coupons
  issued, by reward, over the coupons issued in the period; a cancelled coupon was given back, so
  it counts in neither (issued here = issued − cancelled).
- **Referral funnel** over the referrals made in the period (a friend enrolled with a referrer's
  code): friends enrolled → of them, with a first order → referrers paid (the referral rewarded);
  rejected ones are shown beside. Codes shared are not counted: the storefront API has no event
  for a shared code, so the page says so rather than showing a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum

from analytics.models import DailyRollup
from analytics.selectors.period import Period
from analytics.selectors.trends import PeriodFigures, percent
from campaigns.models import Referral


def redemption_rates(period: Period, figures: PeriodFigures) -> dict:
    to_date = DailyRollup.objects.filter(day__lte=period.last).aggregate(
        issued=Sum(F("earned") + F("tier_bonus") + F("campaign_bonus"), default=0),
        redeemed=Sum("redeemed", default=0),
    )
    return {
        "period": {
            "issued": figures.issued,
            "redeemed": figures.redeemed,
            "rate": percent(figures.redeemed, figures.issued),
        },
        "to_date": {**to_date, "rate": percent(to_date["redeemed"], to_date["issued"])},
    }


@dataclass(frozen=True)
class CouponUsage:
    code: str
    name: str
    issued: int  # not cancelled
    used: int

    @property
    def rate(self):
        return percent(self.used, self.issued)


def coupon_usage(lines) -> list[CouponUsage] | None:
    """Per reward (the rewards table's lines), then all rewards (code ""); None without rewards."""
    if lines is None:
        return None
    rows = [
        CouponUsage(line.code, line.name, line.redemptions - line.cancelled, line.used)
        for line in lines
    ]
    if rows:
        total = CouponUsage("", "", sum(r.issued for r in rows), sum(r.used for r in rows))
        rows.append(total)
    return rows


def referral_funnel(period: Period) -> dict:
    """The referrals made in the period, step by step (one aggregate)."""
    rewarded = Q(status=Referral.Status.REWARDED)
    found = Referral.objects.filter(period.report_period().q("created_at")).aggregate(
        enrolled=Count("pk"),
        first_orders=Count("pk", filter=Q(first_order__isnull=False)),
        rewarded=Count("pk", filter=rewarded),
        rejected=Count("pk", filter=Q(status=Referral.Status.REJECTED)),
        referrers=Count("referrer", distinct=True),
        referrers_paid=Count("referrer", distinct=True, filter=rewarded),
    )
    steps = [
        ("enrolled", found["enrolled"], None),
        ("first_orders", found["first_orders"], percent(found["first_orders"], found["enrolled"])),
        ("rewarded", found["rewarded"], percent(found["rewarded"], found["first_orders"])),
    ]
    return {**found, "steps": steps, "shared": None}
