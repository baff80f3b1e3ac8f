"""Reads of clubs: a member's clubs with their perks, for the member summary (`clubs`, beside
the tier's perks, through `loyalty.hooks.member_summary_parts`) and the API's answers."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch

from loyalty.models import Perk
from members.models import Member
from segments.models import ClubMembership


def _perks(club) -> list[dict]:
    return [
        {
            "code": p.code,
            "name": p.name,
            "kind": p.kind,
            "value": None if p.value is None else str(p.value),
        }
        for p in club.perks.all()
    ]


def club_summary(membership: ClubMembership) -> dict:
    club = membership.club
    return {
        "code": club.code,
        "name": club.name,
        "joined_at": membership.joined_at,
        "perks": _perks(club),
    }


def member_clubs(*, member: Member, now: dt.datetime | None = None) -> list[dict]:
    """The member's clubs, joined first first, each with its perks (2 queries)."""
    rows = (
        ClubMembership.objects.filter(member_id=member.pk)
        .select_related("club")
        .prefetch_related(Prefetch("club__perks", queryset=Perk.objects.order_by("name", "code")))
        .order_by("joined_at", "pk")
    )
    return [club_summary(m) for m in rows]
