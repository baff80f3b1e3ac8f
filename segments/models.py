"""Member statistics, RFM scores, segments and clubs.

Invariants:
- `MemberStats` holds one row per member, rebuilt set-based by the daily refresh
  (`segments.services.stats`) from the orders: it is a derived cache, never written by the earn
  path; `audit_member_statistics` recomputes it and reports every difference. `days since the
  last order` is not stored: it is computed from `last_order_at` when read.
- Spend is the orders' eligible amount in the program currency less what was refunded of it; the
  average order is computed when read (spend ÷ orders), like the days since the last order.
- RFM scores are 1–5 (or NULL for members without an order in the RFM window) and the group is
  the grid's name for them (`segments.rfm.rfm_group_for`), "" without scores.
- `MemberProduct` lists each category and SKU a member has bought once (unique).
- A segment's `conditions` always passed `segments.conditions.conditions_validate`; a frozen
  segment's members are the rows of `SegmentMember` written when it was frozen.
- A member is in a club at most once (unique); leaving deletes the row (joining again is a
  new row).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models import Perk
from members.models import Member


class RfmGroup(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalist")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEEDS_ATTENTION = "needs_attention", _("Needs attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANNOT_LOSE = "cannot_lose", _("Cannot lose")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class MemberStats(models.Model):
    member = models.OneToOneField(
        Member,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="segment_stats",
        verbose_name=_("member"),
    )
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    orders_count = models.PositiveIntegerField(_("orders"), default=0)
    spend_lifetime = models.DecimalField(
        _("spend (lifetime)"), max_digits=14, decimal_places=2, default=0
    )
    orders_365 = models.PositiveIntegerField(_("orders (last 365 days)"), default=0)
    spend_365 = models.DecimalField(
        _("spend (last 365 days)"), max_digits=14, decimal_places=2, default=0
    )
    country = models.CharField(_("country"), max_length=64, blank=True)
    # RFM over the orders in the RFM window (settings.SEGMENTS_RFM_WINDOW_DAYS).
    rfm_orders = models.PositiveIntegerField(_("orders (RFM window)"), default=0)
    rfm_spend = models.DecimalField(
        _("spend (RFM window)"), max_digits=14, decimal_places=2, default=0
    )
    recency_score = models.PositiveSmallIntegerField(_("recency score"), null=True, blank=True)
    frequency_score = models.PositiveSmallIntegerField(_("frequency score"), null=True, blank=True)
    monetary_score = models.PositiveSmallIntegerField(_("monetary score"), null=True, blank=True)
    rfm_group = models.CharField(
        _("RFM group"), max_length=20, choices=RfmGroup.choices, blank=True, default=""
    )
    previous_rfm_group = models.CharField(
        _("previous RFM group"), max_length=20, choices=RfmGroup.choices, blank=True, default=""
    )
    refreshed_at = models.DateTimeField(_("refreshed at"), default=timezone.now)

    class Meta:
        verbose_name = _("member statistics")
        verbose_name_plural = _("member statistics")
        constraints = [
            models.CheckConstraint(
                condition=Q(recency_score__isnull=True)
                | (Q(recency_score__gte=1) & Q(recency_score__lte=5)),
                name="memberstats_recency_1_5",
            ),
            models.CheckConstraint(
                condition=Q(frequency_score__isnull=True)
                | (Q(frequency_score__gte=1) & Q(frequency_score__lte=5)),
                name="memberstats_frequency_1_5",
            ),
            models.CheckConstraint(
                condition=Q(monetary_score__isnull=True)
                | (Q(monetary_score__gte=1) & Q(monetary_score__lte=5)),
                name="memberstats_monetary_1_5",
            ),
        ]
        # The columns segment conditions filter on most (docs/segments.md, "Indexes").
        indexes = [
            models.Index(fields=["rfm_group"], name="memberstats_rfm_idx"),
            models.Index(fields=["last_order_at"], name="memberstats_last_order_idx"),
            models.Index(fields=["spend_365"], name="memberstats_spend_365_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}"


class StatsRefresh(models.Model):
    """One run of the refresh: when, and the last order whose products it listed."""

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    last_order_id = models.BigIntegerField(_("last order id"), default=0)
    members = models.PositiveIntegerField(_("members"), default=0)
    group_changes = models.PositiveIntegerField(_("RFM group changes"), default=0)
    full = models.BooleanField(_("full rebuild"), default=False)

    class Meta:
        verbose_name = _("statistics refresh")
        verbose_name_plural = _("statistics refreshes")
        ordering = ["-finished_at", "-id"]

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M}"


class MemberProduct(models.Model):
    class Kind(models.TextChoices):
        CATEGORY = "c", _("Category")
        SKU = "s", _("SKU")

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", db_index=False,
        verbose_name=_("member"),
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=1, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=64)

    class Meta:
        verbose_name = _("product bought")
        verbose_name_plural = _("products bought")
        constraints = [
            # Serves "who bought X" (kind, value first) and keeps one row per member and product.
            models.UniqueConstraint(
                fields=["kind", "value", "member"], name="memberproduct_unique"
            ),
        ]
        indexes = [models.Index(fields=["member"], name="memberproduct_member_idx")]

    def __str__(self) -> str:
        return self.value


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (evaluated when used)")
        FROZEN = "frozen", _("Frozen (a snapshot list)")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    conditions = models.JSONField(
        _("conditions"),
        default=dict,
        help_text=_('A condition tree: {"all": [...]} or {"any": [...]} of conditions.'),
    )
    member_count = models.PositiveIntegerField(_("members"), null=True, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "code"]
        permissions = [
            ("export_segment", "Can export a segment's members"),
            ("award_segment", "Can award points to a segment's members"),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A frozen segment's snapshot: who was in it when it was frozen."""

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="+", db_index=False,
        verbose_name=_("segment"),
    )  # fmt: skip
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "member"], name="segmentmember_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.member_id}"


class SegmentAward(models.Model):
    """One bulk award of points to a segment: its key makes a second run a no-op."""

    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, related_name="awards", verbose_name=_("segment")
    )
    key = models.CharField(_("key"), max_length=100, unique=True)
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=500)
    members = models.PositiveIntegerField(_("members"), default=0)
    requested = models.PositiveIntegerField(_("waiting for approval"), default=0)
    actor_label = models.CharField(_("by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("segment award")
        verbose_name_plural = _("segment awards")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.key


class Club(models.Model):
    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    perks = models.ManyToManyField(Perk, blank=True, related_name="clubs", verbose_name=_("perks"))
    join_rules = models.JSONField(
        _("join rules"),
        default=dict,
        blank=True,
        help_text=_("Optional: a condition tree a member must meet to join (empty: anyone)."),
    )
    is_active = models.BooleanField(_("open to join"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("club")
        verbose_name_plural = _("clubs")
        ordering = ["name", "code"]

    def __str__(self) -> str:
        return self.name


class ClubMembership(models.Model):
    club = models.ForeignKey(
        Club, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("club")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="club_memberships", db_index=False,
        verbose_name=_("member"),
    )  # fmt: skip
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)

    class Meta:
        verbose_name = _("club membership")
        verbose_name_plural = _("club memberships")
        constraints = [
            models.UniqueConstraint(fields=["member", "club"], name="clubmembership_unique")
        ]
        indexes = [models.Index(fields=["club", "member"], name="clubmembership_club_idx")]

    def __str__(self) -> str:
        return f"{self.club_id}: {self.member_id}"
