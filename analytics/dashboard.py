"""The program dashboard in the admin (`/admin/dashboard/`): Marketing reads the program's results.

It lives in `analytics`, the app above campaigns, because it reads every app (members, loyalty,
memberships, feedback, rewards, campaigns). The view only reads, through selectors whose query
count does not grow with the data, so the page costs the same few queries for ten members or ten
million. Who may see it: staff who may view members (every role does); others get 403.
`config/urls.py` mounts it inside the admin's login (`admin.site.admin_view`). What each figure
means: `docs/dashboard.md`.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.selectors import campaign_report, campaign_report_totals, reward_report
from config.admin_tools import denied
from loyalty.selectors.program import program_settings
from loyalty.selectors.reports import (
    DEFAULT_DAYS,
    PERIOD_DAYS,
    member_counts,
    members_by_tier,
    money,
    order_figures,
    points_by_week,
    points_flows,
    points_outstanding,
    report_period,
)

PERMISSION = "members.view_member"


def _days(request: HttpRequest) -> int:
    """The period asked for (`?days=`), or the default for anything else."""
    try:
        days = int(request.GET.get("days", DEFAULT_DAYS))
    except ValueError:
        return DEFAULT_DAYS
    return days if days in PERIOD_DAYS else DEFAULT_DAYS


def dashboard_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise denied(PERMISSION)
    settings = program_settings()
    period = report_period(days=_days(request))
    point_value = settings.point_value
    flows = points_flows(period=period)
    weeks = points_by_week(period=period)

    def line(label: str, points: int, note: str = "") -> dict:
        return {"label": label, "points": points, "money": money(points, point_value), "note": note}

    points_lines = [
        line(gettext("Earned on orders"), flows.earned),
        line(gettext("Tier bonus"), flows.tier_bonus),
        line(gettext("Campaign bonus"), flows.campaign_bonus),
        line(gettext("Issued"), flows.issued, gettext("earned + tier bonus + campaign bonus")),
        line(
            gettext("Redeemed"),
            flows.redeemed,
            gettext("%(spent)s spent − %(given_back)s given back on cancelled redemptions")
            % {"spent": flows.redeemed_gross, "given_back": flows.redemptions_cancelled},
        ),
        line(gettext("Expired"), flows.expired),
        line(gettext("Reversed by refunds"), flows.refund_reversed),
        line(
            gettext("Adjusted (net)"),
            flows.adjusted,
            gettext("+%(added)s / −%(removed)s by staff")
            % {"added": flows.adjusted_added, "removed": flows.adjusted_removed},
        ),
        line(gettext("Reversed by staff (net)"), flows.staff_reversals),
        line(gettext("Net change of balances"), flows.net_change),
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("Program dashboard"),
        "period": period,
        "period_choices": PERIOD_DAYS,
        "currency": settings.currency,
        "point_value_text": f"{point_value.normalize():f}",
        "members": member_counts(period=period),
        "tiers": members_by_tier(today=period.today),
        "flows": flows,
        "points_lines": points_lines,
        "outstanding": points_outstanding(point_value=point_value),
        "orders": order_figures(period=period),
        "campaigns": campaign_report(period=period, point_value=point_value),
        "campaign_totals": campaign_report_totals(period=period, point_value=point_value),
        "rewards": reward_report(period=period),
        "weeks": weeks,
        "chart": {
            "labels": [date_format(w.week, "SHORT_DATE_FORMAT") for w in weeks],
            "series": [
                {"label": str(_("Points issued")), "data": [w.issued for w in weeks]},
                {"label": str(_("Points redeemed")), "data": [w.redeemed for w in weeks]},
            ],
        },
    }
    return TemplateResponse(request, "analytics/dashboard.html", context)
