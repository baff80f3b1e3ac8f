"""Webhooks with real workers on PostgreSQL (`manage.py procrastinate worker` subprocesses on
the test database) and a real receiver on 127.0.0.1: the periodic dispatcher fans events out,
one job per delivery; failing endpoints are retried without holding the others; a receiver down
then up gets every event; a worker killed mid-delivery loses nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from events.services import event_record
from tests.jobs.worker import kill, running_worker, wait_for
from tests.webhooks.receiver import Receiver, verify
from webhooks import services
from webhooks.models import Delivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Retries after 1 s instead of the production schedule; short network timeouts.
FAST = {
    "WEBHOOKS_RETRY_SCHEDULE": ",".join(["1"] * 30),
    "WEBHOOKS_CONNECT_TIMEOUT": "1",
    "WEBHOOKS_READ_TIMEOUT": "3",
    "WEBHOOKS_TOTAL_TIMEOUT": "3",
    "JOBS_WORKER_CONCURRENCY": "4",
    # The dispatcher every second for under a second (SIGTERM at the end is not kept waiting).
    "WEBHOOKS_DISPATCH_CRON": "* * * * * *",
    "WEBHOOKS_DISPATCH_SECONDS": "0.8",
}


def _events(count: int, start: int = 1) -> list[str]:
    with transaction.atomic():
        return [
            str(
                event_record(
                    type="points.adjusted",
                    member_id=n,
                    member_external_id=f"C-{n}",
                    payload={"points": n, "adjustment_id": n},
                ).uuid
            )
            for n in range(start, start + count)
        ]


def _endpoint(receiver, path, system_actor):
    endpoint, secret = services.endpoint_create(url=receiver.url(path), actor=system_actor)
    return endpoint, secret


def _all_delivered() -> bool:
    return not Delivery.objects.exclude(status="delivered").exists() and Delivery.objects.exists()


def test_failing_endpoints_are_retried_and_do_not_hold_the_others(receiver, system_actor, tmp_path):
    # given four endpoints: one hangs, one answers 500, one drops the connection, one is fine
    for path, how in (("/hang", "hang"), ("/500", "500"), ("/close", "close"), ("/ok", "ok")):
        receiver.behave(path, how)
        _endpoint(receiver, path, system_actor)
    ids = _events(5)

    with running_worker(tmp_path, env=FAST):
        # then the fine endpoint gets every event while the hanging one still hangs, which holds
        # at most WEBHOOKS_ENDPOINT_CONCURRENCY (2) of the worker's 4 slots
        wait_for(lambda: {r.id for r in receiver.at("/ok")} == set(ids), what="/ok's events")
        assert len(receiver.at("/hang")) <= 2
        hanging = Delivery.objects.filter(endpoint__url__endswith="/hang")
        assert hanging.filter(status="delivered").count() == 0
        # when the endpoints recover
        for path in ("/hang", "/500", "/close"):
            receiver.behave(path, "ok")
        receiver.released.set()
        wait_for(_all_delivered, timeout=120, what="every delivery")

    # then each endpoint has every event, possibly more than once, never one too many after
    # de-duplication on webhook-id
    for path in ("/hang", "/500", "/close", "/ok"):
        assert {r.id for r in receiver.at(path) if r.headers.get("webhook-id")} == set(ids)
    retried = Delivery.objects.filter(attempts__gt=1).values_list("endpoint__url", flat=True)
    assert {url.rsplit("/", 1)[1] for url in retried} >= {"500", "close"}


def test_a_receiver_down_then_up_gets_every_event(system_actor, tmp_path):
    # given a receiver that is down (nothing listens on its port) while events happen
    receiver = Receiver()
    port = receiver.port
    url = receiver.url()
    receiver.close()
    endpoint, secret = services.endpoint_create(url=url, actor=system_actor)
    ids = _events(10)

    with running_worker(tmp_path, env=FAST):
        wait_for(
            lambda: Delivery.objects.filter(attempts__gte=2).count() == 10,
            timeout=90,
            what="two failed attempts each",
        )
        # when it comes back on the same port
        receiver = Receiver(port=port)
        try:
            wait_for(_all_delivered, timeout=120, what="every delivery")
        finally:
            receiver.close()

    # then every event arrived, signed; no id is missing and none is extra after de-duplication
    received = receiver.at("/hook")
    assert {r.id for r in received} == set(ids)
    assert all(verify(secret=secret, headers=r.headers, body=r.body) for r in received)
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.failing_since) == (True, None)


def test_a_worker_killed_mid_delivery_delivers_at_least_once(receiver, system_actor, tmp_path):
    # given an endpoint that holds the first request open, and a worker sending an event to it
    receiver.behave("/hook", "hang")
    _, secret = services.endpoint_create(url=receiver.url(), actor=system_actor)
    [event_id] = _events(1)
    slow = {**FAST, "WEBHOOKS_READ_TIMEOUT": "60", "WEBHOOKS_TOTAL_TIMEOUT": "60"}
    with running_worker(tmp_path, name="doomed", env=slow) as doomed:
        wait_for(lambda: len(receiver.at("/hook")) == 1, what="the first request")
        # when the worker is SIGKILLed mid-delivery
        kill(doomed)
    receiver.behave("/hook", "ok")
    receiver.released.set()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)  # nothing was recorded

    # then another worker recovers the stalled job and delivers the event
    recovery = {
        **FAST,
        "JOBS_HEARTBEAT_SECONDS": "1",
        "JOBS_STALLED_AFTER_SECONDS": "3",
        "JOBS_STALLED_CHECK_CRON": "* * * * * */2",
    }
    with running_worker(tmp_path, name="survivor", env=recovery):
        wait_for(_all_delivered, timeout=90, what="recovery")

    received = receiver.at("/hook")
    assert [r.id for r in received] == [event_id, event_id]  # at least once: here twice
    assert verify(secret=secret, headers=received[1].headers, body=received[1].body)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
