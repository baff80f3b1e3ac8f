"""Daily awards by date: birthdays and membership anniversaries, once a year per member.

A 29 February birthday is celebrated on 28 February in other years. The award's reference is
the year ("birthday:2026"), so running the step twice, or on two machines, awards once.
"""

from __future__ import annotations

import calendar as cal
import datetime as dt

from django.db.models import Q

from campaigns.models import Campaign
from campaigns.services.awards import award_grant, campaigns_live, member_targeted
from members.actors import Actor
from members.models import Member


def _date_q(field: str, day: dt.date) -> Q:
    q = Q(**{f"{field}__month": day.month, f"{field}__day": day.day})
    if day.month == 2 and day.day == 28 and not cal.isleap(day.year):
        q |= Q(**{f"{field}__month": 2, f"{field}__day": 29})
    return q


def calendar_awards(*, as_of: dt.date, cutoff: dt.datetime, actor: Actor) -> int:
    awarded = 0
    live = campaigns_live(kind=Campaign.Kind.ACTION, at=cutoff)
    for campaign in live.filter(action__in=[Campaign.Action.BIRTHDAY, Campaign.Action.ANNIVERSARY]):
        if campaign.action == Campaign.Action.BIRTHDAY:
            members = Member.objects.filter(_date_q("birth_date", as_of))
        else:
            members = Member.objects.filter(_date_q("enrolled_at", as_of)).filter(
                enrolled_at__year__lt=as_of.year
            )
        members = members.filter(status=Member.Status.ACTIVE).order_by("pk")
        for member in members.iterator(chunk_size=500):
            if not member_targeted(campaign, member_id=member.pk):
                continue
            award, reason = award_grant(
                campaign=campaign,
                member=member,
                points=campaign.points,
                reference=f"{campaign.action}:{as_of.year}",
                actor=actor,
                description=f"{campaign.name} {as_of.year}",
            )
            awarded += 1 if award or reason is None else 0  # None: a gift-only campaign's gift
    return awarded
