"""Read-outs of the campaign's admin pages that are not the form: the preview's cost against the
budget (the last 30 days' pace, and the expected cost over the campaign's window), and the
results page's parameters. Pure reads; the views in `campaigns.admin` call them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from campaigns.results import DAYS_AFTER_MAX
from campaigns.selectors import campaign_budget_left, campaign_points_awarded
from loyalty.selectors.reports import money

THIRTY_DAYS = Decimal(30 * 86_400)  # seconds


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


@dataclass(frozen=True)
class WindowCost:
    """The preview's expected cost over what is left of the campaign's window, at the last 30
    days' pace, against its budget. See `window_cost`."""

    start: dt.datetime
    end: dt.datetime
    days: Decimal  # the window left, in days (two places)
    points: int
    money: Decimal
    budget_left: int | None
    share: int | None  # percent of the budget left (None: no budget, or nothing left)
    runs_out_on: dt.date | None  # when the pace would spend the budget left, if before `end`


def window_cost(
    campaign: Campaign, cost_30_days: int | None, *, point_value: Decimal, now=None
) -> WindowCost | None:
    """Expected cost = the last 30 days' cost (`campaign_preview`: the orders it would have
    rewarded, holdout and per-member limit applied) × (window left ÷ 30 days), rounded down;
    the window left runs from max(start, now) to the end. None for a campaign without an end
    (the 30-day pace is the figure), one already over, or a kind without a cost estimate."""
    now = now or timezone.now()
    if cost_30_days is None or campaign.ends_at is None or campaign.ends_at <= now:
        return None
    start = max(campaign.starts_at, now)
    seconds = Decimal((campaign.ends_at - start).total_seconds())
    points = int(cost_30_days * seconds // THIRTY_DAYS)
    left = campaign_budget_left(campaign=campaign)
    share = round(100 * points / left) if left else None
    runs_out = None
    if left is not None and points > left and cost_30_days:
        runs_out = start + dt.timedelta(seconds=int(left * THIRTY_DAYS / cost_30_days))
    return WindowCost(
        start=start,
        end=campaign.ends_at,
        days=(seconds / 86_400).quantize(Decimal("0.01")),
        points=points,
        money=money(points, point_value),
        budget_left=left,
        share=share,
        runs_out_on=timezone.localdate(runs_out) if runs_out else None,
    )
