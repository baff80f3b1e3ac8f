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


class Endpoint(models.Model):
    class DisabledReason(models.TextChoices):
        NONE = "", "-"
        BY_STAFF = "staff", "switched off by staff"
        GONE = "gone", "the receiver answered 410 Gone"
        FAILING = "failing", "failed for too long"

    url = models.CharField("URL", max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text="The event types sent to this endpoint; empty sends every type.",
    )
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(
        max_length=10, choices=DisabledReason.choices, blank=True, default=""
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Since when every attempt has failed (cleared by a success): the endpoint is switched off
    # when this is older than WEBHOOKS_DISABLE_AFTER_DAYS.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("pk",)

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
        EVENT = "event", "event"
        REPLAY = "replay", "replay"
        TEST = "test", "test event"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled (endpoint switched off)"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EVENT)
    event_id = models.UUIDField("event id (webhook-id)")
    event_type = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    # The event's member (for erasure: `webhooks.erasure`); null for memberless and test events.
    member_id = models.BigIntegerField(null=True, blank=True)
    body = models.TextField(help_text="The JSON body exactly as sent.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
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
        return f"{self.event_type} {self.event_id} → endpoint {self.endpoint_id}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response = models.TextField(blank=True, help_text="The start of the answer's body.")

    class Meta:
        ordering = ("delivery", "number")
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


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
