"""Every API error is problem+json with a stable code; only an API key gets in; bad input is
never a 500. (The member endpoints' own errors: tests/loyalty/test_api_members.py.)"""

from __future__ import annotations

import base64
import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from config.api.errors import problem_exception_handler
from config.api.serializers import AwareDateTimeField, StrictSerializer

PROBLEM = "application/problem+json"
MEMBER = "/api/v1/members/C-1001"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body == {
        "type": f"https://loyalty.example/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": body["detail"],
        "code": code,
        "errors": body["errors"],
    }
    assert body["detail"]
    return body


# --- authentication ---------------------------------------------------------------------------


def test_without_a_key_the_answer_is_401_problem(anon_client, member):
    response = anon_client.get(MEMBER)

    body = assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")
    assert body["errors"] == []
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "authorization",
    ["Api-Key", "Api-Key ", "Api-Key nope", "Api-Key nope.nope", "Bearer {key}", "{key}"],
)
def test_a_wrong_or_malformed_key_is_401(member, api_key, authorization):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization.format(key=api_key.raw_key))

    assert_problem(client.get(MEMBER), HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_the_keyword_is_case_insensitive(member, api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"api-key {api_key.raw_key}")

    assert client.get(MEMBER).status_code == HTTPStatus.OK


def test_a_revoked_key_is_401(api_client, member):
    APIKey.objects.filter(pk=api_client.api_key.pk).update(revoked=True)

    assert_problem(api_client.get(MEMBER), HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_an_expired_key_is_401(api_client, member):
    APIKey.objects.filter(pk=api_client.api_key.pk).update(
        expiry_date=timezone.now() - dt.timedelta(seconds=1)
    )

    assert_problem(api_client.get(MEMBER), HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_a_logged_in_superuser_session_does_not_get_in(admin_client, member):
    response = admin_client.get(MEMBER)

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_basic_auth_does_not_get_in(django_user_model, member):
    django_user_model.objects.create_superuser("root", "root@example.com", "s3cret-pass")
    credentials = base64.b64encode(b"root:s3cret-pass").decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")

    assert_problem(client.get(MEMBER), HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_authentication_comes_before_body_parsing(anon_client):
    response = anon_client.put(MEMBER, data="{not json", content_type="application/json")

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


# --- request errors ---------------------------------------------------------------------------


def test_malformed_json_is_400_malformed_json(api_client, member):
    response = api_client.put(MEMBER, data="{not json", content_type="application/json")

    assert_problem(response, HTTPStatus.BAD_REQUEST, "malformed_json")


def test_an_unknown_field_is_400_naming_it(api_client, member):
    response = api_client.put(MEMBER, {"favourite_colour": "blue"}, format="json")

    body = assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error")
    assert body["errors"] == [{"field": "favourite_colour", "message": "Unknown field."}]


def test_an_unknown_api_path_is_404_problem(api_client):
    response = api_client.get("/api/v1/no-such-thing")

    assert_problem(response, HTTPStatus.NOT_FOUND, "not_found")


def test_an_unknown_path_outside_the_api_stays_html(client):
    response = client.get("/no-such-page")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"].startswith("text/html")


def test_a_method_the_endpoint_lacks_is_405_problem(api_client, member):
    response = api_client.patch(MEMBER, {}, format="json")

    assert_problem(response, HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed")


def test_a_body_that_is_not_json_is_415_problem(api_client, member):
    response = api_client.put(MEMBER, data="email=a@example.com", content_type="text/plain")

    assert_problem(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")


def test_an_accept_header_the_api_cannot_serve_is_406_problem(api_client, member):
    response = api_client.get(MEMBER, HTTP_ACCEPT="text/html")

    assert response.status_code == HTTPStatus.NOT_ACCEPTABLE
    assert response.json()["code"] == "not_acceptable"


# --- serializer building blocks ---------------------------------------------------------------


class _Line(StrictSerializer):
    sku = serializers.CharField()


class _Order(StrictSerializer):
    id = serializers.CharField(read_only=True)
    placed_at = AwareDateTimeField()
    lines = _Line(many=True)


def test_strict_serializer_refuses_unknown_and_read_only_fields_at_every_level():
    data = {
        "id": "x",
        "placed_at": "2026-01-05T10:00:00Z",
        "lines": [{"sku": "A"}, {"sku": "B", "qty": 2}],
    }
    serializer = _Order(data=data)

    assert serializer.is_valid() is False
    assert serializer.errors == {"id": ["Unknown field."]}
    del data["id"]
    serializer = _Order(data=data)
    assert serializer.is_valid() is False
    assert serializer.errors == {"lines": {1: {"qty": ["Unknown field."]}}}
    response = problem_exception_handler(ValidationError(serializer.errors), {})
    assert response.data["errors"] == [{"field": "lines[1].qty", "message": "Unknown field."}]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-01-05T10:00:00Z", True),
        ("2026-01-05T10:00:00+01:00", True),
        ("2026-01-05T10:00:00", False),
        ("2026-01-05", False),
        ("2026-13-45T10:00:00", False),
        (1767607200, False),
    ],
)
def test_aware_datetime_field_needs_a_zone(value, valid):
    serializer = _Order(data={"placed_at": value, "lines": []})

    assert serializer.is_valid() is valid
    if valid:
        assert serializer.validated_data["placed_at"].utcoffset() is not None
