"""Webhook jobs, all on the `webhooks` queue.

- `deliver_batch(delivery_ids=)`: the first attempts of a batch of new deliveries to one
  endpoint, one after the other, under one of the endpoint's slots (`webhooks.queue`).
- `deliver(delivery_id=)`: one delivery (retries, replays, the safety net). Both are idempotent:
  a delivery no longer pending, or not yet due, is left alone.
- `dispatch`: the dispatcher, a periodic job (`WEBHOOKS_DISPATCH_CRON`, every minute) that
  reads the outbox for `WEBHOOKS_DISPATCH_SECONDS` (60 s), pausing
  `WEBHOOKS_DISPATCH_POLL_SECONDS` (0.2 s) whenever it has caught up: one job a minute rather
  than one a second (finished jobs are kept for days), and events fanned out within a fraction of
  a second. The next minute's job starts as this one ends (they may overlap by a moment: a pass
  that finds the cursor's row locked by the other returns at once); the queueing lock keeps at
  most one waiting.
- `retry_overdue`: every minute, a job for each pending delivery overdue by a minute (the
  safety net for a lost job; retries are deferred with their delay by the attempt itself).

Inline (SQLite) jobs run in-process after commit and periodic jobs do not run:
`manage.py webhooks_dispatch` stands in for the last two (docs/webhooks.md).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from procrastinate.contrib.django import app

import jobs
from webhooks import services

OVERDUE = dt.timedelta(minutes=1)


@jobs.task(queue="webhooks", name="webhooks.deliver")
def deliver(*, delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


@jobs.task(queue="webhooks", name="webhooks.deliver_batch")
def deliver_batch(*, delivery_ids: list[int]) -> None:
    services.deliveries_attempt(delivery_ids=delivery_ids)


@app.periodic(cron=settings.WEBHOOKS_DISPATCH_CRON, periodic_id="webhooks-dispatch")
@jobs.task(
    queue="webhooks",
    name="webhooks.dispatch",
    queueing_lock="webhooks.dispatch",
    retry=False,
)
def dispatch(*, timestamp: int | None = None) -> int:
    return services.events_dispatch_for(
        seconds=settings.WEBHOOKS_DISPATCH_SECONDS, pause=settings.WEBHOOKS_DISPATCH_POLL_SECONDS
    )


@app.periodic(cron="* * * * *", periodic_id="webhooks-retry-overdue")
@jobs.task(
    queue="webhooks",
    name="webhooks.retry_overdue",
    queueing_lock="webhooks.retry_overdue",
    retry=False,
)
def retry_overdue(*, timestamp: int | None = None) -> int:
    return services.deliveries_retry_due(now=timezone.now() - OVERDUE)
