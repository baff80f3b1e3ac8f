"""Member feedback: a satisfaction score (NPS 0–10 or CSAT 1–5), a comment, optionally an order.

Invariants (database constraints): the score is within its scale's range; an order, when given,
is the member's own (checked by `feedback_record`). Feedback is kept after an erasure (the score
still counts in the program's figures) but its comment is blanked: a comment is free text a
member wrote, so it may hold anything personal.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models import Order
from members.models import ActorFields, Member


class FeedbackScale(models.TextChoices):
    NPS = "nps", _("Net Promoter Score (0–10)")
    CSAT = "csat", _("Satisfaction (1–5)")


# The score range of each scale (inclusive); the check constraint states the same.
SCALE_RANGES = {FeedbackScale.NPS: (0, 10), FeedbackScale.CSAT: (1, 5)}

# NPS bands (Bain & Company's definition): 0–6 detractors, 7–8 passives, 9–10 promoters.
DETRACTOR_MAX = 6
PROMOTER_MIN = 9


class Feedback(ActorFields):
    Scale = FeedbackScale

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="feedback", verbose_name=_("member")
    )
    scale = models.CharField(_("scale"), max_length=4, choices=FeedbackScale.choices)
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("order"),
    )
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("submitted at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.CheckConstraint(
                condition=(Q(scale=FeedbackScale.NPS) & Q(score__gte=0) & Q(score__lte=10))
                | (Q(scale=FeedbackScale.CSAT) & Q(score__gte=1) & Q(score__lte=5)),
                name="feedback_score_in_scale",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="feedback_member_idx"),
            models.Index(fields=["scale", "created_at"], name="feedback_scale_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_scale_display()} {self.score}"

    @property
    def nps_band(self) -> str | None:
        """`detractor`, `passive` or `promoter` for an NPS score; None for CSAT."""
        if self.scale != FeedbackScale.NPS:
            return None
        if self.score <= DETRACTOR_MAX:
            return "detractor"
        return "promoter" if self.score >= PROMOTER_MIN else "passive"
