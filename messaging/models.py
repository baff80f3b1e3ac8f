"""Member messages: templates, the exactly-once log, opt-outs, suppressed addresses, kind settings.

Invariants (database-enforced where marked [db]):
- [db] One log row per (member, kind, subject key): the natural key of a message (the expiry
  date, the tier change id, the redemption id). A retry, a second daily run or a second worker
  inserts nothing new, so nothing is sent twice.
- The log stores no body: it is re-rendered from the template version and the row's `params`
  (ids, dates, points: nothing personal). The rendered subject is kept for the member's page and
  is scrubbed on erasure (`messaging.erasure`).
- [db] One template per (kind, locale); every saved change bumps `version`, which each log row
  records.
- [db] One opt-out per (member, kind); one suppression per address (stored lower-cased).
- The kind is a code from the registry (`messaging.kinds`), not a database choice: an app above
  may add one without a migration here.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Language, Member


class MessageTemplate(models.Model):
    kind = models.CharField(_("kind"), max_length=40)
    locale = models.CharField(_("language"), max_length=8, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=200)
    body_text = models.TextField(_("plain-text body"))
    body_html = models.TextField(_("HTML body"), blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("An inactive template sends nothing: its messages are logged as skipped."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["kind", "locale"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "locale"], name="message_template_kind_locale")
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.locale} · v{self.version}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class MessageLog(models.Model):
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="messages", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=40)
    subject_key = models.CharField(_("subject key"), max_length=64)
    locale = models.CharField(_("language"), max_length=8, choices=Language.choices)
    promotional = models.BooleanField(_("promotional"), default=False)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    template_version = models.PositiveIntegerField(_("template version"), null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    provider_id = models.CharField(_("provider id"), max_length=200, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)
    # The planning batch that inserted the row: after an INSERT ... ON CONFLICT DO NOTHING the
    # planner reads back exactly the rows it made (not those another run made first).
    batch = models.UUIDField(_("batch"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("message log")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "subject_key"], name="message_log_exactly_once"
            )
        ]
        indexes = [
            models.Index(fields=["batch"], name="message_log_batch_idx"),
            models.Index(fields=["status", "requested_at"], name="message_log_status_idx"),
            # The frequency cap: a member's promotional messages, newest first.
            models.Index(
                fields=["member", "requested_at"],
                name="message_log_promo_idx",
                condition=Q(promotional=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_key} → {self.member_id}"


class OptOut(models.Model):
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="message_opt_outs", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=40)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["member", "kind"], name="message_opt_out_once")
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.kind}"


class Suppression(models.Model):
    class Reason(models.TextChoices):
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")

    address = models.CharField(_("address"), max_length=254, unique=True)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    provider_event_id = models.CharField(_("provider event id"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"


class KindSetting(models.Model):
    """A kind switched on or off and its timing; a kind without a row uses its defaults."""

    kind = models.CharField(_("kind"), max_length=40, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    days = models.CharField(
        _("days"),
        max_length=60,
        blank=True,
        help_text=_(
            "Days before the date the message is about, comma-separated (e.g. 30,7); "
            "empty: the kind's default."
        ),
    )

    # An audience: only the members of this segment get the kind (a club is a segment on the
    # `club` condition). Evaluated when each batch is planned (`services._eligible`).
    audience = models.ForeignKey(
        "segments.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("audience (segment)"),
        help_text=_(
            "Only members in this segment get these messages (for a club, a segment on the club "
            "condition); empty: every member who may get them."
        ),
    )

    class Meta:
        verbose_name = _("message kind setting")
        verbose_name_plural = _("message kind settings")
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.kind

    def day_list(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.days.replace(" ", "").split(",") if d)
