"""The `Idempotency-Key` mechanism (config.api.idempotency) on a tests-only endpoint.

Spec: the same key and body answer the first response again (`Idempotent-Replayed: true`) and write
nothing; the same key with another body or on another endpoint is `422 idempotency_key_reused`; a
twin still running gets `409 request_in_progress`; a request that failed validation is not stored.
"""

from __future__ import annotations

import datetime as dt
import threading
from http import HTTPStatus

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from idempotency.models import IdempotencyRecord
from idempotency.services import idempotency_purge
from members.models import AuditEntry
from tests.config import idempotency_urls

pytestmark = pytest.mark.urls("tests.config.idempotency_urls")

PROBLEM = "application/problem+json"
NOTES = "/t/members/C-1001/notes"


def post(client, body, *, key: str | None = "key-1", path: str = NOTES):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(path, body, format="json", **headers)


def notes() -> int:
    return AuditEntry.objects.filter(action="test.note").count()


def test_first_request_does_the_work_and_stores_the_answer(api_client, member):
    response = post(api_client, {"note": "hello"})

    assert response.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in response
    assert notes() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.endpoint, record.response_status, record.response_body) == (
        "key-1",
        f"POST {NOTES}",
        201,
        response.json(),
    )
    assert record.api_key_id == api_client.api_key.pk


def test_same_key_and_body_replays_the_first_answer_and_writes_nothing(api_client, member):
    first = post(api_client, {"note": "hello", "pause": 0})

    again = post(api_client, {"pause": 0, "note": "hello"})  # key order is not a change

    assert again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert notes() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"note": "something else"}, NOTES),
        ({"note": "hello", "pause": 0.0001}, NOTES),
        ({"note": "hello"}, "/t/members/C-2002/notes"),
        ({"note": "hello"}, "/t/ping"),
    ],
    ids=["other-body", "extra-field", "other-member", "other-endpoint"],
)
def test_same_key_for_another_request_is_422_and_writes_nothing(
    api_client, make_member, member, body, path
):
    make_member(external_id="C-2002")
    post(api_client, {"note": "hello"})

    response = post(api_client, body, path=path)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "idempotency_key_reused"
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert notes() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_keys_are_scoped_to_the_api_key(api_client, member):
    post(api_client, {"note": "hello"})
    _, other_key = APIKey.objects.create_key(name="other-shop")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")

    response = post(other, {"note": "hello"})

    assert response.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in response
    assert notes() == 2


@pytest.mark.parametrize(
    ("key", "message_part"),
    [
        (None, "required"),
        ("", "1–255"),
        ("k" * 256, "1–255"),
        ("clé", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
    ids=["missing", "empty", "too-long", "non-ascii", "control"],
)
def test_a_missing_or_invalid_key_is_400_naming_the_header(api_client, member, key, message_part):
    response = post(api_client, {"note": "hello"}, key=key)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert message_part in body["errors"][0]["message"]
    assert notes() == 0
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.parametrize("key", ["k" * 255, "a", " !~{}", "550e8400-e29b-41d4-a716-446655440000"])
def test_any_1_to_255_printable_ascii_characters_make_a_key(api_client, member, key):
    response = post(api_client, {"note": "hello"}, key=key)

    assert response.status_code == HTTPStatus.CREATED
    assert IdempotencyRecord.objects.get().key == key


def test_a_request_that_failed_validation_is_not_stored(api_client, member):
    invalid = post(api_client, {"note": ""})

    valid = post(api_client, {"note": "hello"})

    assert invalid.status_code == HTTPStatus.BAD_REQUEST
    assert valid.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in valid
    assert notes() == 1


def test_malformed_json_is_not_stored(api_client, member):
    malformed = api_client.post(
        NOTES, data='{"note": ', content_type="application/json", HTTP_IDEMPOTENCY_KEY="key-1"
    )

    assert malformed.status_code == HTTPStatus.BAD_REQUEST
    assert malformed.json()["code"] == "malformed_json"
    assert IdempotencyRecord.objects.count() == 0


def test_a_refusal_leaves_no_work_behind_and_is_replayed(api_client, member):
    refused = post(api_client, {"note": "hello", "refuse": True})

    again = post(api_client, {"note": "hello", "refuse": True})

    assert refused.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert refused.json()["code"] == "insufficient_points"
    assert notes() == 0  # the audit entry written before the refusal was rolled back
    assert (again.status_code, again.json()) == (refused.status_code, refused.json())
    assert again["Content-Type"] == PROBLEM
    assert again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get().response_status == 422


@pytest.mark.parametrize(
    ("answer", "stored"), [(200, True), (409, True), (422, True), (400, False), (503, False)]
)
def test_only_successes_keep_their_work_and_only_refusals_are_stored_besides(
    api_client, member, answer, stored
):
    response = post(api_client, {"note": "hello", "answer": answer})

    assert response.status_code == answer
    assert notes() == (1 if answer < 300 else 0)
    assert IdempotencyRecord.objects.filter(response_status=answer).exists() is stored


def test_an_unknown_member_is_a_stored_404(api_client, make_member):
    first = post(api_client, {"note": "hello"})
    make_member(external_id="C-1001")

    again = post(api_client, {"note": "hello"})

    assert first.json()["code"] == "member_not_found"
    assert (again.status_code, again["Idempotent-Replayed"]) == (HTTPStatus.NOT_FOUND, "true")
    assert notes() == 0


def test_without_an_api_key_nothing_is_looked_up_or_stored(anon_client, member):
    response = post(anon_client, {"note": "hello"})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert IdempotencyRecord.objects.count() == 0


# --- purge ------------------------------------------------------------------------------------


def test_purge_deletes_records_older_than_24_hours_only(api_client, member):
    post(api_client, {"note": "old"}, key="old")
    post(api_client, {"note": "new"}, key="new")
    now = timezone.now()
    IdempotencyRecord.objects.filter(key="old").update(created_at=now - dt.timedelta(hours=25))
    IdempotencyRecord.objects.filter(key="new").update(created_at=now - dt.timedelta(hours=23))

    purged = idempotency_purge(now=now)

    assert purged == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    # Once purged, the key starts afresh: the request runs again.
    response = post(api_client, {"note": "old"}, key="old")
    assert "Idempotent-Replayed" not in response
    assert notes() == 3


def test_purge_refuses_to_keep_records_less_than_24_hours(db):
    with pytest.raises(ValueError, match="24 hours"):
        idempotency_purge(older_than=dt.timedelta(hours=1))


# --- concurrency (PostgreSQL, real threads) ---------------------------------------------------


def _post_in_thread(raw_key: str, body: dict, results: list, barrier=None) -> None:
    try:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        if barrier is not None:
            barrier.wait(timeout=10)
        response = client.post(NOTES, body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        results.append(response)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_twin_arriving_while_the_first_runs_gets_409_then_the_replay(api_key, member):
    idempotency_urls.ENTERED.clear()
    idempotency_urls.RELEASE.clear()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}")
    results: list = []
    first = threading.Thread(
        target=_post_in_thread, args=(api_key.raw_key, {"note": "hi", "wait": True}, results)
    )
    first.start()
    try:
        assert idempotency_urls.ENTERED.wait(timeout=10)

        twin = client.post(
            NOTES, {"note": "hi", "wait": True}, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
        )
        # Answered at once, while the first is still parked: the twin did not wait for it.
        assert first.is_alive()
    finally:
        idempotency_urls.RELEASE.set()
        first.join(timeout=20)

    assert twin.status_code == HTTPStatus.CONFLICT
    assert twin.json()["code"] == "request_in_progress"
    assert twin["Retry-After"] == "1"
    assert results[0].status_code == HTTPStatus.CREATED
    replay = client.post(
        NOTES, {"note": "hi", "wait": True}, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
    )
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (HTTPStatus.CREATED, "true")
    assert replay.json() == results[0].json()
    assert notes() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_key_fired_20_times_at_once_does_the_work_once(api_key, member):
    results: list = []
    barrier = threading.Barrier(20)
    body = {"note": "burst", "pause": 0.2}
    threads = [
        threading.Thread(target=_post_in_thread, args=(api_key.raw_key, body, results, barrier))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 20
    originals = [
        r for r in results if r.status_code == HTTPStatus.CREATED and "Idempotent-Replayed" not in r
    ]
    replays = [r for r in results if r.status_code == HTTPStatus.CREATED and r not in originals]
    in_progress = [r for r in results if r.status_code == HTTPStatus.CONFLICT]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(in_progress) == 20
    assert all(r.json() == originals[0].json() for r in replays)
    assert all(r.json()["code"] == "request_in_progress" for r in in_progress)
    assert notes() == 1
    assert IdempotencyRecord.objects.count() == 1
