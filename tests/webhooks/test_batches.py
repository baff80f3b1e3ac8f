"""Batches of first attempts: sent in order, each at most once, outcomes recorded in groups with
the same decisions as one delivery at a time (SQLite or PostgreSQL, jobs in-process)."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction
from django.utils import timezone

from webhooks import services, transport
from webhooks.models import Delivery, Endpoint
from webhooks.services import deliveries as deliveries_module

pytestmark = pytest.mark.django_db


def _deliveries(endpoint, count: int) -> list[Delivery]:
    messages = [
        services.Message(
            id=uuid.uuid4(), type="points.earned", occurred_at=timezone.now(), data={"n": n}
        )
        for n in range(count)
    ]
    with transaction.atomic():
        created = services.deliveries_fan_out(messages=messages, endpoints=[endpoint])
    return sorted(created, key=lambda d: d.pk)


@pytest.fixture
def endpoint(receiver, system_actor):
    endpoint, _secret = services.endpoint_create(url=receiver.url(), actor=system_actor)
    return endpoint


def _answer(status: int | None) -> transport.Answer:
    return transport.Answer(status, b"", False, "" if status else "connect timeout", 3)


def test_a_batch_sends_its_deliveries_in_order_recording_them_in_groups(
    receiver, endpoint, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(deliveries_module, "RECORD_EVERY", 2)
    with django_capture_on_commit_callbacks(execute=False):
        batch = _deliveries(endpoint, 5)
    # one of them was delivered meanwhile (say, by a replay's job): the batch skips it
    Delivery.objects.filter(pk=batch[2].pk).update(status=Delivery.Status.DELIVERED)

    services.deliveries_attempt(delivery_ids=[d.pk for d in batch])

    assert [got.json["data"]["n"] for got in receiver.at("/hook")] == [0, 1, 3, 4]
    rows = Delivery.objects.filter(pk__in=[d.pk for d in batch]).order_by("pk")
    assert [(d.status, d.attempts, d.last_status_code) for d in rows] == [
        ("delivered", 1, 204),
        ("delivered", 1, 204),
        ("delivered", 0, None),
        ("delivered", 1, 204),
        ("delivered", 1, 204),
    ]


def test_recorded_together_the_outcomes_decide_as_one_at_a_time(
    endpoint, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=False):
        batch = _deliveries(endpoint, 4)
    start = timezone.now()
    attempted = [start] * 4

    # ok, failed, ok: the success after the failure ends the failing streak
    with django_capture_on_commit_callbacks(execute=False):
        services.deliveries_record(
            outcomes=list(
                zip(
                    [d.pk for d in batch[:3]],
                    [_answer(204), _answer(500), _answer(204)],
                    attempted,
                    strict=False,
                )
            )
        )
    rows = Delivery.objects.filter(pk__in=[d.pk for d in batch]).order_by("pk")
    first_retry = settings.WEBHOOKS_RETRY_SCHEDULE[0]
    assert [(d.status, d.attempts, d.last_status_code) for d in rows] == [
        ("delivered", 1, 204),
        ("pending", 1, 500),
        ("delivered", 1, 204),
        ("pending", 0, None),
    ]
    retry_at = rows[1].next_attempt_at
    assert first_retry - 1 <= (retry_at - start).total_seconds() <= first_retry + 5
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is None

    # a failure last: the streak starts
    with django_capture_on_commit_callbacks(execute=False):
        services.deliveries_record(outcomes=[(batch[3].pk, _answer(None), start)])
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is not None
    assert list(rows[1].attempt_log.values_list("number", "status_code")) == [(1, 500)]
