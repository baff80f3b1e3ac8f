"""Paid membership: plans, each member's memberships, and their append-only paid history.

Model:
- `Plan`: what a shop sells (code, name, price and currency, a period in months, free-trial days),
  the perks it gives (loyalty's `Perk` rows, the same kinds tiers use), an earn multiplier, a grace
  period for a failed renewal and a refund rule.
- `Membership`: one member in one plan, with its state (`MembershipStatus`, the state machine in
  `memberships.states`) and its current period. The state and the period bounds are a cache of
  the history below, changed only by `memberships.services` under the membership's row lock.
- `MembershipPeriod`: the append-only list of periods (trial or paid) a membership covered.
- `MembershipCharge`: the append-only money: a payment (> 0) for each paid period, a refund (< 0)
  against one. A member's paid history is these two tables, as their points are the ledger.
- `PerkUsage`: a paid perk the storefront reported used (free shipping on order X), append-only;
  a period with a usage is not refunded in full (`RefundRule.FULL_IF_UNUSED`).

Invariants (database-enforced where marked [db]):
- [db] price > 0; currency three upper-case letters; period 1–36 months; multiplier ≥ 1.
- [db] one open membership (trialing, active, past_due, or cancelled but running to its end) per
  member and plan; an expired or refunded one may be followed by a new one.
- [db] a period ends after it starts; numbers are unique per membership; a paid period has its
  payment, a trial none (the payment is unique per period).
- [db] a payment is > 0 and carries the shop's payment reference, unique among payments; a refund
  is < 0 and refunds at most once per period.
- [db] periods, charges and perk usages are never updated or deleted (a PostgreSQL trigger refuses
  it), except erasure rewriting the free text of a charge (`memberships.erasure`).
- [db] a perk is reported used at most once per membership, perk and order.
"""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models import Perk
from members.models import ActorFields, Member

CENT = Decimal("0.01")


class RefundRule(models.TextChoices):
    FULL_IF_UNUSED = "full_if_unused", _("Full within N days if no paid perk was used")
    PRORATED = "prorated", _("Prorated on the days left")
    NONE = "none", _("No refund")


class MembershipStatus(models.TextChoices):
    TRIALING = "trialing", _("Trialing")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    REFUNDED = "refunded", _("Refunded")


# States in which a membership is still open (the member cannot start another of the same plan).
OPEN_STATUSES = (
    MembershipStatus.TRIALING,
    MembershipStatus.ACTIVE,
    MembershipStatus.PAST_DUE,
    MembershipStatus.CANCELLED,
)


class Plan(models.Model):
    RefundRule = RefundRule

    # 59: the order bonus's campaign code is "plan:" + this, in a 64-character column.
    code = models.SlugField(_("code"), max_length=59, unique=True)
    name = models.CharField(_("name"), max_length=100)
    # Field validators say what the check constraints below say, naming the field in a form.
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(CENT)]
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        help_text=_("ISO 4217, e.g. GBP."),
        validators=[RegexValidator(r"^[A-Z]{3}$", _("Three capital letters, e.g. GBP."))],
    )
    period_months = models.PositiveSmallIntegerField(
        _("period (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(36)]
    )
    trial_days = models.PositiveSmallIntegerField(
        _("free-trial days"), default=0, help_text=_("0: no free trial.")
    )
    perks = models.ManyToManyField(Perk, blank=True, related_name="plans", verbose_name=_("perks"))
    earn_multiplier = models.DecimalField(
        _("earn multiplier"),
        max_digits=4,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Adds to the tier's: an order earns base points × (tier multiplier + this − 1); "
            "the plan's part is its own bonus posting."
        ),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace days"),
        default=7,
        help_text=_("Days a membership stays past due (perks kept) after a renewal failed."),
    )
    refund_rule = models.CharField(
        _("refund rule"),
        max_length=16,
        choices=RefundRule.choices,
        default=RefundRule.FULL_IF_UNUSED,
    )
    refund_days = models.PositiveSmallIntegerField(
        _("full refund within (days)"),
        default=14,
        help_text=_("For the full-if-unused rule: days from a paid period's start."),
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Sold to new members."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="plan_price_gt_0"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="plan_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(period_months__gte=1, period_months__lte=36),
                name="plan_period_months_range",
            ),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gte=1), name="plan_multiplier_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(refund_rule__in=[r.value for r in RefundRule]),
                name="plan_refund_rule_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Membership(ActorFields):
    """One member in one plan (the actor is who started it)."""

    Status = MembershipStatus

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("member")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("plan")
    )
    status = models.CharField(_("status"), max_length=10, choices=MembershipStatus.choices)
    started_at = models.DateTimeField(_("started at"))
    current_period_start = models.DateTimeField(_("current period start"))
    current_period_end = models.DateTimeField(_("current period end"))
    # Perks hold until then once cancelled (the period's end, or the moment of an immediate one).
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    grace_until = models.DateTimeField(_("grace until"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        permissions = [("refund_membership", _("Can refund a paid membership"))]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "plan"],
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
                name="membership_one_open_per_plan",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in MembershipStatus]),
                name="membership_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=models.F("current_period_start")),
                name="membership_period_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(status=MembershipStatus.CANCELLED) | Q(ends_at__isnull=False),
                name="membership_cancelled_has_end",
            ),
            models.CheckConstraint(
                condition=~Q(status=MembershipStatus.PAST_DUE) | Q(grace_until__isnull=False),
                name="membership_past_due_has_grace",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "current_period_end"], name="membership_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} · {self.get_status_display()}"


class PeriodKind(models.TextChoices):
    TRIAL = "trial", _("Free trial")
    PAID = "paid", _("Paid")


class ChargeKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")


class MembershipCharge(ActorFields):
    """Money the shop took (payment) or gave back (refund) for one period of a membership."""

    Kind = ChargeKind

    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="charges", verbose_name=_("membership")
    )
    period_number = models.PositiveIntegerField(_("period"))
    kind = models.CharField(_("kind"), max_length=8, choices=ChargeKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("membership charge")
        verbose_name_plural = _("membership charges")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=ChargeKind.PAYMENT) & Q(amount__gt=0) & ~Q(payment_reference=""))
                | (Q(kind=ChargeKind.REFUND) & Q(amount__lt=0)),
                name="charge_sign_by_kind",
            ),
            models.UniqueConstraint(
                fields=["membership", "period_number", "kind"], name="charge_one_per_period_kind"
            ),
            models.UniqueConstraint(
                fields=["payment_reference"],
                condition=Q(kind=ChargeKind.PAYMENT),
                name="charge_payment_reference_unique",
            ),
        ]
        triggers = [
            # Erasure may rewrite the free text (reason, reference); never an amount or a link.
            pgtrigger.Protect(name="charge_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="charge_append_only",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.id IS DISTINCT FROM NEW.id "
                    "OR OLD.membership_id IS DISTINCT FROM NEW.membership_id "
                    "OR OLD.period_number IS DISTINCT FROM NEW.period_number "
                    "OR OLD.kind IS DISTINCT FROM NEW.kind "
                    "OR OLD.amount IS DISTINCT FROM NEW.amount "
                    "OR OLD.currency IS DISTINCT FROM NEW.currency "
                    "OR OLD.created_at IS DISTINCT FROM NEW.created_at"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class MembershipPeriod(models.Model):
    """A stretch of time a membership covered: a free trial or a paid period (with its payment)."""

    Kind = PeriodKind

    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="periods", verbose_name=_("membership")
    )
    number = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=5, choices=PeriodKind.choices)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    payment = models.OneToOneField(
        MembershipCharge,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="paid_period",
        verbose_name=_("payment"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["membership", "number"]
        verbose_name = _("membership period")
        verbose_name_plural = _("membership periods")
        constraints = [
            models.UniqueConstraint(fields=["membership", "number"], name="period_number_unique"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="period_ordered"
            ),
            models.CheckConstraint(
                condition=(Q(kind=PeriodKind.PAID) & Q(payment__isnull=False))
                | (Q(kind=PeriodKind.TRIAL) & Q(payment__isnull=True)),
                name="period_paid_has_payment",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="period_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.get_kind_display()}"


class PerkUsage(ActorFields):
    """A plan perk the storefront reported used on an order, in one period of a membership."""

    membership = models.ForeignKey(
        Membership,
        on_delete=models.PROTECT,
        related_name="perk_usages",
        verbose_name=_("membership"),
    )
    period_number = models.PositiveIntegerField(_("period"))
    perk = models.ForeignKey(
        Perk, on_delete=models.PROTECT, related_name="+", verbose_name=_("perk")
    )
    order_id = models.CharField(_("order id"), max_length=64)
    used_at = models.DateTimeField(_("used at"), default=timezone.now)

    class Meta:
        ordering = ["used_at", "id"]
        verbose_name = _("perk usage")
        verbose_name_plural = _("perk usages")
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "perk", "order_id"], name="perk_usage_once_per_order"
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="perk_usage_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"{self.perk_id} · {self.order_id}"
