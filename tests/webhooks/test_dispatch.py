"""The dispatcher: outbox events become deliveries by the feed's cursor, once each.

`transaction=True`: on PostgreSQL the feed shows only events of finished transactions, so the
events must really commit before a pass can see them.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction

from events.models import Event
from events.selectors import event_as_dict
from events.services import event_record
from tests.webhooks.outbox import wait_until_visible
from webhooks import services
from webhooks.models import Delivery, DispatchCursor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _earned(member_id: int = 7, points: int = 10):
    with transaction.atomic():
        return event_record(
            type="points.adjusted",
            member_id=member_id,
            member_external_id=f"C-{member_id}",
            payload={"points": points, "adjustment_id": 3},
        )


def _dispatch(run_jobs, **kwargs):
    with run_jobs():
        return services.events_dispatch(**kwargs)


def _earned_visible(**kwargs):
    event = _earned(**kwargs)
    wait_until_visible(Event.objects.filter(position__lte=event.position).count())
    return event


def test_a_committed_event_reaches_the_endpoint_in_the_feeds_shape(
    receiver, system_actor, run_jobs
):
    services.endpoint_create(url=receiver.url(), actor=system_actor)
    event = _earned_visible()

    assert _dispatch(run_jobs) == (1, False)

    [got] = receiver.at("/hook")
    assert got.id == str(event.uuid)
    occurred = event.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    assert got.json == {
        "type": "points.adjusted",
        "timestamp": occurred,
        "data": event_as_dict(event),
    }
    assert got.json["data"] == {
        "id": str(event.uuid),
        "type": "points.adjusted",
        "schema_version": 1,
        "occurred_at": got.json["data"]["occurred_at"],
        "member": "C-7",
        "member_id": 7,
        "sequence": 1,
        "payload": {"member_external_id": "C-7", "points": 10, "adjustment_id": 3},
    }
    cursor = DispatchCursor.objects.get()
    assert (cursor.txid, cursor.position) == (event.txid or 0, event.position)
    assert Delivery.objects.get().member_id == 7


def test_a_second_pass_sends_nothing_again(receiver, system_actor, run_jobs):
    services.endpoint_create(url=receiver.url(), actor=system_actor)
    _earned_visible()
    _dispatch(run_jobs)

    assert _dispatch(run_jobs) == (0, False)
    assert len(receiver.at("/hook")) == 1


def test_passes_read_in_batches_and_say_when_more_wait(receiver, system_actor, run_jobs):
    services.endpoint_create(url=receiver.url(), actor=system_actor)
    events = [_earned_visible(member_id=n) for n in (1, 2, 3)]

    first, second = _dispatch(run_jobs, batch=2), _dispatch(run_jobs, batch=2)

    assert (first, second) == ((2, True), (1, False))
    assert [r.id for r in receiver.at("/hook")] == [str(e.uuid) for e in events]


def test_without_endpoints_the_cursor_skips_what_nobody_listened_to(
    receiver, system_actor, run_jobs
):
    _earned_visible(member_id=1)
    assert _dispatch(run_jobs) == (0, False)
    services.endpoint_create(url=receiver.url(), actor=system_actor)
    later = _earned_visible(member_id=2)

    assert _dispatch(run_jobs) == (1, False)
    assert [r.id for r in receiver.at("/hook")] == [str(later.uuid)]


def test_only_the_types_an_endpoint_wants(receiver, system_actor, run_jobs):
    services.endpoint_create(url=receiver.url(), actor=system_actor, event_types=["tier.changed"])
    _earned_visible()

    _dispatch(run_jobs)

    assert receiver.received == []
    assert Delivery.objects.count() == 0


def test_replay_from_a_time_sends_the_events_since_again(receiver, system_actor, run_jobs):
    endpoint, _ = services.endpoint_create(url=receiver.url(), actor=system_actor)
    first = _earned_visible(member_id=1)
    second = _earned_visible(member_id=2)
    _dispatch(run_jobs)

    with run_jobs():
        count = services.endpoint_replay_since(
            endpoint=endpoint, since=second.occurred_at, actor=system_actor
        )

    assert count == 1
    ids = [r.id for r in receiver.at("/hook")]
    assert ids == [str(first.uuid), str(second.uuid), str(second.uuid)]
    originals = {d.kind: d.body for d in Delivery.objects.filter(event_id=second.uuid)}
    assert json.loads(originals["replay"]) == json.loads(originals["event"])


@pytest.mark.postgres
def test_new_deliveries_to_an_endpoint_go_in_batches_of_jobs_on_its_slots(
    receiver, system_actor, settings
):
    from procrastinate.contrib.django.models import ProcrastinateJob

    # given batches of 3, two slots per endpoint, and 7 events for one endpoint
    settings.WEBHOOKS_DELIVERY_BATCH = 3
    settings.WEBHOOKS_ENDPOINT_CONCURRENCY = 2
    endpoint, _secret = services.endpoint_create(url=receiver.url(), actor=system_actor)
    last = None
    for member_id in range(1, 8):
        last = _earned(member_id=member_id)
    wait_until_visible(Event.objects.filter(position__lte=last.position).count())

    # when a pass fans them out
    assert services.events_dispatch() == (7, False)

    # then three jobs carry the 7 deliveries, oldest first, each on the slot of its first id
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    jobs = ProcrastinateJob.objects.filter(task_name="webhooks.deliver_batch").order_by("id")
    assert [(j.args["delivery_ids"], j.lock) for j in jobs] == [
        (ids[0:3], f"webhooks.endpoint.{endpoint.pk}.{ids[0] % 2}"),
        (ids[3:6], f"webhooks.endpoint.{endpoint.pk}.{ids[3] % 2}"),
        (ids[6:7], f"webhooks.endpoint.{endpoint.pk}.{ids[6] % 2}"),
    ]
    assert receiver.at("/hook") == []  # nothing sent before a worker runs them
