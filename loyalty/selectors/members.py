"""The member summary the storefront reads: identity, points, tier, progress, perks.

`member_summary` returns plain Python values (datetimes, dates, Decimals); the API's output
serializer formats them. Its keys are the API contract's, so every part of the program that adds to
the summary (tiers fill `tier`, `progress` and `perks`; a paid plan `membership`, through
`loyalty.hooks.member_summary_parts`) does it here, and the schema stays stable.

Points come from the member's cached `Account` (a member who never earned has no row yet: zeros).
`expiring` lists the points of available (matured) lots still open that expire within
`EXPIRING_WINDOW`, summed per calendar day in the program's time zone, soonest first.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from loyalty import hooks
from loyalty.models import Account, Lot, ProgramSettings
from loyalty.selectors.program import member_language, program_settings_if_saved
from loyalty.selectors.tiers import member_tier_summary
from members.models import Member

EXPIRING_WINDOW = dt.timedelta(days=90)


def member_points(*, member: Member, now: dt.datetime | None = None) -> dict:
    """`{available, pending, lifetime_earned, expiring: [{points, on}]}` for one member."""
    now = now or timezone.now()
    account = Account.objects.filter(member_id=member.pk).first()
    expiring = (
        Lot.objects.filter(
            member_id=member.pk,
            matured=True,
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + EXPIRING_WINDOW,
        )
        .annotate(on=TruncDate("expires_at", tzinfo=timezone.get_current_timezone()))
        .values("on")
        .annotate(points=Sum("remaining"))
        .order_by("on")
    )
    return {
        "available": account.available if account else 0,
        "pending": account.pending if account else 0,
        "lifetime_earned": account.lifetime_earned if account else 0,
        "expiring": [{"points": row["points"], "on": row["on"]} for row in expiring],
    }


def member_summary(member: Member, *, now: dt.datetime | None = None) -> dict:
    """The summary of a (not erased) member, as `GET /api/v1/members/{external_id}` returns it."""
    program = program_settings_if_saved()  # one read serves the tiers and the language
    tiers = member_tier_summary(member, as_of=now, program=program)
    language = member_language(member, program=program or ProgramSettings())
    return {
        "external_id": member.external_id,
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "phone": member.phone,
        "birth_date": member.birth_date,
        "marketing_consent": member.marketing_consent,
        "country": member.country,
        "status": member.status,
        "enrolled_at": member.enrolled_at,
        "referral_code": member.referral_code,
        "locale": language,
        # `loyalty.selectors.tiers`: null and empty while no tier is configured.
        "tier": tiers["tier"],
        "points": member_points(member=member, now=now),
        "progress": tiers["progress"],
        "perks": tiers["perks"],
        # The paid membership (`memberships`, through `loyalty.hooks`): null without one.
        "membership": _summary_part("membership", member=member, now=now),
        # The member's clubs and their perks (`segments`, through `loyalty.hooks`).
        "clubs": _summary_part("clubs", member=member, now=now) or [],
    }


def _summary_part(name: str, *, member: Member, now: dt.datetime | None):
    provider = hooks.member_summary_parts.get(name)
    return None if provider is None else provider(member=member, now=now or timezone.now())
