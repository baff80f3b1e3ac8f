"""The kinds `messaging` ships: who gets them (set-based planners), their variables and their
default templates in English and Simplified Chinese. Registered by `MessagingConfig.ready()`.

Service kinds go unless the member opted out of that kind; promotional ones also need
`marketing_consent` and respect the frequency cap (docs/messaging.md says where the line is).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import IntegerField, Sum, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from messaging.context import date_text, number_text
from messaging.kinds import Kind, register_kind

UNSUBSCRIBE_EN = "Stop these messages: {{ unsubscribe_url }}"
UNSUBSCRIBE_ZH = "不再接收此类消息：{{ unsubscribe_url }}"
HELLO_EN = "Hello{% if first_name %} {{ first_name }}{% endif %},"
HELLO_ZH = "{% if first_name %}{{ first_name }}，{% endif %}您好："


def html_of(text: str) -> str:
    """The HTML body of a shipped plain-text template: its paragraphs, the link clickable."""
    link = '<a href="{{ unsubscribe_url }}">{{ unsubscribe_url }}</a>'
    return "\n".join(
        f"<p>{paragraph.replace('{{ unsubscribe_url }}', link)}</p>"
        for paragraph in text.split("\n\n")
    )


def template(subject: str, *paragraphs: str) -> tuple[str, str, str]:
    text = "\n\n".join(paragraphs) + "\n"
    return subject, text, html_of(text.strip())


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


# Event-driven kinds (tier changes, redemption receipts) look back over today and yesterday: a
# change made after yesterday's run still gets its message, and the log's unique key keeps a
# change seen by two runs to one message.
LOOKBACK_DAYS = 2


def lookback_bounds(as_of: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of the lookback window, end of `as_of`) for the event-driven kinds."""
    start, _ = day_bounds(as_of - dt.timedelta(days=LOOKBACK_DAYS - 1))
    return start, day_bounds(as_of)[1]


# --- points expiring --------------------------------------------------------------------------


def points_expiring_plan(*, as_of: dt.date, days: tuple[int, ...]):
    """Per offset, one aggregate over the open lots expiring that day, by member."""
    from loyalty.models import Lot

    plans = []
    for before in sorted(set(days), reverse=True):
        day = as_of + dt.timedelta(days=before)
        start, end = day_bounds(day)
        plans.append(
            Lot.objects.filter(remaining__gt=0, expires_at__gte=start, expires_at__lt=end)
            .values("member_id")
            .annotate(
                points=Sum("remaining"),
                expiry_date=Value(day.isoformat()),
                days_before=Cast(Value(before), IntegerField()),
            )
            .order_by("member_id")
        )
    return plans


def points_expiring_params(row: dict) -> tuple[str, dict]:
    params = {
        "points": row["points"],
        "expiry_date": row["expiry_date"],
        "days_before": row["days_before"],
    }
    return f"{row['expiry_date']}/{row['days_before']}d", params


def points_expiring_context(*, params: dict, locale: str, member) -> dict:
    return {
        "points": number_text(params["points"], locale),
        "expiry_date": date_text(params["expiry_date"], locale),
        "days_left": str(params["days_before"]),
    }


POINTS_EXPIRING = Kind(
    code="points_expiring",
    label=_("Points expiring"),
    promotional=False,
    variables={
        "points": _("the points that expire that day"),
        "expiry_date": _("the day they expire"),
        "days_left": _("days until then"),
    },
    context=points_expiring_context,
    sample={"points": 1250, "expiry_date": "2027-01-31", "days_before": 30},
    default_days=(30, 7),
    planner=points_expiring_plan,
    params_of=points_expiring_params,
    defaults={
        "en": template(
            "Your {{ points }} points expire on {{ expiry_date }}",
            HELLO_EN,
            "{{ points }} of your {{ program_name }} points expire on {{ expiry_date }}, "
            "in {{ days_left }} days. Use them before then.",
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "您的 {{ points }} 积分将于 {{ expiry_date }} 到期",
            HELLO_ZH,
            "您在{{ program_name }}的 {{ points }} 积分将于 {{ expiry_date }}"
            "（{{ days_left }} 天后）到期，请在此之前使用。",
            UNSUBSCRIBE_ZH,
        ),
    },
)


# --- welcome ----------------------------------------------------------------------------------


def welcome_context(*, params: dict, locale: str, member) -> dict:
    return {"referral_code": member.referral_code}


WELCOME = Kind(
    code="welcome",
    label=_("Welcome"),
    promotional=False,
    variables={"referral_code": _("the member's referral code")},
    context=welcome_context,
    sample={},
    defaults={
        "en": template(
            "{% if first_name %}{{ first_name }}, welcome{% else %}Welcome{% endif %} "
            "to {{ program_name }}",
            HELLO_EN,
            "Welcome to {{ program_name }}: from now on every order earns you points. "
            "Invite friends with your code {{ referral_code }}.",
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "{% if first_name %}{{ first_name }}，{% endif %}欢迎加入{{ program_name }}",
            HELLO_ZH,
            "欢迎加入{{ program_name }}！从现在起，每笔订单都能为您赚取积分。"
            "用您的推荐码 {{ referral_code }} 邀请好友。",
            UNSUBSCRIBE_ZH,
        ),
    },
)


def welcome_on_enrol(*, member, actor) -> None:
    """`loyalty.hooks.member_enrolled_listeners`: in the enrolment's transaction."""
    from messaging.services import message_request

    message_request(kind=WELCOME.code, member_id=member.pk, subject_key="enrolled")


def register_builtin() -> None:
    from messaging.builtin_memberships import MEMBERSHIP_RENEWAL
    from messaging.builtin_rewards import BIRTHDAY, COUPON_EXPIRING, REDEMPTION_RECEIPT
    from messaging.builtin_tiers import TIER_AT_RISK, TIER_DOWNGRADED, TIER_UPGRADED

    for kind in (
        POINTS_EXPIRING,
        TIER_UPGRADED,
        TIER_AT_RISK,
        TIER_DOWNGRADED,
        BIRTHDAY,
        COUPON_EXPIRING,
        REDEMPTION_RECEIPT,
        WELCOME,
        MEMBERSHIP_RENEWAL,
    ):
        register_kind(kind)
