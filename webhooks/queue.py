"""Deferring delivery jobs (one job per delivery, on the `webhooks` queue).

Called inside the transaction that wrote the delivery: the job exists if and only if the delivery
does. Placeholder until the job engine lands: runs the job right after commit, in-process.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction


def delivery_defer(delivery_id: int, *, at: dt.datetime | None = None) -> None:
    if at is not None:
        return  # picked up by `deliveries_retry_due` when due
    from webhooks.tasks import deliver

    transaction.on_commit(lambda: deliver(delivery_id=delivery_id))
