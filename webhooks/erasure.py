"""Erasure: forget an erased member's external id in the stored deliveries of their events.

The outbox forgets it (`events.services.events_member_forget` sets the payload's
`member_external_id` to null); each delivery keeps its own copy of the body it sends and the
start of every answer it got, so the same is done here, in the erasure's transaction: the
body's `data.member` and `data.payload.member_external_id` become null (a replay sends it so),
and every personal value of the member found in a stored answer is replaced
(`members.erasure.ErasedMember.scrub_text`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.db import connection

from webhooks.models import Delivery, DeliveryAttempt

EXTERNAL_ID_KEY = "member_external_id"


def deliveries_member_forget(*, member_id: int, scrub_text: Callable[[str], str]) -> int:
    """Scrub every stored delivery of the member's events (a primitive: the caller's
    transaction). Returns how many rows changed. Idempotent."""
    assert connection.in_atomic_block, "scrub in the erasure's transaction"
    changed = 0
    deliveries = Delivery.objects.filter(member_id=member_id).only("pk", "body", "last_response")
    for delivery in deliveries.iterator(chunk_size=500):
        body = _forget_in_body(delivery.body)
        response = scrub_text(delivery.last_response)
        if (body, response) != (delivery.body, delivery.last_response):
            Delivery.objects.filter(pk=delivery.pk).update(body=body, last_response=response)
            changed += 1
    attempts = DeliveryAttempt.objects.filter(delivery__member_id=member_id).exclude(response="")
    for attempt in attempts.only("pk", "response").iterator(chunk_size=500):
        response = scrub_text(attempt.response)
        if response != attempt.response:
            DeliveryAttempt.objects.filter(pk=attempt.pk).update(response=response)
            changed += 1
    return changed


def _forget_in_body(body: str) -> str:
    """The body with the external id gone: `data.member` (the feed's shape) and the payload's
    `member_external_id` become null."""
    message = json.loads(body)
    data = message.get("data")
    if not isinstance(data, dict):
        return body
    forgotten = dict(data)
    if forgotten.get("member") is not None:
        forgotten["member"] = None
    payload = forgotten.get("payload")
    if isinstance(payload, dict) and payload.get(EXTERNAL_ID_KEY) is not None:
        forgotten["payload"] = {**payload, EXTERNAL_ID_KEY: None}
    if forgotten == data:
        return body
    message["data"] = forgotten
    return json.dumps(message, separators=(",", ":"), sort_keys=True)
