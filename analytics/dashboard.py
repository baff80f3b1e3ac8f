"""The program dashboard in the admin (`/admin/dashboard/`): Marketing reads the program's results.

It lives in `analytics`, the app above campaigns, because it reads every app (members, loyalty,
memberships, feedback, rewards, campaigns). The view only reads. Its figures over time come from
the daily rollups (`analytics.selectors.trends`), so its cost grows with the number of days shown,
not with the ledger; the "now" figures are a few aggregates over small or indexed sets, and the
campaigns and redemptions tables read the period's awards and coupons. The query count is fixed
(a test holds it). Who may see it: staff who may view members (every role does); others get 403.
`config/urls.py` mounts it inside the admin's login. What each figure means: `docs/dashboard.md`.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from analytics.charts import dashboard_charts
from analytics.effects import effects_context
from analytics.models import LiabilitySnapshot
from analytics.selectors.customers import customer_groups
from analytics.selectors.period import PRESETS, Period, period_from_query
from analytics.selectors.trends import (
    PeriodFigures,
    breakage,
    percent,
    period_by,
    period_figures,
    weekly_trends,
)
from campaigns.selectors import campaign_report, campaign_report_totals, reward_report
from config.admin_tools import denied
from loyalty.models import Tier
from loyalty.selectors.program import program_settings
from loyalty.selectors.reports import member_counts, money, points_outstanding
from memberships.models import Plan

PERMISSION = "members.view_member"


def _delta(now, then) -> dict | None:
    """Change against the comparison period: the difference and, when there was one, the
    relative change in percent."""
    if then is None or now is None:
        return None
    return {"diff": now - then, "percent": percent(now - then, then) if then else None}


def kpis(figures: PeriodFigures, compared: PeriodFigures | None) -> list[dict]:
    """The headline figures and their deltas."""
    names = [
        ("new_members", _("new members")),
        ("issued", _("points issued")),
        ("redeemed", _("points redeemed")),
        ("orders", _("member orders")),
        ("revenue", _("member revenue")),
        ("repeat_rate", _("repeat-purchase rate (%)")),
        ("guest_revenue", _("guest revenue")),
    ]
    return [
        {
            "id": f"kpi-{name.replace('_', '-')}",
            "label": label,
            "value": getattr(figures, name),
            "then": getattr(compared, name) if compared else None,
            "delta": _delta(getattr(figures, name), getattr(compared, name)) if compared else None,
        }
        for name, label in names
    ]


def points_lines(flows: PeriodFigures, point_value) -> list[dict]:
    def line(label, points, note=""):
        return {"label": label, "points": points, "money": money(points, point_value), "note": note}

    return [
        line(gettext("Earned on orders"), flows.earned),
        line(gettext("Tier bonus"), flows.tier_bonus),
        line(gettext("Campaign bonus"), flows.campaign_bonus),
        line(gettext("Issued"), flows.issued, gettext("earned + tier bonus + campaign bonus")),
        line(gettext("Redeemed"), flows.redeemed, gettext("spent − given back on cancellations")),
        line(gettext("Expired"), flows.expired),
        line(gettext("Reversed by refunds"), flows.refund_reversed),
        line(gettext("Adjusted (net)"), flows.adjusted),
        line(gettext("Reversed by staff (net)"), flows.staff_reversed),
        line(gettext("Net change of balances"), flows.net_change),
    ]


def liability_context(*, point_value, last) -> dict:
    snapshot = LiabilitySnapshot.objects.order_by("-day").first()
    expired, reached, rate = breakage(last=last)
    context = {"breakage": {"expired": expired, "reached": reached, "rate": rate}}
    if snapshot is None:
        return {**context, "snapshot": None}
    buckets = [
        (gettext("Pending (not yet spendable)"), snapshot.pending),
        (gettext("Expiring within 30 days"), snapshot.within_30),
        (gettext("Expiring in 31–90 days"), snapshot.within_90),
        (gettext("Expiring in 91–180 days"), snapshot.within_180),
        (gettext("Expiring in 181–365 days"), snapshot.within_365),
        (gettext("Expiring later"), snapshot.later),
        (gettext("Never expiring"), snapshot.never),
    ]
    outstanding = money(snapshot.outstanding, point_value)
    expected = None
    if rate is not None:
        expected = money(snapshot.outstanding, point_value * (1 - rate / 100))
    return {
        **context,
        "snapshot": snapshot,
        "buckets": [
            {"label": label, "points": points, "money": money(points, point_value)}
            for label, points in buckets
        ],
        "outstanding": outstanding,
        "expected": expected,
        "debt": money(snapshot.debt, point_value),
    }


def _segments(period: Period) -> dict:
    tiers = list(Tier.objects.order_by("rank"))
    plans = {p.pk: p for p in Plan.objects.all()}
    by_tier = period_by(period, "tier_id")
    if tiers and 0 in by_tier:  # no tier decided: the entry tier
        entry = by_tier.pop(0)
        by_tier[tiers[0].pk] = _merge(by_tier.get(tiers[0].pk), entry, tiers[0].pk)
    tier_rows = [(t.name, by_tier[t.pk]) for t in tiers if t.pk in by_tier]
    if not tiers and 0 in by_tier:
        tier_rows = [(gettext("All members"), by_tier[0])]
    by_plan = period_by(period, "plan_id")
    plan_rows = [
        (plans[k].name if k in plans else gettext("Free (no paid plan)"), line)
        for k, line in by_plan.items()
    ]
    return {
        "tiers": tiers,
        "plans": plans,
        "segment_tables": [
            (gettext("Tier"), tier_rows, "by-tier"),
            (gettext("Paid plan"), plan_rows, "by-plan"),
        ],
    }


def _merge(a, b, key):
    if a is None:
        return b
    fields = ("new_members", "issued", "redeemed", "orders", "revenue", "buyers", "repeat_buyers")
    return type(a)(key=key, **{f: getattr(a, f) + getattr(b, f) for f in fields})


def dashboard_context(request: HttpRequest) -> dict:
    settings = program_settings()
    period, compared_period = period_from_query(request.GET)
    point_value = settings.point_value
    figures = period_figures(period)
    compared = period_figures(compared_period) if compared_period else None
    segments = _segments(period)
    weeks = weekly_trends(period)
    report = period.report_period()
    rewards = reward_report(period=report)
    return {
        "period": period,
        "compared_period": compared_period,
        "compare": request.GET.get("compare", ""),
        "presets": PRESETS,
        "currency": settings.currency,
        "point_value_text": f"{point_value.normalize():f}",
        "members": member_counts(period=report),
        "figures": figures,
        "kpis": kpis(figures, compared),
        "points_lines": points_lines(figures, point_value),
        "outstanding": points_outstanding(point_value=point_value),
        "liability": liability_context(point_value=point_value, last=period.last),
        "charts": dashboard_charts(weeks, tiers=segments["tiers"], point_value=point_value),
        "customers": customer_groups(period, figures),
        **segments,
        "campaigns": campaign_report(period=report, point_value=point_value),
        "campaign_totals": campaign_report_totals(period=report, point_value=point_value),
        "rewards": rewards,
        **effects_context(
            period,
            figures,
            tiers=segments["tiers"],
            plans=segments["plans"],
            rewards=rewards,
            launched_at=settings.launched_at,
        ),
    }


def dashboard_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise denied(PERMISSION)
    context = {
        **admin.site.each_context(request),
        "title": _("Program dashboard"),
        **dashboard_context(request),
    }
    return TemplateResponse(request, "analytics/dashboard.html", context)
