"""Rate limiting per API key: past API_THROTTLE_RATE, `429 rate_limited` with `Retry-After`."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from config.api.throttling import ApiKeyRateThrottle, parse_rate


@pytest.fixture
def fresh_quota():
    cache.clear()
    ApiKeyRateThrottle.forget()
    yield
    cache.clear()
    ApiKeyRateThrottle.forget()


def _client(name: str) -> APIClient:
    _, key = APIKey.objects.create_key(name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.mark.django_db
def test_a_key_past_its_rate_gets_429_with_retry_after(settings, fresh_quota, member, monkeypatch):
    settings.API_THROTTLE_RATE = "3/m"
    # the clock stands still 20 s into a window, so a slow machine cannot cross into the next
    monkeypatch.setattr("config.api.throttling.time.time", lambda: 1_000_040.0)
    storefront, other = _client("storefront"), _client("other")

    statuses = [storefront.get("/api/v1/members/C-1001").status_code for _ in range(3)]
    refused = storefront.get("/api/v1/members/C-1001")

    assert statuses == [HTTPStatus.OK] * 3
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert (body["status"], body["code"], body["errors"]) == (429, "rate_limited", [])
    assert body["type"] == "https://loyalty.example/problems/rate_limited"
    assert refused["Retry-After"] == "40"
    # another key has its own quota; a write is counted like a read
    assert other.get("/api/v1/members/C-1001").status_code == HTTPStatus.OK
    assert storefront.delete("/api/v1/members/C-1001").status_code == 429


@pytest.mark.django_db
def test_the_window_ending_gives_the_quota_back(settings, fresh_quota, member, monkeypatch):
    settings.API_THROTTLE_RATE = "2/s"
    client = _client("storefront")
    clock = [1_000_000.2]
    monkeypatch.setattr("config.api.throttling.time.time", lambda: clock[0])

    first = [client.get("/api/v1/members/C-1001").status_code for _ in range(3)]
    clock[0] += 1
    second = client.get("/api/v1/members/C-1001").status_code

    assert first == [200, 200, 429]
    assert second == HTTPStatus.OK


@pytest.mark.django_db
def test_a_big_rate_is_taken_in_blocks_and_never_exceeded(
    settings, fresh_quota, member, monkeypatch
):
    # 300/m: blocks of 3; every request as if on another worker, sharing the cache's counter.
    settings.API_THROTTLE_RATE = "300/m"
    monkeypatch.setattr("config.api.throttling.time.time", lambda: 1_000_040.0)
    client = _client("storefront")
    api_key = APIKey.objects.get(name="storefront")
    throttle = ApiKeyRateThrottle()
    request = type("Request", (), {"api_key": api_key})()

    allowed = 0
    for _ in range(400):
        ApiKeyRateThrottle.forget()  # as if every request reached another worker
        allowed += throttle.allow_request(request, None)

    assert allowed == 100  # each worker's first request took a block of 3: 300 / 3
    assert client.get("/api/v1/members/C-1001").status_code == 429


def test_no_api_key_is_not_counted():
    request = type("Request", (), {})()

    assert ApiKeyRateThrottle().allow_request(request, None) is True


def test_rates_are_read_strictly():
    assert parse_rate("100000/m") == (100000, 60)
    assert parse_rate("5/second") == (5, 1)
    for bad in ("", "0/m", "10", "ten/m", "10/w", "-1/s"):
        with pytest.raises(ValueError, match="API_THROTTLE_RATE"):
            parse_rate(bad)
