"""Feedback's part in the member's privacy (`members.erasure`, `members.access`): on erasure the
comments are blanked (`feedback_forget`, registered in `feedback.apps`; the scores stay for the
program's figures), and the subject-access export carries the member's feedback (one query)."""

from __future__ import annotations

from feedback.models import Feedback
from members.access import rows
from members.models import Member


def feedback_section(*, member: Member) -> list[dict]:
    feedback = Feedback.objects.filter(member=member).order_by("created_at", "pk")
    return rows(
        feedback, ("scale", "score", "comment", "channel", "created_at"), order_id="order__order_id"
    )
