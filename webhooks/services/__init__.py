"""Writes to webhooks: endpoints and their secrets (`endpoints`), deliveries and their attempts
(`deliveries`), the fan-out of outbox events to deliveries (`dispatch`)."""

from webhooks.services.deliveries import (
    deliveries_retry_due,
    delivery_attempt,
    delivery_replay,
)
from webhooks.services.endpoints import (
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
)

__all__ = [
    "deliveries_retry_due",
    "delivery_attempt",
    "delivery_replay",
    "endpoint_create",
    "endpoint_rotate_secret",
    "endpoint_send_test",
    "endpoint_update",
]
