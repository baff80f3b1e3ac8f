"""Guest orders: orders placed by customers who are not members, kept to compare with members.

A guest order earns nothing and touches no ledger row. Invariants:
- [db] `order_id` is unique among guest orders: a repeat of the same order is answered, not
  written twice; other content under the same id is an `order_conflict` (as for orders).
- `guest_key` names the customer across orders: the storefront's customer id, or a hash of their
  email (`sha256:` + hex of the trimmed, lower-cased address), never the email itself; empty
  when the customer is unknown (each such order is a customer of its own in the figures).
- `member` is set once, when the guest enrols and their guest orders become the member's
  history (`loyalty.services.guests.guest_orders_claim`); `claimed_order` is the member's order
  written for it. Never unset.
- [db] `refunded_total` (order currency) never exceeds the eligible total; it is the sum of the
  order's `GuestRefund`s, which are unique by `refund_id` and positive. A refund earns or takes
  back nothing: it keeps what was refunded, as a member's order does.
"""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member


class GuestOrder(models.Model):
    class Source(models.TextChoices):
        API = "api", _("Storefront API")
        IMPORT = "import", _("Historical import")

    order_id = models.CharField(max_length=64, verbose_name=_("order id"))
    guest_key = models.CharField(max_length=128, verbose_name=_("guest key"))
    placed_at = models.DateTimeField(verbose_name=_("placed at"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    total = models.DecimalField(max_digits=12, decimal_places=2, verbose_name=_("total"))
    eligible_total = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("eligible total")
    )
    exchange_rate = models.DecimalField(
        max_digits=14, decimal_places=6, default=Decimal("1"), verbose_name=_("exchange rate")
    )
    # Eligible spend in the program currency, as for a member's order.
    eligible_amount = models.DecimalField(
        max_digits=12, decimal_places=2, verbose_name=_("eligible amount")
    )
    items = models.JSONField(default=list, blank=True, verbose_name=_("items"))
    channel = models.CharField(max_length=32, blank=True, verbose_name=_("channel"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    source = models.CharField(
        max_length=8, choices=Source.choices, default=Source.API, verbose_name=_("source")
    )
    # Σ of its refunds, in the order's currency, and in the program currency (as `Order`).
    refunded_total = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), verbose_name=_("refunded total")
    )
    refunded_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), verbose_name=_("refunded amount")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="guest_orders",
        verbose_name=_("member"),
    )
    claimed_order = models.OneToOneField(
        "loyalty.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="guest_order",
        verbose_name=_("member's order"),
    )

    class Meta:
        verbose_name = _("guest order")
        verbose_name_plural = _("guest orders")
        ordering = ["-placed_at", "-id"]
        # Read through the dashboard and the API only; no admin page, so no model permissions.
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["order_id"], name="guestorder_order_id_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="guestorder_total_gte_0"),
            models.CheckConstraint(
                condition=Q(eligible_amount__gte=0), name="guestorder_eligible_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0)
                & Q(refunded_amount__gte=0)
                & Q(refunded_total__lte=Coalesce(F("eligible_total"), F("total"))),
                name="guestorder_refunded_within_order",
            ),
        ]
        indexes = [
            models.Index(fields=["guest_key", "placed_at"], name="guestorder_key_placed_idx"),
            models.Index(fields=["placed_at"], name="guestorder_placed_idx"),
        ]

    def __str__(self) -> str:
        return self.order_id


class GuestRefund(models.Model):
    """A (partial) refund of a guest order: nothing to reverse, kept for the figures and so that
    the same refund sent again is answered, not counted twice."""

    refund_id = models.CharField(max_length=64, verbose_name=_("refund id"))
    guest_order = models.ForeignKey(
        GuestOrder, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("guest order")
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2, verbose_name=_("amount"))
    refunded_at = models.DateTimeField(verbose_name=_("refunded at"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("guest refund")
        verbose_name_plural = _("guest refunds")
        ordering = ["-refunded_at", "-id"]
        default_permissions = ()  # as `GuestOrder`: no admin page
        constraints = [
            models.UniqueConstraint(fields=["refund_id"], name="guestrefund_refund_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="guestrefund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.refund_id
