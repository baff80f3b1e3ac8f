"""The OpenAPI schema: generated from the code, committed as docs/openapi.yaml, served as is."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"
STALE = "docs/openapi.yaml is out of date with the code: run `make schema` and commit the result."


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> bytes:
    """The schema exactly as `make schema` writes it (same command, same options)."""
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    call_command("spectacular", "--file", str(path), "--validate")
    return path.read_bytes()


def test_the_committed_schema_is_the_one_the_code_generates(generated):
    assert generated == COMMITTED.read_bytes(), STALE


def test_the_served_schema_is_the_committed_one(client):
    response = client.get("/api/v1/schema/")

    assert response.status_code == HTTPStatus.OK
    assert yaml.safe_load(response.content) == yaml.safe_load(COMMITTED.read_bytes()), STALE


def test_the_interactive_docs_are_served(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == HTTPStatus.OK
    assert b"/api/v1/schema/" in response.content


def test_member_endpoints_document_auth_errors_and_the_summary(generated):
    schema = yaml.safe_load(generated)
    member = schema["paths"]["/api/v1/members/{external_id}"]

    assert set(member) == {"get", "put", "delete"}
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "Authorization"
    for operation in member.values():
        assert operation["security"] == [{"ApiKeyAuth": []}]
        assert "application/problem+json" in operation["responses"]["401"]["content"]
    assert set(member["put"]["responses"]) == {"200", "201", "400", "401", "409", "410", "503"}
    assert set(member["get"]["responses"]) == {"200", "400", "401", "404", "410"}
    assert set(member["delete"]["responses"]) == {"204", "400", "401", "404", "503"}
    summary = schema["components"]["schemas"]["MemberSummary"]
    assert {"tier", "points", "progress", "perks", "referral_code"} <= set(summary["required"])
    assert summary["properties"]["tier"]["nullable"] is True
    put_body = member["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert put_body == "#/components/schemas/MemberPutRequest"


def test_idempotent_posts_document_the_idempotency_key_header(generated):
    schema = yaml.safe_load(generated)
    idempotent = [
        (path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method == "post" and not path.startswith(("/api/v1/orders",))
    ]

    for path, operation in idempotent:
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        assert headers.get("Idempotency-Key", {}).get("required") is True, path
