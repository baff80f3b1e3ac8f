"""Adjustment requests: a customer-service adjustment over the agent's limits, waiting for a
Supervisor.

An agent's adjustment within their limits is posted at once (`loyalty.services.adjustments`); one
over them is not refused but kept here as `pending` until a Supervisor other than the requester
approves it (the points are posted then, by the approver, and the request keeps the posting) or
rejects it with a note. Rows are written only by `loyalty.services.adjustments`; the admin reads.

Invariants (database-enforced where marked [db]):
- [db] points ≠ 0; status is one of pending / approved / rejected.
- [db] pending ⇔ not decided (no decider, no decision time); approved ⇔ it has its posting.
- [db] four-eyes: whoever decided is not who requested.
- [db] a posting belongs to at most one request; an idempotency key to at most one request.
- A decision is final: only a pending request is decided, under its row lock.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member


class AdjustmentRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="adjustment_requests",
        verbose_name=_("member"),
    )
    points = models.IntegerField(verbose_name=_("points"))
    reason = models.CharField(max_length=500, verbose_name=_("reason"))
    # Why it was not posted at once (which limit it went over), as the agent was told.
    held_because = models.CharField(max_length=255, blank=True, verbose_name=_("held because"))
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    # Users are referenced with their username kept as a label, so the record still reads well
    # after an account is deleted (as `ActorFields` does for postings).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="adjustment_requests_made",
        verbose_name=_("requested by"),
    )
    requested_by_label = models.CharField(max_length=150, verbose_name=_("requested by label"))
    requested_at = models.DateTimeField(default=timezone.now, verbose_name=_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="adjustment_requests_decided",
        verbose_name=_("decided by"),
    )
    decided_by_label = models.CharField(
        max_length=150, blank=True, verbose_name=_("decided by label")
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    decision_note = models.CharField(max_length=500, blank=True, verbose_name=_("decision note"))
    posting = models.OneToOneField(
        "loyalty.Posting",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustment_request",
        verbose_name=_("posting"),
    )
    idempotency_key = models.CharField(
        max_length=255, unique=True, null=True, blank=True, verbose_name=_("idempotency key")
    )

    class Meta:
        verbose_name = _("adjustment request")
        verbose_name_plural = _("adjustment requests")
        ordering = ["-requested_at", "-id"]
        # Requests are made and decided through services only: no add/change/delete permission
        # exists to hand out; deciding is `loyalty.approve_adjustment`.
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="adjreq_points_nonzero"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected"]),
                name="adjreq_status_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="pending", decided_at__isnull=True, decided_by_label="")
                    | (~Q(status="pending") & Q(decided_at__isnull=False) & ~Q(decided_by_label=""))
                ),
                name="adjreq_decided_iff_not_pending",
            ),
            models.CheckConstraint(
                condition=Q(status="approved", posting__isnull=False)
                | (~Q(status="approved") & Q(posting__isnull=True)),
                name="adjreq_approved_iff_posted",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(requested_by__isnull=True)
                | ~Q(decided_by=F("requested_by")),
                name="adjreq_four_eyes",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="adjreq_status_idx"),
            models.Index(fields=["member", "-requested_at"], name="adjreq_member_idx"),
        ]

    def __str__(self) -> str:
        # The member as staff know them (external id and name), never the internal row id.
        return f"request #{self.pk}: {self.points:+d} for {self.member} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
