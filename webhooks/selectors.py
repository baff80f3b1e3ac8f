"""Reads for webhooks: the event types an endpoint may subscribe to."""

from __future__ import annotations

from webhooks.services.endpoints import TEST_EVENT_TYPE


def event_type_choices() -> list[tuple[str, str]]:
    """The outbox's event types (`events.models.EventType`), as form choices."""
    from events.models import EventType

    return [
        (value, f"{value} ({label})")
        for value, label in EventType.choices
        if value != TEST_EVENT_TYPE
    ]
