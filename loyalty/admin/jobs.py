"""The "Jobs & workers" admin page: the daily jobs' last run, next run and failures, the queues
and the workers (Operators: `loyalty.run_jobs`).

A thin reader of `jobs.selectors`. On SQLite there is no queue: the page says how jobs run there
(in-process after commit; the daily jobs by `run_daily_jobs` from cron) and shows the schedule.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.schedule import next_daily_run
from jobs.selectors import RunSummary, queue_available, queues, runs_by_arg, workers
from loyalty.services.jobs import daily_step_names

PERMISSION = "loyalty.run_jobs"
STEP_TASK = "loyalty.tasks.daily_step"
FAILURE_WINDOW = dt.timedelta(days=30)

STEP_LABELS = {
    "points": _("Mature and expire points"),
    "tiers": _("Evaluate tiers"),
    "points_expiring": _("Notices of points about to expire"),
    "expire_coupons": _("Expire coupons"),
    "idempotency_purge": _("Purge stored API answers"),
    "birthdays_anniversaries": _("Birthday and anniversary bonuses"),
    "referral_rewards": _("Referral rewards"),
    "paid_memberships": _("Paid memberships: past due and expired"),
}


def jobs_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    now = timezone.now()
    has_queue = queue_available()
    runs = (
        runs_by_arg(task_name=STEP_TASK, arg="step", since=now - FAILURE_WINDOW)
        if has_queue
        else {}
    )
    steps = [
        {"name": name, "label": STEP_LABELS.get(name, name), "run": runs.get(name, RunSummary())}
        for name in daily_step_names()
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("Jobs & workers"),
        "has_queue": has_queue,
        "daily_at": settings.DAILY_JOBS_AT,
        "time_zone": settings.TIME_ZONE,
        "next_run": next_daily_run(now),
        "steps": steps,
        "failure_days": FAILURE_WINDOW.days,
        "queues": queues() if has_queue else [],
        "workers": workers() if has_queue else [],
        "can_browse_jobs": has_queue
        and request.user.has_perm("procrastinate.view_procrastinatejob"),
    }
    return TemplateResponse(request, "admin/loyalty/jobs.html", context)
