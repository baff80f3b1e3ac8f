"""Member identity and the audit log (the API's idempotency records: the `idempotency` app).

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
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.countries import country_validate


class ActorFields(models.Model):
    """Who did it: exactly one of a staff user, an API key, or a system job (label only)."""

    class ActorKind(models.TextChoices):
        STAFF = "staff", _("Staff user")
        API = "api", _("API client")
        SYSTEM = "system", _("System job")

    actor_kind = models.CharField(
        max_length=8, choices=ActorKind.choices, verbose_name=_("actor kind")
    )
    actor_label = models.CharField(max_length=150, verbose_name=_("actor label"))
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor user"),
    )
    actor_api_key = models.ForeignKey(
        "rest_framework_api_key.APIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=True,
        verbose_name=_("actor api key"),
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
        verbose_name=_("actor user"),
    )
    actor_api_key = models.ForeignKey(
        "rest_framework_api_key.APIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("actor api key"),
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


class Language(models.TextChoices):
    """The languages members and staff are written to in (settings.LANGUAGES)."""

    ENGLISH = "en", _("English")
    SIMPLIFIED_CHINESE = "zh-hans", _("Simplified Chinese")


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        ERASED = "erased", _("Erased")

    external_id = models.CharField(_("external id"), max_length=64, unique=True)
    email = models.EmailField(max_length=254, null=True, blank=True, verbose_name=_("email"))
    first_name = models.CharField(max_length=150, blank=True, verbose_name=_("first name"))
    last_name = models.CharField(max_length=150, blank=True, verbose_name=_("last name"))
    phone = models.CharField(max_length=32, blank=True, verbose_name=_("phone"))
    birth_date = models.DateField(null=True, blank=True, verbose_name=_("birth date"))
    marketing_consent = models.BooleanField(default=False, verbose_name=_("marketing consent"))
    # ISO 3166-1 alpha-2, upper case, or "" (unknown): `members.countries`.
    country = models.CharField(
        max_length=2,
        blank=True,
        default="",
        # A database default too: the import and other set-based INSERTs leave the column out.
        db_default="",
        validators=[country_validate],
        verbose_name=_("country"),
        help_text=_("ISO 3166-1 alpha-2 code, such as GB or CN."),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    enrolled_at = models.DateTimeField(default=timezone.now, verbose_name=_("enrolled at"))
    referral_code = models.CharField(max_length=16, unique=True, verbose_name=_("referral code"))
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals",
        verbose_name=_("referred by"),
    )
    erased_at = models.DateTimeField(null=True, blank=True, verbose_name=_("erased at"))
    locale = models.CharField(
        _("language"),
        max_length=8,
        choices=Language.choices,
        blank=True,
        # Rows written by SQL of our own (the historical import's bulk insert) get it too.
        db_default="",
        help_text=_("The language of the member's messages; empty: the program's language."),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
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

    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created at")
    )
    action = models.CharField(max_length=64, verbose_name=_("action"))
    target_type = models.CharField(max_length=64, verbose_name=_("target type"))
    target_id = models.CharField(max_length=64, verbose_name=_("target id"))
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_entries",
        verbose_name=_("member"),
    )
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    changes = models.JSONField(default=dict, blank=True, verbose_name=_("changes"))

    class Meta:
        verbose_name = _("audit entry")
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("audit entries")
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
