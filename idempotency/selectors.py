"""Reads of idempotency records."""

from __future__ import annotations

from idempotency.models import IdempotencyRecord


def idempotency_record_find(*, api_key_id: str, key: str) -> IdempotencyRecord | None:
    """The stored answer for this API key's `Idempotency-Key`, if any."""
    return IdempotencyRecord.objects.filter(api_key_id=api_key_id, key=key).first()
