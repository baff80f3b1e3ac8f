"""The daily jobs: mature pending points, expire lapsed lots, evaluate tiers, then the steps the
apps above register (`loyalty.hooks.daily_job_steps`).

Safe to repeat and to run on two machines at once: each member's work happens under that
member's account lock and re-reads what is due after taking it, and every expiry posting is keyed
by its lot, so a second run (or a second machine) finds nothing left to do. A first pass skips
members another process holds locked (`SKIP LOCKED`); a second pass waits for those, so a busy
member is never left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty import hooks
from loyalty.models import Account, Lot
from loyalty.services import tiers
from loyalty.services.ledger import lots_expire, lots_mature
from members.actors import Actor

BATCH = 500


def cutoff_for(as_of: dt.date | None) -> dt.datetime:
    """Everything due up to now, or for `--as-of D`, up to the end of day D (program time zone)."""
    if as_of is None:
        return timezone.now()
    start_next = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(start_next) - dt.timedelta(microseconds=1)


@dataclass
class DailyJobsReport:
    as_of: dt.date
    matured_lots: int = 0
    expired_lots: int = 0
    members: int = 0
    steps: dict[str, int] = field(default_factory=dict)


def _due_member_ids(cutoff: dt.datetime) -> list[int]:
    due = Lot.objects.filter(
        Q(matured=False, available_at__lte=cutoff)
        | Q(matured=True, remaining__gt=0, expires_at__isnull=False, expires_at__lte=cutoff)
    )
    return sorted(set(due.values_list("member_id", flat=True)))


def _process_member(member_id: int, *, cutoff, actor, skip_locked: bool) -> tuple[int, int] | None:
    with transaction.atomic():
        qs = Account.objects.select_for_update(skip_locked=skip_locked).filter(member_id=member_id)
        account = qs.first()
        if account is None:
            if skip_locked and Account.objects.filter(member_id=member_id).exists():
                return None  # another process holds it; the second pass waits for it
            from loyalty.services.ledger import account_lock

            account = account_lock(member_id=member_id)
        return (
            lots_mature(account=account, cutoff=cutoff),
            lots_expire(account=account, cutoff=cutoff, actor=actor),
        )


def daily_jobs_run(
    *,
    as_of: dt.date | None = None,
    actor: Actor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DailyJobsReport:
    actor = actor or Actor.system("daily_jobs")
    cutoff = cutoff_for(as_of)
    report = DailyJobsReport(as_of=timezone.localdate(cutoff))
    member_ids = _due_member_ids(cutoff)
    total = len(member_ids)
    can_skip = connection.features.has_select_for_update_skip_locked
    busy: list[int] = []
    done = 0
    for member_id in member_ids:
        result = _process_member(member_id, cutoff=cutoff, actor=actor, skip_locked=can_skip)
        if result is None:
            busy.append(member_id)
            continue
        report.matured_lots += result[0]
        report.expired_lots += result[1]
        done += 1
        if progress:
            progress(done, total)
    for member_id in busy:
        matured, expired = _process_member(member_id, cutoff=cutoff, actor=actor, skip_locked=False)
        report.matured_lots += matured
        report.expired_lots += expired
        done += 1
        if progress:
            progress(done, total)
    report.members = total
    if hasattr(tiers, "tier_evaluate_all"):
        report.steps["tiers"] = tiers.tier_evaluate_all(as_of=report.as_of, actor=actor) or 0
    for name, step in hooks.daily_job_steps:
        report.steps[name] = step(as_of=report.as_of, cutoff=cutoff, actor=actor) or 0
    return report
