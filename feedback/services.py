"""Recording member feedback, and forgetting its text on erasure.

`feedback_record` runs inside the caller's transaction when there is one (the API's idempotent
view), so the feedback and any campaign award for it commit together. The order, when named,
must be the member's own: feedback about someone else's order is refused, not silently attached.
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

from django.db import transaction
from django.utils import timezone

from config.errors import NotFound, ServiceError
from feedback.models import SCALE_RANGES, Feedback, FeedbackScale
from loyalty.models import Order
from members.actors import Actor
from members.models import Member


def feedback_record(
    *,
    member: Member,
    scale: str,
    score: int,
    actor: Actor,
    comment: str = "",
    order_id: str | None = None,
    channel: str = "",
    now: dt.datetime | None = None,
) -> Feedback:
    """Store one piece of feedback. `validation_error` 400 naming `score` when it is outside the
    scale; `order_not_found` 404 when the order is unknown or another member's."""
    if scale not in SCALE_RANGES:
        raise ServiceError(
            "validation_error",
            "scale must be nps or csat.",
            status=HTTPStatus.BAD_REQUEST,
            field="scale",
        )
    low, high = SCALE_RANGES[FeedbackScale(scale)]
    if not low <= score <= high:
        raise ServiceError(
            "validation_error",
            f"A {scale} score is {low} to {high}.",
            status=HTTPStatus.BAD_REQUEST,
            field="score",
        )
    order = None
    if order_id:
        order = Order.objects.filter(order_id=order_id, member_id=member.pk).first()
        if order is None:
            raise NotFound("order_not_found", f"The member has no order {order_id}.")
    with transaction.atomic():
        return Feedback.objects.create(
            member=member,
            scale=scale,
            score=score,
            comment=comment,
            order=order,
            channel=channel,
            created_at=now or timezone.now(),
            **actor.as_fields(),
        )


def feedback_forget(*, member_id: int) -> int:
    """Blank the member's feedback comments (erasure); the scores stay for the figures."""
    return Feedback.objects.filter(member_id=member_id).exclude(comment="").update(comment="")
