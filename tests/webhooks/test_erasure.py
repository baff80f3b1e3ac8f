"""Erasure: the stored deliveries of an erased member's events forget their external id."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.utils import timezone

from webhooks.erasure import deliveries_member_forget
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.services.endpoints import message_body

pytestmark = pytest.mark.django_db


def _delivery(endpoint, member_id, external_id):
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id="6f1c2a4e-0b5d-4a8e-9f00-000000000001"[:-1] + str(member_id),
        event_type="points.earned",
        occurred_at=timezone.now(),
        member_id=member_id,
        body=message_body(
            event_type="points.earned",
            occurred_at=timezone.now(),
            data={
                "member": external_id,
                "payload": {"member_external_id": external_id, "points": 5},
            },
        ),
        last_response=f"got {external_id}, thanks",
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, attempted_at=timezone.now(), response=f"ok {external_id}"
    )
    return delivery


def test_the_members_deliveries_forget_and_the_others_stay(receiver, system_actor):
    from webhooks import services

    endpoint, _ = services.endpoint_create(url=receiver.url(), actor=system_actor)
    erased = _delivery(endpoint, 1, "C-1")
    other = _delivery(endpoint, 2, "C-2")

    with transaction.atomic():
        changed = deliveries_member_forget(
            member_id=1, scrub_text=lambda text: text.replace("C-1", "(erased)")
        )

    erased.refresh_from_db()
    other.refresh_from_db()
    assert changed == 2
    assert json.loads(erased.body)["data"] == {
        "member": None,
        "payload": {"member_external_id": None, "points": 5},
    }
    assert erased.last_response == "got (erased), thanks"
    assert erased.attempt_log.get().response == "ok (erased)"
    assert json.loads(other.body)["data"]["payload"]["member_external_id"] == "C-2"
    assert other.attempt_log.get().response == "ok C-2"
    with transaction.atomic():  # idempotent
        assert deliveries_member_forget(member_id=1, scrub_text=lambda text: text) == 0
