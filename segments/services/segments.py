"""Writes of segments: create and change (the tree validated first), freeze a snapshot, the
nightly count, and the bulk award of points to a segment's members.

Invariants:
- A saved tree always passed `conditions_validate` (the tree stored is the normalised one).
- Freezing writes the snapshot set-based (one INSERT … SELECT) in the transaction that marks
  the segment frozen; a frozen segment's members never change afterwards.
- A bulk award is idempotent by its key: a second run with the same key finds its
  `SegmentAward` and awards nothing more. Each member's points go through the adjustment
  service (`loyalty.services.adjustments.adjustment_request`) under the staff user, so its daily
  limit and four-eyes rule apply per member (beyond the limit the adjustment is held for a
  Supervisor), each with its own idempotency key `segment:<key>:<member id>`.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import ServiceError
from loyalty.services.adjustments import adjustment_request
from members.actors import Actor
from segments.conditions import conditions_validate
from segments.models import Segment, SegmentAward, SegmentMember
from segments.selectors.segments import conditions_members, segment_members


def segment_save(*, segment: Segment, actor: Actor) -> Segment:
    """Create or change a segment; its conditions are validated and normalised first."""
    segment.conditions = conditions_validate(segment.conditions)
    with transaction.atomic():
        if segment.pk is None and actor.user_id:
            segment.created_by_id = actor.user_id
        segment.save()
    return segment


def segment_delete(*, segment: Segment, actor: Actor) -> None:
    """Delete a segment; `ProtectedError` when a campaign, reward or message kind uses it (then
    nothing changes: its own savepoint)."""
    with transaction.atomic():
        Segment.objects.filter(pk=segment.pk).delete()


def segment_freeze(*, segment: Segment, now: dt.datetime | None = None) -> int:
    """Snapshot who the conditions select now; the segment becomes frozen. Members written."""
    now = now or timezone.now()
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        if segment.kind == Segment.Kind.FROZEN and segment.frozen_at is not None:
            raise ServiceError("segment_frozen", gettext("This segment is already frozen."))
        ids = conditions_members(segment.conditions, now=now).annotate(mid=F("pk")).values("mid")
        sql, params = ids.query.sql_with_params()
        table = SegmentMember._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (segment_id, member_id) SELECT %s, t.mid FROM ({sql}) t",
                [segment.pk, *params],
            )
        count = SegmentMember.objects.filter(segment_id=segment.pk).count()
        Segment.objects.filter(pk=segment.pk).update(
            kind=Segment.Kind.FROZEN, frozen_at=now, member_count=count, evaluated_at=now
        )
    return count


def segments_count_daily(*, as_of: dt.date, cutoff: dt.datetime, actor) -> int:
    """The daily step: every segment's member count as of the refresh (segments counted)."""
    done = 0
    for segment in Segment.objects.order_by("pk"):
        count = segment_members(segment, now=cutoff).count()
        Segment.objects.filter(pk=segment.pk).update(member_count=count, evaluated_at=cutoff)
        done += 1
    return done


def segment_award_points(
    *, segment: Segment, points: int, reason: str, key: str, actor: Actor
) -> SegmentAward:
    """Award `points` to every member of the segment, once per `key` (see module)."""
    if not reason.strip():
        raise ServiceError(
            "validation_error", gettext("A reason is required."), field="reason", status=400
        )
    with transaction.atomic():
        award, created = SegmentAward.objects.get_or_create(
            key=key,
            defaults={
                "segment": segment,
                "points": points,
                "reason": reason,
                "actor_label": actor.label,
            },
        )
    if not created and award.members + award.requested > 0:
        return award
    members = requested = 0
    for member in segment_members(segment).order_by("pk").iterator(chunk_size=500):
        outcome = adjustment_request(
            member=member,
            points=points,
            reason=reason,
            actor=actor,
            idempotency_key=f"segment:{key}:{member.pk}",
        )
        if outcome.request is not None:
            requested += 1
        else:
            members += 1
    SegmentAward.objects.filter(pk=award.pk).update(members=members, requested=requested)
    award.members, award.requested = members, requested
    return award
