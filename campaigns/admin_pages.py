"""Read-outs of the campaign's admin pages that are not the form: the preview's cost against the
budget, and the results page's parameters. Pure reads; the views in `campaigns.admin` call them.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from campaigns.results import DAYS_AFTER_MAX
from campaigns.selectors import campaign_points_awarded


def budget_outlook(campaign: Campaign, cost_30_days: int | None) -> dict | None:
    """The last 30 days' cost set against what is left of the budget (None: no budget)."""
    if campaign.budget_points is None or cost_30_days is None:
        return None
    awarded = campaign_points_awarded(campaign=campaign)
    left = campaign.budget_points - awarded
    outlook = {"points": campaign.budget_points, "awarded": awarded, "left": left}
    if cost_30_days == 0:
        outlook["sentence"] = _("At the last 30 days' pace it would cost nothing.")
        return outlook
    outlook["share"] = round(100 * cost_30_days / left) if left else None
    days = (left * 30) // cost_30_days
    if cost_30_days > left:
        outlook["over"] = True
        outlook["sentence"] = _(
            "At the last 30 days' pace the budget left runs out after about %(days)s days: "
            "30 days would cost %(cost)s points, %(over)s more than is left."
        ) % {"days": days, "cost": f"{cost_30_days:,}", "over": f"{cost_30_days - left:,}"}
    else:
        outlook["sentence"] = _(
            "At the last 30 days' pace, 30 days use %(share)s%% of the budget left; it lasts "
            "about %(days)s days."
        ) % {"share": outlook["share"], "days": f"{days:,}"}
    return outlook


def days_after_param(request) -> int | None:
    """`?days_after=` (0–365) for the results' second window; None (the default) otherwise."""
    try:
        days = int(request.GET.get("days_after", ""))
    except ValueError:
        return None
    return days if 0 <= days <= DAYS_AFTER_MAX else None
