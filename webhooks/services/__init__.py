"""Writes to webhooks: endpoints and their secrets (`endpoints`), deliveries and their attempts
(`deliveries`), the fan-out of outbox events to deliveries (`dispatch`)."""

from webhooks.services.deliveries import (
    deliveries_attempt,
    deliveries_record,
    deliveries_retry_due,
    delivery_attempt,
    delivery_replay,
)
from webhooks.services.dispatch import (
    REPLAY_LIMIT,
    Message,
    deliveries_fan_out,
    endpoint_replay_since,
    events_dispatch,
    events_dispatch_for,
)
from webhooks.services.endpoints import (
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
    url_check,
)

__all__ = [
    "REPLAY_LIMIT",
    "Message",
    "deliveries_attempt",
    "deliveries_fan_out",
    "deliveries_record",
    "deliveries_retry_due",
    "delivery_attempt",
    "delivery_replay",
    "endpoint_create",
    "endpoint_replay_since",
    "endpoint_rotate_secret",
    "endpoint_send_test",
    "endpoint_update",
    "events_dispatch",
    "events_dispatch_for",
    "url_check",
]
