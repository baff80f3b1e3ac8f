"""Deferring delivery jobs: `webhooks.tasks.deliver_batch` for the first attempts of new
deliveries (one job per batch of up to `WEBHOOKS_DELIVERY_BATCH` deliveries to one endpoint), and
`webhooks.tasks.deliver` for one delivery (a retry, a replay, the safety net).

Called inside the transaction that wrote the delivery or its last attempt: the job is deferred in
that transaction (`jobs.defer` writes it on Django's connection, inside a worker too), so it
exists exactly when the delivery does. `deliveries_retry_due`, every minute, gives any pending
delivery that has no job one (a safety net).

- A first attempt runs under one of `WEBHOOKS_ENDPOINT_CONCURRENCY` locks of its endpoint: a
  hanging endpoint holds at most that many of the workers' slots, never all of them.
- New deliveries go in batches: a job costs its own fetch, its own finish and their commits,
  which at one job per delivery was most of a delivery's cost (17 deliveries/s per worker). A
  batch is sent one delivery after the other by one job, each recorded as it is sent; a batch
  holds one slot, as one delivery did.
- A retry is deferred with its delay, without the endpoint's lock (a waiting job holds its lock
  for every later job that shares it, and a retry may wait hours), and with a queueing lock per
  delivery, so the safety net re-deferring it (`unique=True`) finds the waiting job and adds
  none. Inline a delayed job would run at commit, before it is due: it is left to
  `deliveries_retry_due` (`manage.py webhooks_dispatch`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

import jobs
from jobs.api import runs_inline


def delivery_defer(
    delivery_id: int,
    *,
    endpoint_id: int | None = None,
    at: dt.datetime | None = None,
    unique: bool = False,
) -> None:
    from webhooks.tasks import deliver

    delay = lock = queueing_lock = None
    if runs_inline():
        if at is not None:
            return
        # Runs right after the commit: nothing waits, so there is nothing to lock.
    elif at is not None or unique:
        if at is not None:
            delay = max(at - timezone.now(), dt.timedelta(0))
        queueing_lock = f"webhooks.deliver.{delivery_id}"
    elif endpoint_id is not None:
        slot = delivery_id % max(settings.WEBHOOKS_ENDPOINT_CONCURRENCY, 1)
        lock = f"webhooks.endpoint.{endpoint_id}.{slot}"
    jobs.defer(
        deliver,
        lock=lock,
        queueing_lock=queueing_lock,
        schedule_in=delay,
        delivery_id=delivery_id,
    )


def deliveries_defer(delivery_ids: list[int], *, endpoint_id: int) -> None:
    """Defer the first attempts of new deliveries to one endpoint, in batches (see above)."""
    from webhooks.tasks import deliver_batch

    size = max(settings.WEBHOOKS_DELIVERY_BATCH, 1)
    slots = max(settings.WEBHOOKS_ENDPOINT_CONCURRENCY, 1)
    inline = runs_inline()
    for start in range(0, len(delivery_ids), size):
        batch = delivery_ids[start : start + size]
        lock = None if inline else f"webhooks.endpoint.{endpoint_id}.{batch[0] % slots}"
        jobs.defer(deliver_batch, lock=lock, delivery_ids=batch)
