"""The paid membership's renewal reminder (service): N days before a membership's period ends.

Set-based: per configured offset, one query over the memberships that will renew (trialing or
active: a cancelled one will not, a past-due one has already lapsed) whose current period ends
that day. The subject key is the membership, the period's end and the offset
(`42/2027-01-31/7d`): each reminder goes once per period however often the step runs, and a
renewal (a new period end) makes the next period's reminder a new message. The price is the
plan's today, what the renewal will be charged (`memberships.services.lifecycle`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import F, IntegerField, Value
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from config.languages import money_text
from messaging.builtin import (
    HELLO_EN,
    HELLO_ZH,
    UNSUBSCRIBE_EN,
    UNSUBSCRIBE_ZH,
    day_bounds,
    template,
)
from messaging.context import date_text
from messaging.kinds import Kind


def renewal_plan(*, as_of: dt.date, days: tuple[int, ...]):
    from memberships.models import Membership, MembershipStatus

    plans = []
    for before in sorted(set(days), reverse=True):
        start, end = day_bounds(as_of + dt.timedelta(days=before))
        plans.append(
            Membership.objects.filter(
                status__in=[MembershipStatus.TRIALING, MembershipStatus.ACTIVE],
                current_period_end__gte=start,
                current_period_end__lt=end,
            )
            .values(
                "member_id",
                "id",
                "current_period_end",
                plan_code=F("plan__code"),
                days_before=Cast(Value(before), IntegerField()),
            )
            .order_by("member_id", "id")
        )
    return plans


def renewal_params(row: dict) -> tuple[str, dict]:
    renewal_date = timezone.localdate(row["current_period_end"]).isoformat()
    params = {
        "membership_id": row["id"],
        "plan": row["plan_code"],
        "renewal_date": renewal_date,
        "days_before": row["days_before"],
    }
    return f"{row['id']}/{renewal_date}/{row['days_before']}d", params


def renewal_context(*, params: dict, locale: str, member) -> dict:
    from memberships.models import Plan

    plan = Plan.objects.filter(code=params["plan"]).first()
    price = ""
    if plan is not None:
        with translation.override(locale):
            price = money_text(Decimal(plan.price), plan.currency)
    return {
        "plan_name": plan.name if plan is not None else params["plan"],
        "renewal_date": date_text(params["renewal_date"], locale),
        "days_left": str(params["days_before"]),
        "price": price,
    }


MEMBERSHIP_RENEWAL = Kind(
    code="membership_renewal",
    label=_("Paid membership renewal reminder"),
    promotional=False,
    variables={
        "plan_name": _("the plan's name"),
        "renewal_date": _("the day the membership renews"),
        "days_left": _("days until then"),
        "price": _("the plan's price, what the renewal costs"),
    },
    context=renewal_context,
    sample={"membership_id": 0, "plan": "plus", "renewal_date": "2027-01-31", "days_before": 7},
    default_days=(7,),
    planner=renewal_plan,
    params_of=renewal_params,
    defaults={
        "en": template(
            "Your {{ plan_name }} membership renews on {{ renewal_date }}",
            HELLO_EN,
            "Your {{ plan_name }} membership renews on {{ renewal_date }}, in {{ days_left }} "
            "days, for {{ price }}. Nothing to do if you want to keep your benefits; to stop it, "
            "cancel before then in your account at {{ program_name }}.",
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "您的{{ plan_name }}会员将于 {{ renewal_date }} 续费",
            HELLO_ZH,
            "您的{{ plan_name }}会员将于 {{ renewal_date }}（{{ days_left }} 天后）续费，"
            "费用为 {{ price }}。如需继续享受权益，无需任何操作；如不想续费，"
            "请在此之前在{{ program_name }}的账户中取消。",
            UNSUBSCRIBE_ZH,
        ),
    },
)
