"""Webhook jobs (queue `webhooks`): one job per delivery, so a slow endpoint holds only its own.

Idempotent: a job for a delivery that is no longer pending, or not yet due, does nothing.
"""

from __future__ import annotations

from webhooks import services


def deliver(*, delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)
