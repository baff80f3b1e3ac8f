"""Writes of idempotency records: store an answer in its work's transaction; purge old ones.

Invariants: a record is stored inside the transaction of the work it answers for (asserted), so
it commits with that work or not at all; records are kept at least 24 hours (the API contract)
and purged in short batches, never under a long lock on a table every idempotent request writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.utils import timezone

from idempotency.models import IdempotencyRecord

# The storefront contract keeps idempotent responses at least this long (docs/api.md).
IDEMPOTENCY_RETENTION = dt.timedelta(hours=24)
IDEMPOTENCY_PURGE_BATCH = 5000


def idempotency_record_store(
    *, api_key_id: str, key: str, endpoint: str, fingerprint: str, status: int, body: Any
) -> IdempotencyRecord:
    """Store the answer to an idempotent request. A primitive: it must share the work's transaction.

    The unique (api_key, key) constraint is the last line of defence against two twins both
    running: the second insert fails and takes its whole transaction (the work) down with it.
    """
    assert connection.in_atomic_block, "store the idempotency record in the work's transaction"
    return IdempotencyRecord.objects.create(
        api_key_id=api_key_id,
        key=key,
        endpoint=endpoint,
        fingerprint=fingerprint,
        response_status=status,
        response_body=body,
    )


def idempotency_purge(
    *, older_than: dt.timedelta = IDEMPOTENCY_RETENTION, now: dt.datetime | None = None
) -> int:
    """Delete idempotency records older than `older_than` (at least 24 hours); return how many.

    Deletes in batches, each its own short transaction, so the daily job never holds a long lock
    on a table every idempotent request writes to.
    """
    if older_than < IDEMPOTENCY_RETENTION:
        raise ValueError("idempotency records are kept at least 24 hours (the API contract)")
    cutoff = (now or timezone.now()) - older_than
    purged = 0
    while True:
        batch = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:IDEMPOTENCY_PURGE_BATCH]
        )
        if not batch:
            return purged
        purged += IdempotencyRecord.objects.filter(pk__in=batch).delete()[0]
