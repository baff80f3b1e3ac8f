"""Member identity, the audit log, and the API's idempotency records.

Invariants:
- `external_id` (the storefront's customer id) is unique and never changes.
- `email` is unique compared case-insensitively (a functional unique index on `lower(email)`); it is
  stored lower-cased. It is required on enrolment through the API; it is NULL for an erased
  member and for a customer a historical import brought without one (order histories such as
  Online Retail have none): such a member gets one when the storefront first enrols them (PUT).
- Erasure blanks personal data but keeps the row, so the ledger and orders that point at it stay
  whole; an erased member is never un-erased.
- `referral_code` is unique and unguessable (random, from an alphabet without look-alike letters).
- Audit entries are append-only.
- An idempotency record is unique per (API key, Idempotency-Key) and is written in the same
  transaction as the work it answers for, so a stored response always means the work committed.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class ActorFields(models.Model):
    """Who did it: exactly one of a staff user, an API key, or a system job (label only)."""

    class ActorKind(models.TextChoices):
        STAFF = "staff", "Staff user"
        API = "api", "API client"
        SYSTEM = "system", "System job"

    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor_label = models.CharField(max_length=150)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        "rest_framework_api_key.APIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=True,
    )

    class Meta:
        abstract = True


class BulkActorFields(ActorFields):
    """`ActorFields` for tables written in bulk (the ledger, the tier history): the actor columns
    get no full index, since most rows are by the storefront or a system job and every index costs
    each row written; the model indexes the rows that have one with `actor_partial_indexes`."""

    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    actor_api_key = models.ForeignKey(
        "rest_framework_api_key.APIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        abstract = True


def actor_partial_indexes(*, user_index: str, api_key_index: str) -> list[models.Index]:
    """Indexes of a `BulkActorFields` model's rows that have a staff user / an API key."""
    return [
        models.Index(
            fields=["actor_user"], name=user_index, condition=models.Q(actor_user__isnull=False)
        ),
        models.Index(
            fields=["actor_api_key"],
            name=api_key_index,
            condition=models.Q(actor_api_key__isnull=False),
        ),
    ]


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ERASED = "erased", "Erased"

    external_id = models.CharField("external id", max_length=64, unique=True)
    email = models.EmailField(max_length=254, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    marketing_consent = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    enrolled_at = models.DateTimeField(default=timezone.now)
    referral_code = models.CharField(max_length=16, unique=True)
    referred_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("erase_member", "Can erase a member's personal data"),
            ("export_member", "Can export members"),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="member_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended", "erased"]),
                name="member_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["phone"], name="member_phone_idx"),
            models.Index(Lower("last_name"), Lower("first_name"), name="member_name_ci_idx"),
            models.Index(fields=["status", "enrolled_at"], name="member_status_enrolled_idx"),
            models.Index(fields=["enrolled_at"], name="member_enrolled_idx"),
        ]

    def __str__(self) -> str:
        if self.status == self.Status.ERASED:
            return f"{self.external_id} (erased)"
        # An imported customer may have neither a name nor an email yet: the id alone then.
        label = f"{self.first_name} {self.last_name}".strip() or self.email
        return f"{self.external_id} · {label}" if label else self.external_id

    @property
    def is_erased(self) -> bool:
        return self.status == self.Status.ERASED


class AuditEntry(ActorFields):
    """Who changed what and when: one row per staff or system change to program data.

    `changes` maps a field to `[old, new]` (as strings); `target` names the object
    (`"members.member:42"`). Append-only: nothing updates or deletes these rows.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        triggers = [
            pgtrigger.Protect(
                name="audit_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_type}"
        )


class IdempotencyRecord(models.Model):
    """The stored answer to one storefront `POST` made with an `Idempotency-Key`.

    Cross-cutting API infrastructure (see `config.api.idempotency`): the key is scoped to the API
    key that sent it; `endpoint` (method and path) and `fingerprint` (sha256 of the canonical JSON
    body) tell a true retry from a key reused for another request. Kept at least 24 hours, then
    purged by the daily jobs (`members.services.idempotency_purge`).
    """

    api_key = models.ForeignKey(
        "rest_framework_api_key.APIKey", on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    endpoint = models.TextField()
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} → {self.response_status} ({self.endpoint})"
