"""The dashboard's sections on the program's effect: what the program does for the customers.

Redemption and coupon usage rates, the referral funnel, satisfaction (NPS and CSAT) by tier and
paid plan, 90-day retention, the cohort retention heat map, lifetime values, before and after
the launch. Each is a rollup read or one small aggregate (`analytics.selectors.rates`,
`.satisfaction`, `.cohorts`, `.customers`, `.launch`), so the page's query count stays fixed;
the definitions are in `docs/dashboard.md` and, shortened, on the page.
"""

from __future__ import annotations

from django.utils.translation import gettext

from analytics.selectors.cohorts import cohorts, tier_values
from analytics.selectors.customers import retention_90
from analytics.selectors.launch import before_after
from analytics.selectors.period import Period
from analytics.selectors.rates import coupon_usage, redemption_rates, referral_funnel
from analytics.selectors.satisfaction import satisfaction
from analytics.selectors.trends import PeriodFigures


def effects_context(
    period: Period, figures: PeriodFigures, *, tiers: list, plans: dict, rewards, launched_at
) -> dict:
    found = satisfaction(period, tiers=tiers, plans=plans)
    return {
        "rates": redemption_rates(period, figures),
        "coupon_usage": coupon_usage(rewards),
        "referrals": referral_funnel(period),
        "retention": retention_90(period),
        "cohorts": cohorts(period),
        "tier_values": tier_values(period, tiers=tiers),
        "launch": before_after(period, launched_at=launched_at),
        "satisfaction_tables": [
            (found["by_tier"], "nps-by-tier", gettext("By tier")),
            (found["by_plan"], "nps-by-plan", gettext("By paid plan")),
        ],
    }
