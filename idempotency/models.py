"""The stored answers of idempotent API requests (module docstring of the app: `idempotency`).

Invariant: one record per (API key, key), enforced by the database; a record is written in the
transaction of the work it answers for, so it exists if and only if that work committed (or was a
stored refusal).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The stored answer to one storefront `POST` made with an `Idempotency-Key`.

    Cross-cutting API infrastructure (see `config.api.idempotency`): the key is scoped to the API
    key that sent it; `endpoint` (method and path) and `fingerprint` (sha256 of the canonical JSON
    body) tell a true retry from a key reused for another request. Kept at least 24 hours, then
    purged by the daily jobs (`idempotency.services.idempotency_purge`).
    """

    api_key = models.ForeignKey(
        "rest_framework_api_key.APIKey",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("api key"),
    )
    key = models.CharField(max_length=255, verbose_name=_("key"))
    endpoint = models.TextField(verbose_name=_("endpoint"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    response_status = models.PositiveSmallIntegerField(verbose_name=_("response status"))
    response_body = models.JSONField(null=True, blank=True, verbose_name=_("response body"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        db_table = "idempotency_record"
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "key"], name="idempotency_record_key_unique"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_record_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} → {self.response_status} ({self.endpoint})"
