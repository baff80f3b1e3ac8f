"""Domain events: the transactional outbox (`docs/events.md`).

An `Event` is a fact in the past tense (`tier.changed`) written by the writer of the change, in
the change's own transaction: it commits or rolls back with it, so an event can never be lost or
invented. Webhook delivery and the pull feed (`GET /api/v1/events`) read these rows after commit.

This app is the bottom layer: it imports none of ours, so every app may write events. The member
is referenced by id (`member_id`, no foreign key: a key would make this app's migrations depend
on `members`'); members are never deleted (erasure keeps the row), so the id always names one.

Invariants (database-enforced where marked [db]):
- [db] Append-only: on PostgreSQL a trigger refuses DELETE, and any UPDATE except the one
  erasure makes: the payload's `member_external_id` set to null (`events_member_forget`).
- [db] `(member_id, sequence)` is unique; a member's sequence runs 1, 2, 3... without gaps: it is
  drawn from the member's `MemberEventCounter` row, whose row lock (taken by the upsert that
  draws the number) serialises the member's event writers until commit, and a rollback returns
  the number with the event.
- [db] `member_id` and `sequence` are both set or both null (`import.completed` has no member).
- [db] One `points.expiring` per member and `expires_by` date.
- The payload carries `member_external_id` (the member's external id at the time, for member
  events) and exactly the keys its type's schema lists (`events.schemas`); never a secret, a
  name, an email, a phone number or a birth date.
- `position` (the primary key) and `txid` (PostgreSQL's id of the writing transaction) order the
  feed: `(txid, position)`; see `events.selectors.events_feed` for why that is safe.
"""

import uuid

import pgtrigger
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Func, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    MEMBER_ENROLLED = "member.enrolled", _("Member enrolled")
    MEMBER_UPDATED = "member.updated", _("Member updated")
    MEMBER_ERASED = "member.erased", _("Member erased")
    POINTS_EARNED = "points.earned", _("Points earned")
    POINTS_REVERSED = "points.reversed", _("Points reversed")
    POINTS_ADJUSTED = "points.adjusted", _("Points adjusted")
    POINTS_EXPIRED = "points.expired", _("Points expired")
    POINTS_EXPIRING = "points.expiring", _("Points expiring soon")
    TIER_CHANGED = "tier.changed", _("Tier changed")
    REWARD_REDEEMED = "reward.redeemed", _("Reward redeemed")
    REWARD_GIFTED = "reward.gifted", _("Reward given as a gift")
    COUPON_USED = "coupon.used", _("Coupon used")
    COUPON_CANCELLED = "coupon.cancelled", _("Coupon cancelled")
    REFERRAL_COMPLETED = "referral.completed", _("Referral completed")
    ADJUSTMENT_APPROVED = "adjustment.approved", _("Adjustment approved")
    IMPORT_COMPLETED = "import.completed", _("Import completed")
    MEMBERSHIP_STARTED = "membership.started", _("Paid membership started")
    MEMBERSHIP_RENEWED = "membership.renewed", _("Paid membership renewed")
    MEMBERSHIP_PAST_DUE = "membership.past_due", _("Paid membership past due")
    MEMBERSHIP_CANCELLED = "membership.cancelled", _("Paid membership cancelled")
    MEMBERSHIP_REFUNDED = "membership.refunded", _("Paid membership refunded")
    MEMBERSHIP_EXPIRED = "membership.expired", _("Paid membership expired")
    MESSAGE_REQUESTED = "message.requested", _("Message requested")
    SEGMENT_ENTERED = "segment.entered", _("Entered a segment")
    SEGMENT_EXITED = "segment.exited", _("Left a segment")


class TransactionId(Func):
    """The writing transaction's id on PostgreSQL (64-bit, never wraps); 0 elsewhere (SQLite
    runs one writing transaction at a time, so `position` alone is already in commit order)."""

    output_field = models.BigIntegerField()
    template = "0"

    def as_postgresql(self, compiler, connection, **extra_context):
        return "txid_current()", []


class Event(models.Model):
    # The feed's order within a transaction; the primary key, so every row gets the next one.
    position = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(_("id"), default=uuid.uuid4, unique=True, editable=False)
    txid = models.BigIntegerField(db_default=TransactionId(), editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    member_id = models.BigIntegerField(null=True, blank=True)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    schema_version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField(encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["txid", "position"]
        constraints = [
            models.UniqueConstraint(fields=["member_id", "sequence"], name="event_member_sequence"),
            models.CheckConstraint(
                condition=Q(member_id__isnull=True, sequence__isnull=True)
                | Q(member_id__isnull=False, sequence__gte=1),
                name="event_member_has_sequence",
            ),
            # The feed reads in this order (`events_feed`).
            models.UniqueConstraint(fields=["txid", "position"], name="event_feed_order"),
            # One expiry notice per member and horizon: the daily job may run again (a
            # catch-up) without telling anyone twice. Partial: no other event pays for it.
            models.UniqueConstraint(
                "member_id",
                KeyTextTransform("expires_by", "payload"),
                condition=Q(type="points.expiring"),
                name="event_expiring_once",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="event_no_delete", operation=pgtrigger.Delete),
            # The one UPDATE allowed: erasure forgetting the external id (nothing else changes).
            pgtrigger.Protect(
                name="event_append_only",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.position IS DISTINCT FROM NEW.position "
                    "OR OLD.uuid IS DISTINCT FROM NEW.uuid "
                    "OR OLD.txid IS DISTINCT FROM NEW.txid "
                    "OR OLD.type IS DISTINCT FROM NEW.type "
                    "OR OLD.occurred_at IS DISTINCT FROM NEW.occurred_at "
                    "OR OLD.member_id IS DISTINCT FROM NEW.member_id "
                    "OR OLD.sequence IS DISTINCT FROM NEW.sequence "
                    "OR OLD.schema_version IS DISTINCT FROM NEW.schema_version "
                    "OR (NEW.payload - 'member_external_id') "
                    "IS DISTINCT FROM (OLD.payload - 'member_external_id') "
                    "OR (NEW.payload -> 'member_external_id' IS DISTINCT FROM "
                    "OLD.payload -> 'member_external_id' "
                    "AND NEW.payload -> 'member_external_id' IS DISTINCT FROM 'null'::jsonb)"
                ),
            ),
        ]

    def __str__(self) -> str:
        who = f" member {self.member_id} #{self.sequence}" if self.member_id else ""
        return f"{self.type}{who} ({self.uuid})"


class MemberEventCounter(models.Model):
    """The last sequence number given to a member's event (see the module's invariants)."""

    member_id = models.BigIntegerField(primary_key=True)
    last = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.last}"
