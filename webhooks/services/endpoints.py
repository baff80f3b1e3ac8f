"""Endpoints: create, change, switch off, rotate the secret, send a test event.

Invariants: a URL is checked when it is saved (shape, no credentials, resolves only to public
addresses unless `WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`), so a bad one is refused with an error on the
`url` field; it is checked again on every delivery (DNS answers change). A secret is returned once,
by `endpoint_create` and `endpoint_rotate_secret`, and never read back through the admin. Every
change is audited with its actor.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import ServiceError
from members.actors import Actor
from members.services import audit_record
from webhooks import signing, transport
from webhooks.models import Delivery, Endpoint, EndpointSecret
from webhooks.queue import delivery_defer

TEST_EVENT_TYPE = "webhook.test"
EDITABLE = ("url", "description", "event_types", "active")


def url_check(url: str) -> str:
    """The URL, stripped, if deliveries may go to it; else `ServiceError` on the `url` field."""
    url = (url or "").strip()
    try:
        transport.url_resolve(url)
    except transport.UrlRefused as exc:
        raise ServiceError(exc.code, exc.message, status=400, field="url") from None
    return url


def _event_types_check(event_types: list[str] | None) -> list[str]:
    types = sorted({t.strip() for t in event_types or [] if t and t.strip()})
    bad = [t for t in types if len(t) > 100 or " " in t]
    if bad:
        raise ServiceError(
            "validation_error",
            gettext("Not an event type: %(type)s.") % {"type": repr(bad[0])},
            status=400,
            field="event_types",
        )
    return types


def endpoint_create(
    *,
    url: str,
    actor: Actor,
    description: str = "",
    event_types: list[str] | None = None,
    active: bool = True,
) -> tuple[Endpoint, str]:
    """A new endpoint and its first secret: `(endpoint, "whsec_...")`. Show the secret once."""
    url = url_check(url)
    types = _event_types_check(event_types)
    secret = signing.secret_generate()
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            url=url, description=description.strip(), event_types=types, active=active
        )
        EndpointSecret.objects.create(endpoint=endpoint, secret=secret)
        audit_record(
            actor=actor,
            action="webhook.endpoint.create",
            target=endpoint,
            changes={"url": (None, url), "event_types": (None, ", ".join(types) or "(all)")},
        )
    return endpoint, secret


def endpoint_update(*, endpoint: Endpoint, actor: Actor, **fields) -> Endpoint:
    """Change the URL, description, event types or `active`. Switching an endpoint back on
    clears why it was switched off (and its failure streak); pending deliveries of a switched-off
    endpoint were cancelled and stay so (replay them from a time)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"endpoint_update() cannot change {sorted(unknown)}")
    if "url" in fields:
        fields["url"] = url_check(fields["url"])
    if "event_types" in fields:
        fields["event_types"] = _event_types_check(fields["event_types"])
    if "description" in fields:
        fields["description"] = fields["description"].strip()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        changes = {
            name: (getattr(endpoint, name), value)
            for name, value in fields.items()
            if getattr(endpoint, name) != value
        }
        if not changes:
            return endpoint
        for name, (_, value) in changes.items():
            setattr(endpoint, name, value)
        if changes.get("active") == (False, True):
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            endpoint.failing_since = None
        elif changes.get("active") == (True, False):
            _switch_off(endpoint, Endpoint.DisabledReason.BY_STAFF)
        endpoint.save()
        audit_record(
            actor=actor, action="webhook.endpoint.change", target=endpoint, changes=changes
        )
    return endpoint


def endpoint_disable(*, endpoint_id: int, reason: str, actor: Actor) -> bool:
    """Switch an endpoint off (a primitive: the caller's transaction). Its pending deliveries
    are cancelled. False if it was already off."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    if not endpoint.active:
        return False
    endpoint.active = False
    _switch_off(endpoint, reason)
    endpoint.save(update_fields=["active", "disabled_reason", "disabled_at", "updated_at"])
    audit_record(
        actor=actor,
        action="webhook.endpoint.disable",
        target=endpoint,
        changes={"active": (True, False)},
        reason=Endpoint.DisabledReason(reason).label,
    )
    return True


def _switch_off(endpoint: Endpoint, reason: str) -> None:
    endpoint.disabled_reason = reason
    endpoint.disabled_at = timezone.now()
    Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.CANCELLED, next_attempt_at=None
    )


def endpoint_rotate_secret(
    *, endpoint: Endpoint, actor: Actor, overlap: dt.timedelta | None = None
) -> str:
    """A new current secret; the previous ones keep signing until `overlap` from now (default
    `WEBHOOKS_SECRET_OVERLAP_HOURS`; zero ends them at once). Returns the new secret: show it
    once."""
    if overlap is None:
        overlap = dt.timedelta(hours=settings.WEBHOOKS_SECRET_OVERLAP_HOURS)
    if overlap < dt.timedelta(0):
        raise ServiceError(
            "validation_error",
            gettext("The overlap cannot be negative."),
            status=400,
            field="overlap",
        )
    now = timezone.now()
    secret = signing.secret_generate()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        # Older secrets still overlapping end no later than the one being replaced.
        EndpointSecret.objects.filter(endpoint=endpoint, expires_at__gt=now + overlap).update(
            expires_at=now + overlap
        )
        EndpointSecret.objects.filter(endpoint=endpoint, expires_at__isnull=True).update(
            expires_at=now + overlap
        )
        EndpointSecret.objects.create(endpoint=endpoint, secret=secret)
        audit_record(
            actor=actor,
            action="webhook.endpoint.rotate_secret",
            target=endpoint,
            changes={"previous secret valid until": (None, (now + overlap).isoformat())},
        )
    return secret


def message_body(
    *, event_type: str, occurred_at: dt.datetime, data: dict, envelope: dict | None = None
) -> str:
    """The JSON body of a message: the Standard Webhooks shape (`type`, `timestamp`, `data`)
    and, for an outbox event, the rest of the event's public shape (`envelope`: id,
    schema_version, occurred_at, member_id, sequence), as the events feed gives it."""
    timestamp = occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {**(envelope or {}), "type": event_type, "timestamp": timestamp, "data": data},
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    )


def endpoint_send_test(*, endpoint: Endpoint, actor: Actor) -> Delivery:
    """Queue a `webhook.test` message to the endpoint (even if switched off: that is how one
    checks a fix before switching it back on). Its result shows in the delivery log."""
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            kind=Delivery.Kind.TEST,
            event_id=uuid.uuid4(),
            event_type=TEST_EVENT_TYPE,
            occurred_at=now,
            body=message_body(
                event_type=TEST_EVENT_TYPE,
                occurred_at=now,
                data={"endpoint_id": endpoint.pk, "sent_by": actor.label},
            ),
            next_attempt_at=now,
        )
        delivery_defer(delivery.pk, endpoint_id=endpoint.pk)
    return delivery
