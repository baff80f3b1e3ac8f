"""The daily jobs: mature pending points, expire lapsed lots, evaluate tiers, send the
`points.expiring` notices, then the steps the apps above register
(`loyalty.hooks.daily_job_steps`). `run_daily_jobs` runs them all in one go (`daily_jobs_run`);
the periodic task `loyalty.tasks.daily_jobs` runs each step as its own job, in order
(`daily_step_names`, `daily_step_run`).

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
from loyalty.services.expiring import points_expiring_notify
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


def points_mature_and_expire(
    *,
    cutoff: dt.datetime,
    actor: Actor,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int, int]:
    """Mature and expire every lot due by `cutoff`, member by member in short transactions:
    (members, lots matured, lots expired)."""
    member_ids = _due_member_ids(cutoff)
    total = len(member_ids)
    can_skip = connection.features.has_select_for_update_skip_locked
    busy: list[int] = []
    matured = expired = done = 0
    for member_id in member_ids:
        result = _process_member(member_id, cutoff=cutoff, actor=actor, skip_locked=can_skip)
        if result is None:
            busy.append(member_id)
            continue
        matured += result[0]
        expired += result[1]
        done += 1
        if progress:
            progress(done, total)
    for member_id in busy:
        result = _process_member(member_id, cutoff=cutoff, actor=actor, skip_locked=False)
        matured += result[0]
        expired += result[1]
        done += 1
        if progress:
            progress(done, total)
    return total, matured, expired


# The steps after the points, in order: tier evaluation, the expiry notices, then the other
# apps' (`loyalty.hooks`).
POINTS_STEP = "points"
TIERS_STEP = "tiers"
EXPIRING_STEP = "points_expiring"


def daily_step_names() -> list[str]:
    """Every daily step, in the order they run: points, tiers, the expiry notices, then the
    registered ones."""
    names = [POINTS_STEP]
    if hasattr(tiers, "tier_evaluate_all"):
        names.append(TIERS_STEP)
    return [*names, EXPIRING_STEP, *(name for name, _ in hooks.daily_job_steps)]


def daily_step_run(
    *, name: str, as_of: dt.date, cutoff: dt.datetime, actor: Actor, full_tiers: bool = False
) -> int:
    """Run one daily step (a periodic job runs each on its own); how many things it did.
    `full_tiers`: the tier evaluation evaluates every member, not only those due."""
    if name == POINTS_STEP:
        _members, matured, expired = points_mature_and_expire(cutoff=cutoff, actor=actor)
        return matured + expired
    if name == TIERS_STEP:
        return tiers.tier_evaluate_all(as_of=as_of, actor=actor, full=full_tiers) or 0
    if name == EXPIRING_STEP:
        return points_expiring_notify(as_of=as_of, cutoff=cutoff)
    for step_name, step in hooks.daily_job_steps:
        if step_name == name:
            return step(as_of=as_of, cutoff=cutoff, actor=actor) or 0
    raise LookupError(f"no daily step {name!r} (steps: {daily_step_names()})")


def daily_jobs_run(
    *,
    as_of: dt.date | None = None,
    actor: Actor | None = None,
    progress: Callable[[int, int], None] | None = None,
    full_tiers: bool = False,
) -> DailyJobsReport:
    """Every daily step in one go (`run_daily_jobs`, for cron users and catching up).
    `full_tiers`: the tier evaluation evaluates every member, not only those due."""
    actor = actor or Actor.system("daily_jobs")
    cutoff = cutoff_for(as_of)
    report = DailyJobsReport(as_of=timezone.localdate(cutoff))
    report.members, report.matured_lots, report.expired_lots = points_mature_and_expire(
        cutoff=cutoff, actor=actor, progress=progress
    )
    for name in daily_step_names()[1:]:
        report.steps[name] = daily_step_run(
            name=name, as_of=report.as_of, cutoff=cutoff, actor=actor, full_tiers=full_tiers
        )
    return report
