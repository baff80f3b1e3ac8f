"""Birthday (promotional), coupon expiring and redemption receipt (service).

Set-based: birthdays are one query over members by month and day (29 February birthdays on 28
February in other years, as the birthday campaign does); coupons expiring are one query over
issued redemptions expiring that day; receipts one query over the redemptions of the last two
days (the redemption's id is the subject key, so a receipt is sent once however often the step
runs). A coupon code is a bearer credential: it is read at send time into the member's own
email, never stored in the log or the event.
"""

from __future__ import annotations

import calendar as cal
import datetime as dt

from django.db.models import F, Q, Sum, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from messaging.builtin import (
    HELLO_EN,
    HELLO_ZH,
    UNSUBSCRIBE_EN,
    UNSUBSCRIBE_ZH,
    day_bounds,
    lookback_bounds,
    template,
)
from messaging.context import date_text, number_text
from messaging.kinds import Kind, register_kind

# --- birthday ---------------------------------------------------------------------------------


def _birthday_q(day: dt.date) -> Q:
    q = Q(birth_date__month=day.month, birth_date__day=day.day)
    if day.month == 2 and day.day == 28 and not cal.isleap(day.year):
        q |= Q(birth_date__month=2, birth_date__day=29)
    return q


def birthday_plan(*, as_of: dt.date, days: tuple[int, ...]):
    from members.models import Member

    plans = []
    for before in sorted(set(days), reverse=True):
        day = as_of + dt.timedelta(days=before)
        plans.append(
            Member.objects.filter(_birthday_q(day), status=Member.Status.ACTIVE)
            .values(member_id=F("pk"))
            .annotate(birthday=Value(day.isoformat()))
            .order_by("pk")
        )
    return plans


def birthday_params(row: dict) -> tuple[str, dict]:
    return row["birthday"][:4], {"birthday": row["birthday"]}


def birthday_context(*, params: dict, locale: str, member) -> dict:
    from campaigns.models import CampaignAward

    year = params["birthday"][:4]
    gift = 0
    if member.pk:
        gift = (
            CampaignAward.objects.filter(
                member_id=member.pk, reference=f"birthday:{year}"
            ).aggregate(points=Sum("points"))["points"]
            or 0
        )
    return {"gift_points": number_text(gift, locale) if gift else ""}


BIRTHDAY = Kind(
    code="birthday",
    label=_("Birthday"),
    promotional=True,
    variables={"gift_points": _("the birthday gift's points (empty when no campaign gives one)")},
    context=birthday_context,
    sample={"birthday": "2027-01-31"},
    default_days=(0,),
    planner=birthday_plan,
    params_of=birthday_params,
    defaults={
        "en": template(
            "Happy birthday from {{ program_name }}",
            HELLO_EN,
            "Happy birthday from all of us at {{ program_name }}!"
            "{% if gift_points %} We have added {{ gift_points }} points to your account "
            "as a gift.{% endif %}",
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "{{ program_name }}祝您生日快乐",
            HELLO_ZH,
            "{{ program_name }}全体同仁祝您生日快乐！"
            "{% if gift_points %}我们已向您的账户赠送 {{ gift_points }} 积分作为生日礼物。"
            "{% endif %}",
            UNSUBSCRIBE_ZH,
        ),
    },
)


# --- coupons ----------------------------------------------------------------------------------


def coupon_expiring_plan(*, as_of: dt.date, days: tuple[int, ...]):
    from rewards.models import Redemption, RedemptionStatus

    plans = []
    for before in sorted(set(days), reverse=True):
        start, end = day_bounds(as_of + dt.timedelta(days=before))
        plans.append(
            Redemption.objects.filter(
                status=RedemptionStatus.ISSUED, expires_at__gte=start, expires_at__lt=end
            )
            .values("member_id", "id", "expires_at", reward_code=F("reward__code"))
            .order_by("member_id", "id")
        )
    return plans


def receipt_plan(*, as_of: dt.date, days: tuple[int, ...]):
    from rewards.models import Redemption

    start, end = lookback_bounds(as_of)
    return [
        # Gifts spent no points: no receipt (their coupon's expiry reminder still goes).
        Redemption.objects.filter(created_at__gte=start, created_at__lt=end, gift_key="")
        .values("member_id", "id", "expires_at", "points_spent", reward_code=F("reward__code"))
        .order_by("member_id", "id")
    ]


def redemption_params(row: dict) -> tuple[str, dict]:
    params = {
        "redemption_id": str(row["id"]),
        "reward": row["reward_code"],
        "expires_on": timezone.localdate(row["expires_at"]).isoformat(),
    }
    if "points_spent" in row:
        params["points"] = row["points_spent"]
    return str(row["id"]), params


def redemption_context(*, params: dict, locale: str, member) -> dict:
    from rewards.models import Redemption

    redemption = (
        Redemption.objects.select_related("reward").filter(pk=params["redemption_id"]).first()
    )
    return {
        "reward_name": redemption.reward.name if redemption else params["reward"],
        "coupon_code": redemption.coupon_code if redemption else "SAMPLE-CODE",
        "expiry_date": date_text(params["expires_on"], locale),
        "points": number_text(params.get("points"), locale),
    }


REDEMPTION_VARIABLES = {
    "reward_name": _("the reward's name"),
    "coupon_code": _("the coupon code"),
    "expiry_date": _("the day the coupon expires"),
    "points": _("the points spent"),
}
SAMPLE_REDEMPTION = {
    "redemption_id": "00000000-0000-0000-0000-000000000000",
    "reward": "sample",
    "expires_on": "2027-01-31",
    "points": 500,
}

COUPON_EXPIRING = Kind(
    code="coupon_expiring",
    label=_("Coupon expiring"),
    promotional=False,
    variables=REDEMPTION_VARIABLES,
    context=redemption_context,
    sample=SAMPLE_REDEMPTION,
    default_days=(7,),
    planner=coupon_expiring_plan,
    params_of=redemption_params,
    defaults={
        "en": template(
            "Your {{ reward_name }} coupon expires on {{ expiry_date }}",
            HELLO_EN,
            "Your coupon {{ coupon_code }} for {{ reward_name }} expires on {{ expiry_date }}. "
            "Use it before then.",
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "您的{{ reward_name }}优惠券将于 {{ expiry_date }} 到期",
            HELLO_ZH,
            "您的{{ reward_name }}优惠券 {{ coupon_code }} 将于 {{ expiry_date }} 到期，"
            "请在此之前使用。",
            UNSUBSCRIBE_ZH,
        ),
    },
)

REDEMPTION_RECEIPT = Kind(
    code="redemption_receipt",
    label=_("Redemption receipt"),
    promotional=False,
    variables=REDEMPTION_VARIABLES,
    context=redemption_context,
    sample=SAMPLE_REDEMPTION,
    planner=receipt_plan,
    params_of=redemption_params,
    defaults={
        "en": template(
            # Never the coupon code in a subject: the subject is kept in the log.
            "Your {{ reward_name }} is ready",
            HELLO_EN,
            "You spent {{ points }} points on {{ reward_name }}. Your coupon code is "
            "{{ coupon_code }}, valid until {{ expiry_date }}.",
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "您兑换的{{ reward_name }}已就绪",
            HELLO_ZH,
            "您使用 {{ points }} 积分兑换了{{ reward_name }}。您的优惠券码为 {{ coupon_code }}，"
            "有效期至 {{ expiry_date }}。",
            UNSUBSCRIBE_ZH,
        ),
    },
)


def register_reward_kinds() -> None:
    for kind in (BIRTHDAY, COUPON_EXPIRING, REDEMPTION_RECEIPT):
        register_kind(kind)
