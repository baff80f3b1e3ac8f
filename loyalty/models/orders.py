"""Orders and refunds as the storefront (or an import) reports them.

Invariants:
- [db] `order_id` and `refund_id` are unique: an order earns once, a refund counts once.
- [db] 0 ≤ refunded_amount ≤ eligible_amount; points_reversed ≥ 0.
- `fingerprint` is a hash of what was sent, so a repeat with other content is an `order_conflict`.
- `refunded_amount` and `points_reversed` are cumulative caches, changed only under the member's
  account lock together with the refund's posting; reversals are computed on these cumulative
  amounts so that rounding never drifts.
"""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member


class Order(models.Model):
    class Source(models.TextChoices):
        API = "api", _("Storefront API")
        IMPORT = "import", _("Historical import")
        ADMIN = "admin", _("Admin")

    # Unique through a constraint, not `unique=True`: on PostgreSQL that would add a second,
    # varchar_pattern_ops index for LIKE prefix searches nobody runs (searches are exact).
    order_id = models.CharField(max_length=64, verbose_name=_("order id"))
    # No single-column index: `order_member_placed_idx` starts with the member.
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        verbose_name=_("member"),
    )
    placed_at = models.DateTimeField(verbose_name=_("placed at"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    total = models.DecimalField(max_digits=12, decimal_places=2, verbose_name=_("total"))
    eligible_total = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("eligible total")
    )
    # Program-currency units per order-currency unit when the order was recorded (1 if the same).
    exchange_rate = models.DecimalField(
        max_digits=14, decimal_places=6, default=Decimal("1"), verbose_name=_("exchange rate")
    )
    # Eligible spend in the program currency: what points and tiers are computed on.
    eligible_amount = models.DecimalField(
        max_digits=12, decimal_places=2, verbose_name=_("eligible amount")
    )
    # Cumulative refunds: in the order's currency (bounded by eligible_total or total), and the
    # same converted to the program currency (what lowers qualifying spend for tiers).
    refunded_total = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), verbose_name=_("refunded total")
    )
    refunded_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), verbose_name=_("refunded amount")
    )
    items = models.JSONField(default=list, blank=True, verbose_name=_("items"))
    channel = models.CharField(max_length=32, blank=True, verbose_name=_("channel"))
    points_base = models.IntegerField(default=0, verbose_name=_("points base"))
    points_tier_bonus = models.IntegerField(default=0, verbose_name=_("points tier bonus"))
    points_campaign = models.IntegerField(default=0, verbose_name=_("points campaign"))
    points_reversed = models.IntegerField(default=0, verbose_name=_("points reversed"))
    tier_code = models.CharField(max_length=32, blank=True, verbose_name=_("tier code"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    source = models.CharField(
        max_length=8, choices=Source.choices, default=Source.API, verbose_name=_("source")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        permissions = [
            ("import_orders", "Can import historical orders"),
            ("run_jobs", "Can run the daily jobs"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order_id"], name="order_order_id_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(eligible_amount__gte=0), name="order_eligible_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("eligible_amount")),
                name="order_refunded_in_range",
            ),
            models.CheckConstraint(
                condition=Q(points_reversed__gte=0), name="order_points_reversed_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0)
                & (
                    Q(eligible_total__isnull=True, refunded_total__lte=F("total"))
                    | Q(refunded_total__lte=F("eligible_total"))
                ),
                name="order_refunded_total_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "placed_at"], name="order_member_placed_idx"),
            models.Index(fields=["placed_at"], name="order_placed_idx"),
        ]

    def __str__(self) -> str:
        return self.order_id

    @property
    def eligible_in_order_currency(self):
        return self.total if self.eligible_total is None else self.eligible_total

    @property
    def points_earned(self) -> int:
        return self.points_base + self.points_tier_bonus + self.points_campaign


class Refund(models.Model):
    refund_id = models.CharField(
        max_length=64, verbose_name=_("refund id")
    )  # unique: see Meta (as `Order.order_id`)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order")
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2, verbose_name=_("amount"))
    refunded_at = models.DateTimeField(verbose_name=_("refunded at"))
    points_reversed = models.IntegerField(default=0, verbose_name=_("points reversed"))
    # Points that could not be reversed because negative balances are off (reported, never silent).
    shortfall = models.IntegerField(default=0, verbose_name=_("shortfall"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-refunded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["refund_id"], name="refund_refund_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(points_reversed__gte=0) & Q(shortfall__gte=0),
                name="refund_points_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return self.refund_id
