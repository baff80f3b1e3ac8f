"""Webhook endpoints, their signing secrets, and the delivery log.

Invariants:
- An endpoint has exactly one current secret (`expires_at` null) and, after a rotation, the old
  ones until their overlap ends; every secret not yet expired signs each message.
- Secrets are stored as they are given out (`whsec_...`): an HMAC key must be readable to sign.
  Whoever can read this table can forge webhooks to these endpoints (docs/webhooks.md, "Secrets").
- A `Delivery` is one message to one endpoint. Deliveries of an outbox event are unique per
  (endpoint, event): the dispatcher may run twice over the same events and writes them once.
  Replays and test messages are deliveries of their own kind and may repeat an event id (the
  receiver de-duplicates on `webhook-id`).
- A delivery moves `pending` -> `delivered` | `failed` | `cancelled` and never back; each try is
  a `DeliveryAttempt` row. The `last_*` columns repeat the newest attempt for the lists.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _


class Endpoint(models.Model):
    class DisabledReason(models.TextChoices):
        NONE = "", "-"
        BY_STAFF = "staff", _("switched off by staff")
        GONE = "gone", _("the receiver answered 410 Gone")
        FAILING = "failing", _("failed for too long")

    url = models.CharField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(
        _("event types"),
        default=list,
        blank=True,
        help_text=_("The event types sent to this endpoint; empty sends every type."),
    )
    active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(
        _("disabled because"),
        max_length=10,
        choices=DisabledReason.choices,
        blank=True,
        default="",
    )
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    # Since when every attempt has failed (cleared by a success): the endpoint is switched off
    # when this is older than WEBHOOKS_DISABLE_AFTER_DAYS.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ("pk",)
        verbose_name = pgettext_lazy("webhook", "endpoint")
        verbose_name_plural = _("endpoints")

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class EndpointSecret(models.Model):
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Null for the current secret; set when a newer one replaced it (end of the overlap).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint"],
                condition=Q(expires_at__isnull=True),
                name="webhook_one_current_secret",
            )
        ]

    def __str__(self) -> str:
        return f"secret of endpoint {self.endpoint_id} from {self.created_at:%Y-%m-%d %H:%M}"


class Delivery(models.Model):
    class Kind(models.TextChoices):
        EVENT = "event", _("event")
        REPLAY = "replay", _("replay")
        TEST = "test", _("test event")

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("webhook delivery", "pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled (endpoint switched off)")

    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=pgettext_lazy("webhook", "endpoint"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.EVENT)
    event_id = models.UUIDField(_("event id (webhook-id)"))
    event_type = models.CharField(_("event type"), max_length=100)
    occurred_at = models.DateTimeField(_("occurred at"))
    # The event's member (for erasure: `webhooks.erasure`); null for memberless and test events.
    member_id = models.BigIntegerField(null=True, blank=True)
    body = models.TextField(_("body"), help_text=_("The JSON body exactly as sent."))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    last_response = models.TextField(_("last answer"), blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ("-created_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                condition=Q(kind="event"),
                name="webhook_delivery_once_per_event",
            )
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
            models.Index(fields=["event_id"], name="webhook_delivery_event_idx"),
            models.Index(
                fields=["member_id"],
                condition=Q(member_id__isnull=False),
                name="webhook_delivery_member_idx",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(type)s %(id)s → endpoint %(endpoint)s") % {
            "type": self.event_type,
            "id": self.event_id,
            "endpoint": self.endpoint_id,
        }


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(
        Delivery,
        on_delete=models.CASCADE,
        related_name="attempt_log",
        verbose_name=_("delivery"),
    )
    number = models.PositiveIntegerField(_("number"))
    attempted_at = models.DateTimeField(_("attempted at"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    response = models.TextField(
        _("answer"), blank=True, help_text=_("The start of the answer's body.")
    )

    class Meta:
        ordering = ("delivery", "number")
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number")
        ]

    def __str__(self) -> str:
        return gettext("attempt %(number)s of delivery %(delivery)s") % {
            "number": self.number,
            "delivery": self.delivery_id,
        }


class DispatchCursor(models.Model):
    """How far the dispatcher has read the outbox: the last event fanned out, as the events
    feed's cursor `(txid, position)` (`events.selectors.events_after`). One row, locked by the
    pass that reads from it, so two dispatchers never fan out the same events at once."""

    name = models.CharField(max_length=20, primary_key=True)
    txid = models.BigIntegerField(default=0)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.txid}.{self.position}"
