"""`GET /api/v1/events`: cursor paging, the types filter, bad parameters, the key, and on
PostgreSQL the cursor's safety against a transaction that commits after a later one."""

from __future__ import annotations

import threading
import time
from http import HTTPStatus

import pytest
from django.db import connection, connections, transaction
from django.db.models import Max

from events.models import Event, EventType
from events.selectors import events_feed
from events.services import event_record

URL = "/api/v1/events"


def settled(timeout: float = 300) -> None:
    """PostgreSQL: wait until no transaction older than the last event is still running on the
    server (the tests of the other worker process share it), so the feed shows every committed
    event. What the feed waits for in production too (`events.selectors`)."""
    if connection.vendor != "postgresql":
        return
    last = Event.objects.aggregate(m=Max("txid"))["m"] or 0
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT txid_snapshot_xmin(txid_current_snapshot())")
            if cursor.fetchone()[0] > last or time.monotonic() > deadline:
                return
            time.sleep(0.2)


def _write(member_id: int, type: str = EventType.MEMBER_ERASED) -> Event:
    payload = {"changed": ["phone"]} if type == EventType.MEMBER_UPDATED else {}
    with transaction.atomic():
        return event_record(
            type=type, member_id=member_id, member_external_id=f"C-{member_id}", payload=payload
        )


# Committed for real (transaction=True): on PostgreSQL the feed shows only what has committed.
@pytest.mark.django_db(transaction=True)
def test_the_feed_pages_oldest_first_with_a_stable_cursor(api_client):
    written = [_write(member_id) for member_id in (1, 2, 1, 3, 2)]
    settled()

    first = api_client.get(URL, {"limit": 2})
    second = api_client.get(URL, {"limit": 2, "after": first.json()["cursor"]})
    third = api_client.get(URL, {"limit": 2, "after": second.json()["cursor"]})
    empty = api_client.get(URL, {"limit": 2, "after": third.json()["cursor"]})

    assert first.status_code == HTTPStatus.OK
    ids = [[e["id"] for e in page.json()["results"]] for page in (first, second, third, empty)]
    assert ids == [
        [str(written[0].uuid), str(written[1].uuid)],
        [str(written[2].uuid), str(written[3].uuid)],
        [str(written[4].uuid)],
        [],
    ]
    assert [page.json()["has_more"] for page in (first, second, third, empty)] == [
        True,
        True,
        False,
        False,
    ]
    assert empty.json()["cursor"] == third.json()["cursor"]
    # `next` is the following page's URL (the other parameters kept) until caught up.
    assert first.json()["next"] == (
        f"http://testserver/api/v1/events?limit=2&after={first.json()['cursor']}"
    )
    assert (third.json()["next"], empty.json()["next"]) == (None, None)
    assert first.json()["results"][0] == {
        "id": str(written[0].uuid),
        "type": "member.erased",
        "schema_version": 1,
        "occurred_at": first.json()["results"][0]["occurred_at"],
        "member": "C-1",
        "member_id": 1,
        "sequence": 1,
        "payload": {"member_external_id": "C-1"},
    }
    assert [e["sequence"] for e in second.json()["results"]] == [2, 1]


@pytest.mark.django_db(transaction=True)
def test_the_feed_filters_by_type(api_client):
    _write(1)
    updated = _write(1, EventType.MEMBER_UPDATED)
    _write(2)
    settled()

    response = api_client.get(URL, {"types": "member.updated,points.earned"})

    assert [e["id"] for e in response.json()["results"]] == [str(updated.uuid)]
    assert response.json()["results"][0]["payload"] == {
        "member_external_id": "C-1",
        "changed": ["phone"],
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "12"}, "after"),
        ({"after": "a.b"}, "after"),
        ({"after": "١.٢"}, "after"),  # digits of another script: not a cursor (the schema's)
        ({"types": "member.enrolled,points.stolen"}, "types"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(api_client, params, field):
    response = api_client.get(URL, params)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.django_db
def test_the_feed_needs_the_storefront_key(anon_client):
    response = anon_client.get(URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_late_commit_with_an_earlier_position_is_not_skipped():
    """T1 draws its position first and commits last: the feed holds back what follows T1
    until T1 ends, so a reader's cursor never passes T1's event."""
    drawn, release = threading.Event(), threading.Event()
    late: list[Event] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                late.append(
                    event_record(
                        type=EventType.MEMBER_ERASED,
                        member_id=1,
                        member_external_id="C-1",
                        payload={},
                    )
                )
                drawn.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert drawn.wait(timeout=30)
    early = _write(2)  # a higher position, committed first
    while_open = events_feed(after=None, types=None, limit=None)
    release.set()
    thread.join(timeout=30)
    settled()
    after_commit = events_feed(after=while_open.cursor, types=None, limit=None)

    assert late[0].position < early.position
    assert while_open.events == []
    assert [e.uuid for e in after_commit.events] == [late[0].uuid, early.uuid]
