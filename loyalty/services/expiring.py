"""The daily `points.expiring` notices: one event per member whose available points expire in
the next `POINTS_EXPIRING_NOTICE_DAYS` days (a setting; 0: none), so that an app can say "your
points expire Friday".

Set-based: one aggregate of the lots per batch of members, one counter upsert and one INSERT
(`events.services.events_record`), each batch its own short transaction; no account lock (a
notice changes no balance; the member's counter row orders it among their events). Once per
member and horizon: a second run of the same day (a catch-up, two machines) finds the notices
already written and writes none (a partial unique index backs it up).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from events.models import Event, EventType
from events.services import NewEvent, events_record
from loyalty.models import Lot
from members.models import Member

BATCH = 1000


def points_expiring_notify(*, as_of: dt.date, cutoff: dt.datetime, actor=None) -> int:
    """Write the day's notices (a `loyalty.hooks.daily_job_steps` step); returns how many.

    The horizon is the end of day `as_of + N` (program time zone): a notice sums the available
    points of the lots that expire after `cutoff` and by then.
    """
    days = settings.POINTS_EXPIRING_NOTICE_DAYS
    if days <= 0:
        return 0
    expires_by = as_of + dt.timedelta(days=days)
    horizon = timezone.make_aware(dt.datetime.combine(expires_by, dt.time.max))
    expiring = (
        Lot.objects.filter(
            matured=True, remaining__gt=0, expires_at__gt=cutoff, expires_at__lte=horizon
        )
        .exclude(member__status=Member.Status.ERASED)
        .values("member_id", "member__external_id")
        .annotate(points=Sum("remaining"))
        .order_by("member_id")
    )
    written, after = 0, 0
    while True:
        batch = list(expiring.filter(member_id__gt=after)[:BATCH])
        if not batch:
            return written
        after = batch[-1]["member_id"]
        with transaction.atomic():
            told = set(
                Event.objects.filter(
                    type=EventType.POINTS_EXPIRING,
                    member_id__in=[row["member_id"] for row in batch],
                    payload__expires_by=expires_by.isoformat(),
                ).values_list("member_id", flat=True)
            )
            written += len(
                events_record(
                    events=[
                        NewEvent(
                            type=EventType.POINTS_EXPIRING,
                            member_id=row["member_id"],
                            member_external_id=row["member__external_id"],
                            payload={
                                "points": row["points"],
                                "expires_by": expires_by,
                                "within_days": days,
                            },
                        )
                        for row in batch
                        if row["member_id"] not in told
                    ]
                )
            )
