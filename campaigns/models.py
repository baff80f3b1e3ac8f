"""Campaigns: rules that award bonus points, and the record of every award.

Invariants:
- [db] an award happens once per (campaign, member, reference): the reference names what it was
  for ("order:O-1", "birthday:2026", "review:R-9", "referral:42:referrer").
- A campaign's points awarded are Σ awards.points (`campaigns.selectors.campaign_points_awarded`):
  no counter on the campaign row, so an award without a budget writes no shared row at all.
- A budget is split into `CampaignBudgetStripe` rows (`campaigns.services.budget`):
  Σ stripes.budget_points = the campaign's `budget_points`, and each stripe's `points_awarded` is
  raised in the award's transaction under that stripe's row lock only. [db] a stripe never
  awards past its own budget, so the campaign never awards past its budget; Σ stripes'
  points_awarded = Σ awards.points (`campaign_budgets_audit` checks both sums).
- [db] a member is referred at most once (`Referral.referee` is unique).
- Every award is its own ledger posting (kind `campaign_bonus`) carrying the campaign's code.
- A campaign's gift (`gift_reward`) is a coupon recorded as a redemption whose cause is the
  campaign (`gift_cause` = `campaign:<code>`), once per (campaign, member, reference) by its key.
- A campaign with `holdout_percent` > 0 gives no bonus to the members its hash holds out
  (`campaigns.holdout`); [db] one `CampaignHoldout` row per (campaign, member) records it.
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
        MULTIPLIER = "multiplier", _("Points multiplier on orders")
        ACTION = "action", _("Fixed bonus for an action")
        REFERRAL = "referral", _("Referral: give X, get Y")

    class Action(models.TextChoices):
        SIGNUP = "signup", _("Sign-up")
        FIRST_ORDER = "first_order", _("First order")
        BIRTHDAY = "birthday", _("Birthday")
        ANNIVERSARY = "anniversary", _("Membership anniversary")
        REVIEW = "review", _("Product review")
        SOCIAL_FOLLOW = "social_follow", _("Social follow")
        NEWSLETTER_SIGNUP = "newsletter_signup", _("Newsletter sign-up")
        PROFILE_COMPLETED = "profile_completed", _("Profile completed")
        FEEDBACK = "feedback", _("Feedback submitted (any score)")
        TIER_ENTRY = "tier_entry", _("Tier reached (once per tier and year)")
        CUSTOM = "custom", _("Custom action (storefront code)")

    class RefereeTrigger(models.TextChoices):
        SIGNUP = "signup", _("On sign-up")
        FIRST_ORDER = "first_order", _("On first order")

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=150, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    starts_at = models.DateTimeField(default=timezone.now, verbose_name=_("starts at"))
    ends_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ends at"))
    tiers = models.ManyToManyField(
        "loyalty.Tier",
        blank=True,
        related_name="campaigns",
        help_text=_("Only members of these tiers; none selected means everyone."),
        verbose_name=_("tiers"),
    )
    # An audience beside the tiers: a member must be in both (the segment evaluated when the
    # campaign applies, `segments.selectors.segments.segment_id_contains`).
    segment = models.ForeignKey(
        "segments.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Only members in this segment (and in the tiers above, if any)."),
        verbose_name=_("segment"),
    )
    budget_points = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Most points the campaign may award in all; empty: no cap."),
        verbose_name=_("budget points"),
    )
    per_member_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Most awards one member may receive; empty: no limit."),
        verbose_name=_("per member limit"),
    )
    # Multiplier campaigns.
    multiplier = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("2.00"),
        help_text=_("Orders earn base points × this; the bonus is the part above ×1."),
        verbose_name=_("multiplier"),
    )
    weekdays = models.JSONField(
        default=list,
        blank=True,
        help_text=_("ISO weekdays 1 (Monday) to 7 (Sunday); empty: any."),
        verbose_name=_("weekdays"),
    )
    day_of_month = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_("The monthly member day (1–31); empty: any day."),
        verbose_name=_("day of month"),
    )
    categories = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Only order items of these categories; empty: all."),
        verbose_name=_("categories"),
    )
    # Action campaigns.
    action = models.CharField(
        max_length=32, choices=Action.choices, blank=True, verbose_name=_("action")
    )
    action_code = models.SlugField(
        max_length=64,
        blank=True,
        help_text=_("For custom actions: the code the storefront sends."),
        verbose_name=_("action code"),
    )
    points = models.PositiveIntegerField(
        default=0, help_text=_("Points per action award."), verbose_name=_("points")
    )
    # Referral campaigns.
    referee_points = models.PositiveIntegerField(
        default=0, help_text=_("X: the new member gets."), verbose_name=_("referee points")
    )
    referee_trigger = models.CharField(
        max_length=16,
        choices=RefereeTrigger.choices,
        default=RefereeTrigger.FIRST_ORDER,
        verbose_name=_("referee trigger"),
    )
    referrer_points = models.PositiveIntegerField(
        default=0, help_text=_("Y: the referrer gets."), verbose_name=_("referrer points")
    )
    monthly_referral_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Most rewarded referrals per referrer per month."),
        verbose_name=_("monthly referral limit"),
    )
    # A gift beside (or instead of) the points: one coupon of this reward per award, drawn on its
    # stock with no points spent (`campaigns.services.gifts`); a referral's goes to the referrer.
    gift_reward = models.ForeignKey(
        "rewards.Reward",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "A coupon of this reward given with each award, from its stock, no points spent "
            "(actions and referrals; a referral's goes to the referrer)."
        ),
        verbose_name=_("gift reward"),
    )
    # Measured lift: a share of the targeted members gets no bonus (`campaigns.holdout`).
    holdout_percent = models.PositiveSmallIntegerField(
        default=0,
        help_text=_(
            "Share of the targeted members held out to measure the campaign's lift: they get no "
            "bonus (0–50; 0: none). Who is held out is fixed by member and campaign."
        ),
        verbose_name=_("holdout percent"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_at", "code"]
        constraints = [
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
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="campaign_holdout_percent_valid"
            ),
        ]
        indexes = [models.Index(fields=["kind", "is_active"], name="campaign_kind_active_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def action_key(self) -> str:
        """What the storefront sends as the activity `type` for this campaign."""
        return self.action_code if self.action == self.Action.CUSTOM else self.action


class CampaignBudgetStripe(models.Model):
    """One share of a campaign's budget. Orders of different members award from different
    stripes (`member_id % stripes`), so they never wait for each other's row lock; a stripe that
    cannot cover an award sends it to the others (`campaigns.services.budget`)."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="budget_stripes",
        verbose_name=_("campaign"),
    )
    stripe = models.PositiveSmallIntegerField(verbose_name=_("stripe"))
    budget_points = models.PositiveIntegerField(verbose_name=_("budget points"))
    points_awarded = models.PositiveIntegerField(default=0, verbose_name=_("points awarded"))

    class Meta:
        verbose_name = _("campaign budget stripe")
        verbose_name_plural = _("campaign budget stripes")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "stripe"], name="budget_stripe_unique"),
            models.CheckConstraint(
                condition=Q(points_awarded__lte=F("budget_points")),
                name="budget_stripe_within_budget",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.stripe}: {self.points_awarded} of {self.budget_points}"


class CampaignAward(models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="awards", verbose_name=_("campaign")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="campaign_awards", verbose_name=_("member")
    )
    posting = models.OneToOneField(
        Posting, on_delete=models.PROTECT, related_name="award", verbose_name=_("posting")
    )
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaign_awards",
        verbose_name=_("order"),
    )
    points = models.PositiveIntegerField(verbose_name=_("points"))
    reference = models.CharField(max_length=128, verbose_name=_("reference"))
    # The segment the member was in when the campaign applied (its code; "" without one), so a
    # result can be explained after the segment's members have changed.
    segment_code = models.CharField(max_length=64, blank=True, verbose_name=_("segment"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("campaign award")
        verbose_name_plural = _("campaign awards")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member", "reference"], name="award_once_per_reference"
            ),
            models.CheckConstraint(condition=Q(points__gt=0), name="award_points_positive"),
        ]
        indexes = [
            # `points` last: a campaign's Σ points (its points awarded) is an index-only scan.
            models.Index(fields=["campaign", "member", "points"], name="award_campaign_member_idx")
        ]

    def __str__(self) -> str:
        return f"{self.campaign.code} → {self.member_id}: {self.points}"


class CampaignHoldout(models.Model):
    """The award log's record that a member was held out of a campaign: written once, on the
    first order (or action) that would have earned them its bonus; later ones find it and write
    nothing. Who is held out is a pure function of (campaign, member) (`campaigns.holdout`), so
    this row records an event, it does not decide anything."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="holdouts", verbose_name=_("campaign")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="campaign_holdouts", verbose_name=_("member")
    )
    reference = models.CharField(max_length=128, verbose_name=_("reference"))
    points_withheld = models.PositiveIntegerField(
        default=0,
        help_text=_("The bonus the first eligible order or action would have earned."),
        verbose_name=_("points withheld"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("campaign holdout")
        verbose_name_plural = _("campaign holdouts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="holdout_once_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} ✕ {self.member_id}"


class Referral(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the first order to clear")
        REWARDED = "rewarded", _("Referrer rewarded")
        REJECTED = "rejected", _("Rejected")

    referrer = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="referrals_made", verbose_name=_("referrer")
    )
    referee = models.OneToOneField(
        Member, on_delete=models.PROTECT, related_name="referral", verbose_name=_("referee")
    )
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals",
        verbose_name=_("campaign"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    first_order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("first order"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status"], name="referral_status_idx"),
            models.Index(fields=["referrer", "decided_at"], name="referral_referrer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referee_id} ({self.status})"
