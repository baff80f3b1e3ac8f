"""The reward catalogue, its stock movements, and the redemptions members make.

- A `Reward` is something points buy. Its `kind` says what the coupon it issues does:
  `fixed_discount` (`value` off, in the program currency), `percent_discount` (`value` percent
  off), `free_shipping`, `free_product` (the product `sku`; `value` is its worth, optional) and
  `points_discount` (the member chooses how many points to turn into money off one order, at the
  program's `point_value`, within `min_share`..`max_share` of the order and from `min_points`).
- `stock` is what is left to give; NULL means unlimited. It changes only in the same transaction
  as a `StockMovement` recording who changed it, by how much and why (a redemption takes one, a
  cancellation or an expired coupon gives it back, staff adjust it with a reason).
- A `Redemption` is one spend of points on one reward: the coupon it issued, the spend posting
  (and, if cancelled, the posting that gave the points back) and its lifecycle
  `issued -> used | cancelled | expired`, each final. A **gift** is a redemption with no points
  spent and no posting, granted by a cause (`gift_cause`: a campaign, a tier entry, the birthday
  perk) under an idempotency key (`gift_key`): it draws on the stock like any redemption
  (`rewards.services.gifts`).

Invariants (database-enforced where marked [db]):
- [db] `Reward.code` and `Redemption.coupon_code` are unique; stock ≥ 0; points ≥ 0; money ≥ 0;
  each kind carries the fields it needs (a SKU for a free product, shares for points_discount...).
- [db] a redemption's status matches its timestamps (used ⇔ used_at and order, cancelled ⇔
  cancelled_at and, unless a gift, the return posting); its spend posting is its own
  (one-to-one).
- [db] a redemption has a spend posting and no gift key, or is a gift: no posting, no points,
  a cause and a key; a gift key is unique (a replayed trigger grants once).
- [db] stock movements are append-only (PostgreSQL trigger), like the ledger.
- Stock, the member's points and the redemption change together or not at all; the lock order is
  the member's loyalty account first, then the redemption row, then the reward row.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pgtrigger
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models import Posting, Tier
from members.models import ActorFields, Member


class RewardKind(models.TextChoices):
    FIXED_DISCOUNT = "fixed_discount", _("Fixed amount off")
    PERCENT_DISCOUNT = "percent_discount", _("Percentage off")
    FREE_SHIPPING = "free_shipping", _("Free shipping")
    FREE_PRODUCT = "free_product", _("Free product")
    POINTS_DISCOUNT = "points_discount", _("Points as discount")


def kind_rule_errors(reward: Reward) -> dict[str, str]:
    """{field: sentence} for each kind rule the reward breaks; the labels are those staff see."""
    kind, value, errors = reward.kind, reward.value, {}
    kinds = RewardKind
    if kind != kinds.POINTS_DISCOUNT and not (reward.points_cost or 0) > 0:
        errors["points_cost"] = _(
            "A reward costs at least 1 point (only “Points as discount” lets the member choose)."
        )
    if kind == kinds.FIXED_DISCOUNT and (value is None or value <= 0):
        errors["value"] = _("Enter the amount off, more than 0, for “Fixed amount off”.")
    if kind == kinds.PERCENT_DISCOUNT and (value is None or not 0 < value <= 100):
        errors["value"] = _(
            "Enter the percentage off, above 0 and at most 100, for “Percentage off”."
        )
    if kind == kinds.FREE_PRODUCT and not (reward.sku or "").strip():
        errors["sku"] = _("Enter the SKU of the product “Free product” gives.")
    if kind == kinds.POINTS_DISCOUNT:
        if reward.min_points is None or reward.min_points < 1:
            errors["min_points"] = _(
                "Enter the fewest points a member may use, 1 or more, for “Points as discount”."
            )
        if reward.min_share is None:
            errors["min_share"] = _("Enter the smallest share of the order, 0 to 1 (0.10 = 10%).")
        if reward.max_share is None or reward.max_share <= 0:
            errors["max_share"] = _(
                "Enter the largest share of the order, above 0 and at most 1 (0.50 = 50%)."
            )
        elif reward.min_share is not None and reward.min_share > reward.max_share:
            errors["min_share"] = _("The smallest share cannot be above the largest.")
    if reward.active_from and reward.active_to and reward.active_from >= reward.active_to:
        errors["active_to"] = _("The reward must end after it starts.")
    return errors


class Reward(models.Model):
    Kind = RewardKind

    code = models.CharField(
        max_length=64,
        unique=True,
        help_text=_("Stable code the storefront and the config file use."),
        verbose_name=_("code"),
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    kind = models.CharField(max_length=20, choices=RewardKind.choices, verbose_name=_("kind"))
    sku = models.CharField(
        _("SKU"), max_length=64, blank=True, help_text=_("The product a free_product reward gives.")
    )
    points_cost = models.PositiveIntegerField(
        default=0,
        help_text=_("Points one redemption costs (points_discount: chosen by the member)."),
        verbose_name=_("points cost"),
    )
    value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_(
            "fixed_discount: money off; percent_discount: percent off; free_product: the "
            "product's worth (optional); empty for free_shipping and points_discount."
        ),
        verbose_name=_("value"),
    )
    stock = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Coupons left to issue; empty = unlimited."),
        verbose_name=_("stock"),
    )
    per_member_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Most redemptions per member (cancelled ones do not count); empty = no limit."),
        verbose_name=_("per member limit"),
    )
    # Compared by rank: a member may redeem if the tier they hold now ranks at least this high.
    min_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Lowest tier that may redeem; empty = every member."),
        verbose_name=_("min tier"),
    )
    # What the reward is about, in the storefront's product categories (the `category` of an
    # order's items): personal suggestions match it against what the member buys.
    category = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("The product category it belongs to (as orders name it); optional."),
        verbose_name=_("category"),
    )
    segment = models.ForeignKey(
        "segments.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Only members in this segment may redeem; empty = every member."),
        verbose_name=_("segment"),
    )
    active_from = models.DateTimeField(null=True, blank=True, verbose_name=_("active from"))
    active_to = models.DateTimeField(null=True, blank=True, verbose_name=_("active to"))
    coupon_valid_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1)],
        help_text=_("Days an issued coupon stays valid."),
        verbose_name=_("coupon valid days"),
    )
    # points_discount only.
    min_points = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("points_discount: fewest points per redemption."),
        verbose_name=_("min points"),
    )
    min_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("points_discount: smallest discount as a share of the order (0.10 = 10%)."),
        verbose_name=_("min share"),
    )
    max_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("points_discount: largest discount as a share of the order (0.50 = 50%)."),
        verbose_name=_("max share"),
    )
    is_active = models.BooleanField(
        default=True,
        help_text=_("Switch off to withdraw the reward without deleting it."),
        verbose_name=_("is active"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["points_cost", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="reward_stock_gte_0"),
            models.CheckConstraint(condition=Q(value__gte=0), name="reward_value_gte_0"),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in RewardKind]), name="reward_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind=RewardKind.POINTS_DISCOUNT) | Q(points_cost__gt=0),
                name="reward_points_cost_gt_0",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RewardKind.FIXED_DISCOUNT) | Q(value__isnull=False, value__gt=0),
                name="reward_fixed_discount_value",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RewardKind.PERCENT_DISCOUNT)
                | Q(value__isnull=False, value__gt=0, value__lte=100),
                name="reward_percent_discount_value",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RewardKind.FREE_PRODUCT) | ~Q(sku=""),
                name="reward_free_product_sku",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RewardKind.POINTS_DISCOUNT)
                | Q(
                    # NULL would slip through a CHECK: spell the NOT NULLs out.
                    min_points__isnull=False,
                    min_share__isnull=False,
                    max_share__isnull=False,
                    min_points__gte=1,
                    min_share__gte=0,
                    max_share__gt=0,
                    max_share__lte=1,
                    min_share__lte=models.F("max_share"),
                ),
                name="reward_points_discount_bounds",
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                name="reward_per_member_limit_gte_1",
            ),
            models.CheckConstraint(
                condition=Q(coupon_valid_days__gte=1), name="reward_coupon_valid_days_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(active_from__isnull=True)
                | Q(active_to__isnull=True)
                | Q(active_from__lt=models.F("active_to")),
                name="reward_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["is_active", "active_to"], name="reward_active_idx")]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def clean(self) -> None:
        """The kind rules the constraints state, as sentences on the fields staff must fix (the
        constraints stay the database's guard; their names never reach a form)."""
        errors = kind_rule_errors(self)
        if errors:
            raise ValidationError(errors)

    @property
    def has_stock_limit(self) -> bool:
        return self.stock is not None

    def is_live(self, now) -> bool:
        """Switched on and inside its active window at `now`."""
        return (
            self.is_active
            and (self.active_from is None or self.active_from <= now)
            and (self.active_to is None or now < self.active_to)
        )


class StockMovement(ActorFields):
    """One change of a reward's stock: by how much, what it became, who did it and why."""

    class Kind(models.TextChoices):
        REDEMPTION = "redemption", _("Redeemed")
        CANCELLATION = "cancellation", _("Redemption cancelled")
        EXPIRY = "expiry", _("Coupon expired")
        ADJUSTMENT = "adjustment", _("Adjusted by staff")
        SET = "set", _("Stock set")

    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="stock_movements", verbose_name=_("reward")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    delta = models.IntegerField(
        help_text=_("Change of the stock (0 when switching to unlimited)."), verbose_name=_("delta")
    )
    stock_after = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Stock after this movement; empty = unlimited."),
        verbose_name=_("stock after"),
    )
    redemption = models.ForeignKey(
        "rewards.Redemption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_movements",
        verbose_name=_("redemption"),
    )
    reason = models.CharField(max_length=500, verbose_name=_("reason"))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-at", "-id"]
        triggers = [
            pgtrigger.Protect(
                name="stock_movement_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(stock_after__gte=0), name="stock_movement_after_gte_0"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="stock_movement_has_reason"),
        ]
        indexes = [models.Index(fields=["reward", "-at"], name="stock_movement_reward_idx")]

    def __str__(self) -> str:
        return f"{self.reward_id} {self.delta:+d} ({self.kind})"


class RedemptionStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    USED = "used", _("Used")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class Redemption(ActorFields):
    Status = RedemptionStatus

    # Known before the row is written, so the spend posting can name it; unguessable in URLs.
    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("id")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("member")
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("reward")
    )
    # Copied from the reward when issued: later edits of the reward do not change a coupon.
    kind = models.CharField(max_length=20, choices=RewardKind.choices, verbose_name=_("kind"))
    points_spent = models.PositiveIntegerField(verbose_name=_("points spent"))
    value = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("value")
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    coupon_code = models.CharField(max_length=32, unique=True, verbose_name=_("coupon code"))
    status = models.CharField(
        max_length=10,
        choices=RedemptionStatus.choices,
        default=RedemptionStatus.ISSUED,
        verbose_name=_("status"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))
    used_order_id = models.CharField(max_length=64, blank=True, verbose_name=_("used order id"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    cancel_reason = models.CharField(max_length=500, blank=True, verbose_name=_("cancel reason"))
    expired_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expired at"))
    # points_discount: the order total the discount was sized against.
    order_total = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("order total")
    )
    # None for a gift: no points were spent.
    spend_posting = models.OneToOneField(
        Posting,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redemption_spent",
        verbose_name=_("spend posting"),
    )
    # A gift's cause (`campaign:<code>`, `perk:birthday_gift`) and its idempotency key; "" for a
    # redemption bought with points.
    gift_cause = models.CharField(max_length=128, blank=True, verbose_name=_("gift cause"))
    gift_key = models.CharField(max_length=255, blank=True, verbose_name=_("gift key"))
    return_posting = models.OneToOneField(
        Posting,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redemption_returned",
        verbose_name=_("return posting"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("cancel_redemption", "Can cancel an unused redemption (points and stock come back)"),
            ("export_redemption", "Can export redemptions"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_spent__gte=0), name="redemption_points_gte_0"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="redemption_value_gte_0"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in RedemptionStatus]),
                name="redemption_status_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=RedemptionStatus.USED)
                    & Q(used_at__isnull=False)
                    & ~Q(used_order_id="")
                )
                | (~Q(status=RedemptionStatus.USED) & Q(used_at__isnull=True)),
                name="redemption_used_consistent",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=RedemptionStatus.CANCELLED)
                    & Q(cancelled_at__isnull=False)
                    & (Q(return_posting__isnull=False) | Q(spend_posting__isnull=True))
                )
                | (
                    ~Q(status=RedemptionStatus.CANCELLED)
                    & Q(cancelled_at__isnull=True, return_posting__isnull=True)
                ),
                name="redemption_cancelled_consistent",
            ),
            models.CheckConstraint(
                condition=(Q(status=RedemptionStatus.EXPIRED) & Q(expired_at__isnull=False))
                | (~Q(status=RedemptionStatus.EXPIRED) & Q(expired_at__isnull=True)),
                name="redemption_expired_consistent",
            ),
            models.CheckConstraint(
                condition=(Q(spend_posting__isnull=False) & Q(gift_key="") & Q(gift_cause=""))
                | (
                    Q(spend_posting__isnull=True, points_spent=0)
                    & ~Q(gift_key="")
                    & ~Q(gift_cause="")
                ),
                name="redemption_bought_or_gift",
            ),
            models.UniqueConstraint(
                fields=["gift_key"], condition=~Q(gift_key=""), name="redemption_gift_key_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="redemption_member_idx"),
            models.Index(fields=["reward", "member"], name="redemption_reward_member_idx"),
            models.Index(fields=["reward", "created_at"], name="redemption_reward_time_idx"),
            # The expiry job: issued coupons by expiry.
            models.Index(
                fields=["expires_at"],
                name="redemption_issued_expiry_idx",
                condition=Q(status=RedemptionStatus.ISSUED),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_code} ({self.get_status_display()})"

    @property
    def is_gift(self) -> bool:
        return bool(self.gift_key)

    def status_at(self, now: dt.datetime) -> str:
        """The coupon's status as the member sees it at `now`: an issued coupon past its
        `expires_at` is expired even before the daily job marks it so."""
        if self.status == RedemptionStatus.ISSUED and self.expires_at <= now:
            return RedemptionStatus.EXPIRED
        return self.status


class PerkGift(models.Model):
    """What a "birthday gift" perk gives: a coupon of this reward on the member's birthday, to a
    member who holds the perk then (through their tier, a paid plan or a club). Marketing sets
    it; `rewards.services.perk_gifts` gives it once per member and year."""

    perk = models.OneToOneField(
        "loyalty.Perk",
        on_delete=models.CASCADE,
        related_name="gift",
        limit_choices_to={"kind": "birthday_gift"},
        verbose_name=_("perk"),
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="perk_gifts", verbose_name=_("reward")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("birthday gift")
        verbose_name_plural = _("birthday gifts")
        ordering = ["perk__code"]

    def __str__(self) -> str:
        return f"{self.perk_id} → {self.reward_id}"
