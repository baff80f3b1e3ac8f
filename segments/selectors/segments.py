"""Who is in a segment: the audience selectors campaigns, rewards and messages use.

A dynamic segment is evaluated when used (its conditions compiled to one query, `compiler`); a
frozen segment is the snapshot written when it was frozen. Either way only active members are
in it. `segment_member_ids` and `segment_members` are the selectors other apps call;
`segment_contains` answers for one member with one indexed query.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from members.models import Member
from segments.compiler import conditions_q, segment_base
from segments.conditions import conditions_validate
from segments.models import Segment, SegmentMember

SAMPLE_SIZE = 20


def conditions_members(conditions: dict, *, now: dt.datetime | None = None) -> QuerySet[Member]:
    """The active members a (valid) tree selects, as of `now`."""
    return segment_base().filter(conditions_q(conditions, now=now or timezone.now()))


def segment_members(segment: Segment, *, now: dt.datetime | None = None) -> QuerySet[Member]:
    if segment.kind == Segment.Kind.FROZEN:
        snapshot = SegmentMember.objects.filter(segment_id=segment.pk).values("member_id")
        return Member.objects.filter(status=Member.Status.ACTIVE, pk__in=snapshot)
    return conditions_members(segment.conditions, now=now)


def segment_member_ids(segment: Segment, *, now: dt.datetime | None = None) -> QuerySet:
    """The members' ids (a queryset of ints: iterate it, or use it as a subquery)."""
    return segment_members(segment, now=now).order_by("pk").values_list("pk", flat=True)


def segment_contains(segment: Segment, *, member_id: int, now: dt.datetime | None = None) -> bool:
    return segment_members(segment, now=now).filter(pk=member_id).exists()


def conditions_preview(conditions, *, now: dt.datetime | None = None) -> dict:
    """The admin builder's live answer: the count and a sample, or the validation error."""
    tree = conditions_validate(conditions)
    members = conditions_members(tree, now=now)
    sample = list(
        members.order_by("pk").values("pk", "external_id", "first_name", "last_name")[:SAMPLE_SIZE]
    )
    return {"count": members.count(), "sample": sample}


def segment_id_contains(*, segment_id: int, member_id: int, now: dt.datetime | None = None) -> bool:
    """`segment_contains` for a segment known by id, read afresh (its conditions may have
    changed since a caller cached the object that names it): two queries."""
    segment = Segment.objects.filter(pk=segment_id).first()
    return segment is not None and segment_contains(segment, member_id=member_id, now=now)
