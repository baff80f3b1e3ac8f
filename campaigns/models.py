"""Campaigns: rules that award bonus points, and the record of every award.

Invariants:
- [db] an award happens once per (campaign, member, reference): the reference names what it was
  for ("order:O-1", "birthday:2026", "review:R-9", "referral:42:referrer").
- [db] `points_awarded` never exceeds `budget_points`; it is raised only under the campaign's row
  lock, in the same transaction as the award's ledger posting, so it equals Σ awards.points.
- [db] a member is referred at most once (`Referral.referee` is unique).
- Every award is its own ledger posting (kind `campaign_bonus`) carrying the campaign's code.
"""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models import Order, Posting
from members.models import Member

# ISO weekdays as staff read them (the `weekdays` field holds the numbers).
WEEKDAYS = (
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
)


class Campaign(models.Model):
    class Kind(models.TextChoices):
        MULTIPLIER = "multiplier", "Points multiplier on orders"
        ACTION = "action", "Fixed bonus for an action"
        REFERRAL = "referral", "Referral: give X, get Y"

    class Action(models.TextChoices):
        SIGNUP = "signup", "Sign-up"
        FIRST_ORDER = "first_order", "First order"
        BIRTHDAY = "birthday", "Birthday"
        ANNIVERSARY = "anniversary", "Membership anniversary"
        REVIEW = "review", "Product review"
        SOCIAL_FOLLOW = "social_follow", "Social follow"
        NEWSLETTER_SIGNUP = "newsletter_signup", "Newsletter sign-up"
        PROFILE_COMPLETED = "profile_completed", "Profile completed"
        FEEDBACK = "feedback", "Feedback submitted (any score)"
        CUSTOM = "custom", "Custom action (storefront code)"

    class RefereeTrigger(models.TextChoices):
        SIGNUP = "signup", "On sign-up"
        FIRST_ORDER = "first_order", "On first order"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    tiers = models.ManyToManyField(
        "loyalty.Tier",
        blank=True,
        related_name="campaigns",
        help_text="Only members of these tiers; none selected means everyone.",
    )
    budget_points = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most points the campaign may award in all; empty: no cap."
    )
    points_awarded = models.PositiveIntegerField(default=0, editable=False)
    per_member_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most awards one member may receive; empty: no limit."
    )
    # Multiplier campaigns.
    multiplier = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("2.00"),
        help_text="Orders earn base points × this; the bonus is the part above ×1.",
    )
    weekdays = models.JSONField(
        default=list, blank=True, help_text="ISO weekdays 1 (Monday) to 7 (Sunday); empty: any."
    )
    day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The monthly member day (1–31); empty: any day."
    )
    categories = models.JSONField(
        default=list, blank=True, help_text="Only order items of these categories; empty: all."
    )
    # Action campaigns.
    action = models.CharField(max_length=32, choices=Action.choices, blank=True)
    action_code = models.SlugField(
        max_length=64, blank=True, help_text="For custom actions: the code the storefront sends."
    )
    points = models.PositiveIntegerField(default=0, help_text="Points per action award.")
    # Referral campaigns.
    referee_points = models.PositiveIntegerField(default=0, help_text="X: the new member gets.")
    referee_trigger = models.CharField(
        max_length=16, choices=RefereeTrigger.choices, default=RefereeTrigger.FIRST_ORDER
    )
    referrer_points = models.PositiveIntegerField(default=0, help_text="Y: the referrer gets.")
    monthly_referral_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most rewarded referrals per referrer per month."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget_points__isnull=True) | Q(points_awarded__lte=F("budget_points")),
                name="campaign_within_budget",
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gte=1), name="campaign_multiplier_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(day_of_month__isnull=True)
                | (Q(day_of_month__gte=1) & Q(day_of_month__lte=31)),
                name="campaign_day_of_month_valid",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="campaign_window_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["multiplier", "action", "referral"]),
                name="campaign_kind_valid",
            ),
        ]
        indexes = [models.Index(fields=["kind", "is_active"], name="campaign_kind_active_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def budget_left(self) -> int | None:
        if self.budget_points is None:
            return None
        return self.budget_points - self.points_awarded

    def action_key(self) -> str:
        """What the storefront sends as the activity `type` for this campaign."""
        return self.action_code if self.action == self.Action.CUSTOM else self.action


class CampaignAward(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="awards")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="campaign_awards")
    posting = models.OneToOneField(Posting, on_delete=models.PROTECT, related_name="award")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="campaign_awards"
    )
    points = models.PositiveIntegerField()
    reference = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member", "reference"], name="award_once_per_reference"
            ),
            models.CheckConstraint(condition=Q(points__gt=0), name="award_points_positive"),
        ]
        indexes = [models.Index(fields=["campaign", "member"], name="award_campaign_member_idx")]

    def __str__(self) -> str:
        return f"{self.campaign.code} → {self.member_id}: {self.points}"


class Referral(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the first order to clear"
        REWARDED = "rewarded", "Referrer rewarded"
        REJECTED = "rejected", "Rejected"

    referrer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="referrals_made")
    referee = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="referral")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=200, blank=True)
    first_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status"], name="referral_status_idx"),
            models.Index(fields=["referrer", "decided_at"], name="referral_referrer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referee_id} ({self.status})"
