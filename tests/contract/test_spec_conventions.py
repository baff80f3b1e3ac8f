"""Contract: the Conventions section of api.md, on every endpoint it applies to.

Auth only by `Authorization: Api-Key <key>`; `Idempotency-Key` on every POST but the orders and
refunds ones; errors as `application/problem+json`; unknown body fields refused naming the field;
bad input never a 500; database contention a 503 with `Retry-After`.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection, connections, transaction
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from campaigns.models import CampaignAward
from config.api.idempotency import advisory_lock_id
from idempotency.models import IdempotencyRecord
from loyalty.models import Account, Posting
from rewards.models import Redemption
from rewards.services import redemption_create
from tests.campaigns.factories import make_campaign
from tests.contract.conftest import assert_problem, post_idem

REDEEM = "/api/v1/members/C-1001/redemptions"
ACTIVITIES = "/api/v1/members/C-1001/activities"
POST_ENDPOINTS = ["redeem", "use", "cancel", "activities"]


@pytest.fixture
def posts(member, give_points, make_reward, system_actor):
    """Each idempotent POST of the spec: `{name: (url, body, another_body)}`, ready to succeed."""
    give_points(member, 5000)
    make_reward("FIVE_OFF")
    make_reward("TEN_OFF", points_cost=1000, value=Decimal("10.00"))
    make_campaign("review", "action", action="review", points=50)
    to_use, to_cancel = (
        redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor).redemption
        for _ in range(2)
    )
    return {
        "redeem": (REDEEM, {"reward": "FIVE_OFF"}, {"reward": "TEN_OFF"}),
        "use": (f"/api/v1/redemptions/{to_use.pk}/use", {"order_id": "O-1"}, {"order_id": "O-2"}),
        "cancel": (f"/api/v1/redemptions/{to_cancel.pk}/cancel", {}, {"reason": "changed mind"}),
        "activities": (
            ACTIVITIES,
            {"type": "review", "reference": "R-1"},
            {"type": "review", "reference": "R-2"},
        ),
    }


def _state() -> tuple:
    """Everything an idempotent POST may write."""
    return (
        Posting.objects.count(),
        sorted(Redemption.objects.values_list("pk", "status", "used_order_id")),
        CampaignAward.objects.count(),
        IdempotencyRecord.objects.count(),
        list(Account.objects.values_list("available", flat=True)),
    )


# --- auth --------------------------------------------------------------------------------------

SPEC_ENDPOINTS = [
    ("get", "/api/v1/members/C-1001"),
    ("put", "/api/v1/members/C-1001"),
    ("delete", "/api/v1/members/C-1001"),
    ("get", "/api/v1/members/C-1001/transactions"),
    ("post", "/api/v1/orders"),
    ("post", "/api/v1/orders/O-1/refunds"),
    ("get", "/api/v1/rewards"),
    ("post", REDEEM),
    ("post", "/api/v1/redemptions/00000000-0000-0000-0000-000000000000/use"),
    ("post", "/api/v1/redemptions/00000000-0000-0000-0000-000000000000/cancel"),
    ("post", ACTIVITIES),
]


@pytest.mark.parametrize(("method", "url"), SPEC_ENDPOINTS)
def test_every_endpoint_without_a_key_is_401_unauthenticated(anon_client, member, method, url):
    response = getattr(anon_client, method)(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(("method", "url"), SPEC_ENDPOINTS)
def test_a_logged_in_superuser_session_does_not_get_in(admin_client, member, method, url):
    response = getattr(admin_client, method)(
        url, {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


@pytest.mark.parametrize(("method", "url"), SPEC_ENDPOINTS)
def test_basic_auth_of_a_superuser_does_not_get_in(django_user_model, member, method, url):
    django_user_model.objects.create_superuser("root", "root@example.com", "s3cret-pass")
    client = APIClient()
    token = base64.b64encode(b"root:s3cret-pass").decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")

    response = getattr(client, method)(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


@pytest.mark.parametrize(
    "header",
    [
        "HTTP_AUTHORIZATION=Bearer {key}",
        "HTTP_AUTHORIZATION=Token {key}",
        "HTTP_AUTHORIZATION={key}",
        "HTTP_AUTHORIZATION=Api-Key not-a-key",
        "HTTP_X_API_KEY={key}",
        "HTTP_API_KEY={key}",
    ],
)
def test_only_the_api_key_scheme_of_the_authorization_header_gets_in(api_key, member, header):
    name, value = header.split("=", 1)
    client = APIClient()

    response = client.get("/api/v1/members/C-1001", **{name: value.format(key=api_key.raw_key)})

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_a_valid_key_gets_in_and_a_revoked_one_does_not(api_client, member):
    assert api_client.get("/api/v1/members/C-1001").status_code == HTTPStatus.OK

    APIKey.objects.filter(pk=api_client.api_key.pk).update(revoked=True)

    response = api_client.get("/api/v1/members/C-1001")
    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_healthz_schema_and_docs_need_no_key(client, db):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    assert client.get("/api/v1/schema/").status_code == HTTPStatus.OK
    assert client.get("/api/v1/docs/").status_code == HTTPStatus.OK


# --- errors ------------------------------------------------------------------------------------


def test_an_unknown_api_path_is_a_problem_too(api_client, db):
    assert_problem(api_client.get("/api/v1/nothing-here"), HTTPStatus.NOT_FOUND, "not_found")


@pytest.mark.parametrize("name", POST_ENDPOINTS)
def test_unknown_body_fields_are_400_naming_the_field(api_client, posts, name):
    url, body, _ = posts[name]
    before = _state()

    response = post_idem(api_client, url, {**body, "surprise": 1})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="surprise")
    assert _state() == before


@pytest.mark.parametrize("name", [*POST_ENDPOINTS, "put"])
@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'"text"', b"null", b"1e999", b'{"reward": "\\ud800"}', b"[" * 5000]
)
def test_bad_json_is_a_400_problem_never_a_500(api_client, posts, name, raw):
    url = "/api/v1/members/C-1001" if name == "put" else posts[name][0]
    before = _state()
    send = api_client.put if name == "put" else api_client.post

    response = send(url, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="bad-json")

    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] in {"validation_error", "malformed_json"}
    assert _state() == before


# --- idempotency -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", POST_ENDPOINTS)
@pytest.mark.parametrize("key", [None, "", "x" * 256, "tab\there", "caf\u00e9"])
def test_a_missing_or_invalid_idempotency_key_is_400_naming_it(api_client, posts, name, key):
    url, body, _ = posts[name]
    before = _state()
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}

    response = api_client.post(url, body, format="json", **headers)

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="Idempotency-Key")
    assert _state() == before


@pytest.mark.parametrize("name", POST_ENDPOINTS)
def test_the_same_key_and_body_replays_the_first_answer_and_writes_nothing(api_client, posts, name):
    url, body, _ = posts[name]
    key = "k" * 255  # the longest key allowed
    first = post_idem(api_client, url, body, key=key)
    assert first.status_code in {HTTPStatus.OK, HTTPStatus.CREATED}
    assert "Idempotent-Replayed" not in first
    after_first = _state()

    again = post_idem(api_client, url, body, key=key)

    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert _state() == after_first


@pytest.mark.parametrize("name", POST_ENDPOINTS)
def test_the_same_key_with_another_body_is_422_idempotency_key_reused(api_client, posts, name):
    url, body, other = posts[name]
    post_idem(api_client, url, body, key="reused")
    after_first = _state()

    response = post_idem(api_client, url, other, key="reused")

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "idempotency_key_reused")
    assert _state() == after_first


@pytest.mark.parametrize("name", POST_ENDPOINTS)
def test_the_same_key_on_another_endpoint_is_422_idempotency_key_reused(api_client, posts, name):
    url, body, _ = posts[name]
    other_name = "activities" if name != "activities" else "redeem"
    other_url, other_body, _ = posts[other_name]
    post_idem(api_client, other_url, other_body, key="elsewhere")
    before = _state()

    response = post_idem(api_client, url, body, key="elsewhere")

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "idempotency_key_reused")
    assert _state() == before


@pytest.mark.parametrize("name", POST_ENDPOINTS)
def test_a_request_that_failed_validation_is_not_stored(api_client, posts, name):
    url, body, _ = posts[name]
    refused = post_idem(api_client, url, {**body, "surprise": 1}, key="retry-me")
    assert refused.status_code == HTTPStatus.BAD_REQUEST

    response = post_idem(api_client, url, body, key="retry-me")

    assert response.status_code in {HTTPStatus.OK, HTTPStatus.CREATED}
    assert "Idempotent-Replayed" not in response


def test_keys_are_scoped_to_the_api_key(api_client, posts, member):
    _other_key, raw = APIKey.objects.create_key(name="other-storefront")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    first = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"}, key="shared")
    second = post_idem(other, REDEEM, {"reward": "FIVE_OFF"}, key="shared")

    assert (first.status_code, second.status_code) == (HTTPStatus.CREATED, HTTPStatus.CREATED)
    assert "Idempotent-Replayed" not in second
    assert first.json()["id"] != second.json()["id"]


def test_a_business_refusal_is_replayed_as_it_was(api_client, member, make_reward):
    make_reward("FIVE_OFF")  # 500 points; the member has none

    first = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"}, key="poor")
    again = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"}, key="poor")

    body = assert_problem(first, HTTPStatus.UNPROCESSABLE_ENTITY, "insufficient_points")
    assert_problem(again, HTTPStatus.UNPROCESSABLE_ENTITY, "insufficient_points")
    assert again.json() == body
    assert again["Idempotent-Replayed"] == "true"


def _hold(work, entered: threading.Event, release: threading.Event) -> None:
    """Run `work(cursor)` in a transaction on this thread's own connection, until released."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            work(cursor)
            entered.set()
            release.wait(timeout=20)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_twin_still_running_gets_409_request_in_progress(api_client, posts):
    entered, release = threading.Event(), threading.Event()
    lock_id = advisory_lock_id(api_client.api_key.pk, "twin")
    holder = threading.Thread(
        target=_hold,
        args=(lambda c: c.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id]), entered, release),
    )
    holder.start()
    try:
        assert entered.wait(timeout=10)
        response = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"}, key="twin")
    finally:
        release.set()
        holder.join(timeout=20)

    assert_problem(response, HTTPStatus.CONFLICT, "request_in_progress")
    assert response["Retry-After"] == "1"
    retried = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"}, key="twin")
    assert retried.status_code == HTTPStatus.CREATED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_contention_is_503_with_retry_after_never_500(api_client, posts, member):
    entered, release = threading.Event(), threading.Event()
    holder = threading.Thread(
        target=_hold,
        args=(
            lambda c: c.execute(
                "SELECT 1 FROM loyalty_account WHERE member_id = %s FOR UPDATE", [member.pk]
            ),
            entered,
            release,
        ),
    )
    holder.start()
    try:
        assert entered.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        response = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"}, key="busy")
    finally:
        release.set()
        holder.join(timeout=20)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert_problem(response, HTTPStatus.SERVICE_UNAVAILABLE, "database_busy")
    assert response["Retry-After"] == "1"
    assert IdempotencyRecord.objects.filter(key="busy").count() == 0  # retrying is safe
    assert post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"}, key="busy").status_code == 201


# --- times -------------------------------------------------------------------------------------


def test_times_without_a_zone_are_refused(api_client, db):
    response = api_client.put(
        "/api/v1/members/C-5",
        {"email": "z@example.com", "enrolled_at": "2026-01-05T10:00:00"},
        format="json",
    )

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="enrolled_at")


def test_times_with_any_zone_are_accepted(api_client, db):
    response = api_client.put(
        "/api/v1/members/C-5",
        {"email": "z@example.com", "enrolled_at": "2026-01-05T11:00:00+01:00"},
        format="json",
    )

    assert response.status_code == HTTPStatus.CREATED
    enrolled = dt.datetime.fromisoformat(response.json()["enrolled_at"].replace("Z", "+00:00"))
    assert enrolled == dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
