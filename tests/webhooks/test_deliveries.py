"""Deliveries on SQLite or PostgreSQL, jobs run in-process after commit, to a real receiver."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone

from config.errors import ServiceError
from members.models import AuditEntry
from tests.webhooks.receiver import verify
from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run the jobs deferred inside the block once it commits (as on SQLite)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def endpoint_at(receiver, system_actor):
    def make(path="/hook", **kwargs):
        endpoint, secret = services.endpoint_create(
            url=receiver.url(path), actor=system_actor, **kwargs
        )
        endpoint.secret = secret
        return endpoint

    return make


def _message(event_type="points.earned", **data) -> services.Message:
    """An event that occurred now (endpoints get the events that occur after they exist)."""
    return services.Message(
        id=uuid.uuid4(),
        type=event_type,
        occurred_at=timezone.now(),
        data=data or {"member": "C-1", "points": 10},
    )


def _retry_now(run_jobs, delivery) -> int:
    """Time passes: the delivery's retry is due now, and the safety net defers its job."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    with run_jobs():
        return services.deliveries_retry_due()


def _fan_out(run_jobs, *messages):
    from django.db import transaction

    with run_jobs(), transaction.atomic():
        return services.deliveries_fan_out(messages=messages)


def test_a_test_event_arrives_signed(receiver, endpoint_at, system_actor, run_jobs):
    endpoint = endpoint_at()

    with run_jobs():
        delivery = services.endpoint_send_test(endpoint=endpoint, actor=system_actor)

    [got] = receiver.at("/hook")
    assert verify(secret=endpoint.secret, headers=got.headers, body=got.body)
    assert got.id == str(delivery.event_id)
    assert got.json["type"] == "webhook.test"
    assert got.json["data"] == {"endpoint_id": endpoint.pk, "sent_by": "system:tests"}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 204)]


def test_an_event_goes_to_the_endpoints_that_want_its_type(receiver, endpoint_at, run_jobs):
    earned = endpoint_at("/earned", event_types=["points.earned"])
    everything = endpoint_at("/all")
    endpoint_at("/tiers", event_types=["tier.changed"])
    message = _message()

    created = _fan_out(run_jobs, message)

    assert sorted(d.endpoint_id for d in created) == [earned.pk, everything.pk]
    assert [r.id for r in receiver.at("/earned")] == [str(message.id)]
    assert [r.id for r in receiver.at("/all")] == [str(message.id)]
    assert receiver.at("/tiers") == []
    body = receiver.at("/earned")[0].json
    assert body == {
        "type": "points.earned",
        "timestamp": message.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": {"member": "C-1", "points": 10},
    }


def test_an_endpoint_gets_no_event_from_before_it_existed(receiver, endpoint_at, run_jobs):
    endpoint_at()
    message = _message()
    older = services.Message(
        id=uuid.uuid4(),
        type=message.type,
        occurred_at=message.occurred_at - dt.timedelta(minutes=1),
        data=message.data,
    )

    assert _fan_out(run_jobs, older) == []


def test_a_second_fan_out_of_the_same_event_writes_nothing(receiver, endpoint_at, run_jobs):
    endpoint_at()
    message = _message()
    _fan_out(run_jobs, message)

    again = _fan_out(run_jobs, message)

    assert again == []
    assert len(receiver.at("/hook")) == 1


@pytest.mark.parametrize("how", ["500", "hang", "close", "redirect"])
def test_a_failed_attempt_is_retried_on_the_schedule(
    how, receiver, endpoint_at, run_jobs, quick_timeouts
):
    endpoint_at()
    receiver.behave("/hook", how)
    message = _message()

    before = timezone.now()
    [delivery] = _fan_out(run_jobs, message)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    wait = delivery.next_attempt_at - before
    assert dt.timedelta(seconds=5) <= wait < dt.timedelta(seconds=8)
    # when the receiver is fixed and the retry is due
    receiver.released.set()
    receiver.behave("/hook", "ok")
    assert _retry_now(run_jobs, delivery) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 204)
    assert {r.id for r in receiver.at("/hook")} == {str(message.id)}


def test_the_retry_waits_grow_on_the_schedule_until_the_delivery_fails(
    receiver, endpoint_at, run_jobs, settings
):
    settings.WEBHOOKS_RETRY_SCHEDULE = [5, 300, 1800]
    endpoint_at()
    receiver.behave("/hook", "503")
    [delivery] = _fan_out(run_jobs, _message())
    waits = []

    for _ in range(3):
        delivery.refresh_from_db()
        waits.append(round((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()))
        _retry_now(run_jobs, delivery)

    delivery.refresh_from_db()
    assert waits == [5, 300, 1800]
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 4, None)
    assert delivery.last_response == "answer 503"


def test_410_switches_the_endpoint_off_and_cancels_its_pending_deliveries(
    receiver, endpoint_at, run_jobs
):
    endpoint = endpoint_at()
    receiver.behave("/hook", "500")
    [waiting] = _fan_out(run_jobs, _message())
    receiver.behave("/hook", "410")

    [gone] = _fan_out(run_jobs, _message())

    endpoint.refresh_from_db()
    gone.refresh_from_db()
    waiting.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason) == (False, "gone")
    assert (gone.status, waiting.status) == ("failed", "cancelled")
    assert _fan_out(run_jobs, _message()) == []  # a switched-off endpoint gets nothing new
    assert AuditEntry.objects.filter(action="webhook.endpoint.disable").count() == 1


def test_failing_for_the_configured_days_switches_the_endpoint_off(
    receiver, endpoint_at, run_jobs, settings
):
    settings.WEBHOOKS_DISABLE_AFTER_DAYS = 3
    endpoint = endpoint_at()
    receiver.behave("/hook", "500")
    _fan_out(run_jobs, _message())
    endpoint.refresh_from_db()
    assert endpoint.active
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - dt.timedelta(days=3, seconds=1)
    )

    [delivery] = _fan_out(run_jobs, _message())

    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason) == (False, "failing")
    assert delivery.status == "failed"


def test_a_success_ends_the_failure_streak(receiver, endpoint_at, run_jobs):
    endpoint = endpoint_at()
    receiver.behave("/hook", "500")
    _fan_out(run_jobs, _message())
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    receiver.behave("/hook", "ok")

    _fan_out(run_jobs, _message())

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_during_the_overlap_both_secrets_sign_then_only_the_new_one(
    receiver, endpoint_at, system_actor, run_jobs
):
    endpoint = endpoint_at()
    old = endpoint.secret

    new = services.endpoint_rotate_secret(
        endpoint=endpoint, actor=system_actor, overlap=dt.timedelta(hours=1)
    )
    _fan_out(run_jobs, _message())
    services.endpoint_rotate_secret(endpoint=endpoint, actor=system_actor, overlap=dt.timedelta(0))
    _fan_out(run_jobs, _message())

    during, after = receiver.at("/hook")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(secret=new, headers=during.headers, body=during.body)
    assert verify(secret=old, headers=during.headers, body=during.body)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert not verify(secret=new, headers=after.headers, body=after.body)
    assert not verify(secret=old, headers=after.headers, body=after.body)


def test_a_replay_sends_the_same_event_id_and_body_again(
    receiver, endpoint_at, system_actor, run_jobs
):
    endpoint_at()
    [delivery] = _fan_out(run_jobs, _message())

    with run_jobs():
        replay = services.delivery_replay(delivery=delivery, actor=system_actor)

    first, second = receiver.at("/hook")
    assert first.id == second.id == str(delivery.event_id)
    assert first.body == second.body
    replay.refresh_from_db()
    assert (replay.kind, replay.status) == ("replay", "delivered")


def test_an_address_refused_at_delivery_time_is_a_failed_attempt(
    receiver, endpoint_at, run_jobs, settings
):
    endpoint_at()
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False  # e.g. the name now resolves elsewhere

    [delivery] = _fan_out(run_jobs, _message())

    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("refused: The host 127.0.0.1 resolves to 127.0.0.1")
    assert receiver.received == []


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1/hook", "address_not_public"),
        ("http://169.254.169.254/latest/meta-data", "address_not_public"),
        ("gopher://example.com/", "url_scheme"),
        ("https://no-such-host.invalid/", "host_unresolvable"),
    ],
)
def test_an_endpoint_with_a_refused_url_is_not_created(url, code, system_actor, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False

    with pytest.raises(ServiceError) as refused:
        services.endpoint_create(url=url, actor=system_actor)

    assert (refused.value.code, refused.value.errors[0]["field"]) == (code, "url")
    assert Endpoint.objects.count() == 0


def test_the_body_is_the_json_the_receiver_gets(receiver, endpoint_at, run_jobs):
    endpoint_at()
    [delivery] = _fan_out(run_jobs, _message(points=5))

    assert json.loads(delivery.body) == receiver.at("/hook")[0].json
