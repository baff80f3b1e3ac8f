"""Bounces and complaints from the email service provider (django-anymail's `tracking` signal,
fed by its webhook views under /anymail/): the address is suppressed at once, so the planner and
the send job give it nothing more. Other event types (delivered, opened) are ignored."""

from __future__ import annotations

from messaging.models import Suppression
from messaging.services import suppression_record

REASONS = {"bounced": Suppression.Reason.BOUNCED, "complained": Suppression.Reason.COMPLAINED}


def tracking_received(sender, event, esp_name: str = "", **kwargs) -> None:
    reason = REASONS.get(getattr(event, "event_type", ""))
    if reason is not None and event.recipient:
        suppression_record(
            address=event.recipient, reason=reason, provider_event_id=event.event_id or ""
        )
