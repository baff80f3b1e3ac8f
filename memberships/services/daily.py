"""The daily step (`loyalty.hooks.daily_job_steps`, run by `run_daily_jobs` and the periodic
task): memberships whose time ran out move on.

- trialing or active, the current period over with no renewal -> `past_due` (the renewal failed:
  the shop's payment did not come), perks kept until `grace_until` = the period's end + the plan's
  grace days;
- past_due, the grace over -> `expired`; cancelled, its end passed -> `expired`.

Each membership is its own short transaction under the usual locks (member, then membership),
re-checked after locking, so a renewal or a cancellation that commits first wins and the step
skips it; a second run (or a second machine) finds nothing left. The times recorded are the
membership's own (its period's end, its grace's end), never the run's, so a late run writes the
same history as a punctual one.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events.models import EventType
from members.actors import Actor
from memberships import states
from memberships.models import Membership, MembershipStatus
from memberships.services.common import membership_event, membership_lock, membership_save

S = MembershipStatus


def _lapse(membership_id: int, *, cutoff: dt.datetime) -> bool:
    with transaction.atomic():
        membership = membership_lock(membership_id=membership_id)
        if membership.status not in states.ALLOWED[states.PAST_DUE]:
            return False
        if membership.current_period_end > cutoff:
            return False  # renewed meanwhile
        ended = membership.current_period_end
        membership.status = S.PAST_DUE
        membership.grace_until = ended + dt.timedelta(days=membership.plan.grace_days)
        membership_save(membership, now=timezone.now(), fields=["status", "grace_until"])
        membership_event(
            type=EventType.MEMBERSHIP_PAST_DUE,
            membership=membership,
            payload={"period_end": ended, "grace_until": membership.grace_until},
            now=ended,
        )
        return True


def _expire(membership_id: int, *, cutoff: dt.datetime) -> bool:
    with transaction.atomic():
        membership = membership_lock(membership_id=membership_id)
        if membership.status == S.PAST_DUE:
            ended, why = membership.grace_until, "grace_ended"
        elif membership.status == S.CANCELLED:
            ended, why = membership.ends_at, "cancelled"
        else:
            return False
        if ended > cutoff:
            return False
        membership.status, membership.ended_at = S.EXPIRED, ended
        membership_save(membership, now=timezone.now(), fields=["status", "ended_at"])
        membership_event(
            type=EventType.MEMBERSHIP_EXPIRED,
            membership=membership,
            payload={"reason": why, "ended_at": ended},
            now=ended,
        )
        return True


def memberships_lapse_and_expire(*, cutoff: dt.datetime) -> tuple[int, int]:
    """(made past due, expired) up to `cutoff`; with no grace, a lapse expires in the same run."""
    lapsing = Membership.objects.filter(
        status__in=[S.TRIALING, S.ACTIVE], current_period_end__lte=cutoff
    ).order_by("pk")
    lapsed = sum(_lapse(pk, cutoff=cutoff) for pk in lapsing.values_list("pk", flat=True))
    ending = Membership.objects.filter(
        Q(status=S.PAST_DUE, grace_until__lte=cutoff) | Q(status=S.CANCELLED, ends_at__lte=cutoff)
    ).order_by("pk")
    expired = sum(_expire(pk, cutoff=cutoff) for pk in ending.values_list("pk", flat=True))
    return lapsed, expired


def memberships_daily(*, as_of: dt.date, cutoff: dt.datetime, actor: Actor) -> int:
    """The daily step: how many memberships changed state."""
    return sum(memberships_lapse_and_expire(cutoff=cutoff))
