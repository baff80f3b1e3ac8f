"""Reads of the memberships app: a member's memberships with their history, and the summary part.

`member_memberships` returns the memberships with their plan, perks, periods, charges and perk
usages prefetched: the API's list answers in a fixed number of queries whatever their number.
A membership "holds its perks" while trialing, active, past due (the grace) or cancelled before
its end; the summary shows the most recently started one that does.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import NotFound
from loyalty.models import Perk
from loyalty.selectors.tiers import tier_perks
from members.models import Member
from memberships.models import Membership, MembershipStatus

S = MembershipStatus


def member_memberships(*, member: Member) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(member=member)
        .select_related("plan")
        .prefetch_related(
            Prefetch("plan__perks", queryset=Perk.objects.order_by("name", "code")),
            "periods",
            "charges",
            Prefetch("perk_usages__perk"),
        )
        .order_by("-started_at", "-pk")
    )


def membership_get_for_api(*, member: Member, membership_id: int) -> Membership:
    membership = member_memberships(member=member).filter(pk=membership_id).first()
    if membership is None:
        raise NotFound(
            "membership_not_found",
            gettext("The member has no membership %(id)s.") % {"id": membership_id},
        )
    return membership


def holding_perks_q(now: dt.datetime) -> Q:
    return Q(status__in=[S.TRIALING, S.ACTIVE, S.PAST_DUE]) | Q(status=S.CANCELLED, ends_at__gt=now)


def renews_on(membership: Membership) -> dt.date | None:
    """The day the next payment is due (program time zone): the current period's end, while
    trialing or active; none once cancelled, past due or over."""
    if membership.status not in (S.TRIALING, S.ACTIVE):
        return None
    return timezone.localdate(membership.current_period_end)


def member_summary_membership(*, member: Member, now: dt.datetime) -> dict | None:
    """The member summary's `membership` (`loyalty.hooks.member_summary_parts`). Two queries."""
    membership = (
        Membership.objects.filter(holding_perks_q(now), member=member)
        .select_related("plan")
        .prefetch_related("plan__perks")
        .order_by("-started_at", "-pk")
        .first()
    )
    if membership is None:
        return None
    return {
        "id": membership.pk,
        "plan": membership.plan.code,
        "name": membership.plan.name,
        "status": membership.status,
        "current_period_end": membership.current_period_end,
        "renews_on": renews_on(membership),
        "ends_at": membership.ends_at if membership.status == S.CANCELLED else None,
        "grace_until": membership.grace_until if membership.status == S.PAST_DUE else None,
        "perks": tier_perks(membership.plan),
    }
