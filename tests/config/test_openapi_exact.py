"""The committed OpenAPI schema is as strict as the server (`config.api.schema.exact_schema`):
what it calls valid is accepted and what it calls invalid is refused, for the rules below."""

from __future__ import annotations

import re
from http import HTTPStatus
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from config.api.idempotency import KEY_RE
from loyalty.api.members import EXTERNAL_ID_RE

SCHEMA = yaml.safe_load((Path(settings.BASE_DIR) / "docs" / "openapi.yaml").read_bytes())


def _parameters():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                yield path, method, parameter


def test_every_request_body_refuses_unknown_fields():
    schemas = SCHEMA["components"]["schemas"]
    requests = {n: s for n, s in schemas.items() if n.endswith("Request") and "oneOf" not in s}
    # A body of several shapes (`POST /orders`: a member's or a guest's) is a oneOf of bodies
    # that each refuse unknown fields.
    for name, schema in schemas.items():
        if name.endswith("Request") and "oneOf" in schema:
            refs = [choice["$ref"].rsplit("/", 1)[1] for choice in schema["oneOf"]]
            assert refs, name
            assert all(ref in requests for ref in refs), name

    assert len(requests) >= 8
    assert {n: s.get("additionalProperties") for n, s in requests.items()} == dict.fromkeys(
        requests, False
    )


@pytest.mark.parametrize(
    "key", ["a", "2b0c6f1e-6a51-4d8a-9a8e-0c5d3e7b9f10", "x" * 255, "x" * 256, "", "é", "a\tb"]
)
def test_the_idempotency_key_pattern_is_the_servers(key):
    headers = [
        p for _, _, p in _parameters() if p["in"] == "header" and p["name"] == "Idempotency-Key"
    ]

    assert len(headers) >= 4
    for parameter in headers:
        schema = parameter["schema"]
        by_schema = bool(re.fullmatch(schema["pattern"].strip("^$"), key)) and (
            schema["minLength"] <= len(key) <= schema["maxLength"]
        )
        assert by_schema == bool(KEY_RE.fullmatch(key))


@pytest.mark.parametrize("external_id", ["C-1001", "a@b.co", "x" * 64, "x" * 65, "a b", "", "é"])
def test_every_member_path_carries_the_external_id_pattern(external_id):
    member_paths = [p for p in SCHEMA["paths"] if "{external_id}" in p]
    described = {
        path
        for path, _, p in _parameters()
        if p["in"] == "path"
        and p["name"] == "external_id"
        and bool(re.fullmatch(p["schema"]["pattern"].strip("^$"), external_id))
        == bool(EXTERNAL_ID_RE.fullmatch(external_id))
    }

    assert len(member_paths) >= 4
    assert set(member_paths) <= described


def test_pages_start_at_one(api_client):
    pages = [p for _, _, p in _parameters() if p["in"] == "query" and p["name"] == "page"]

    assert pages
    assert {p["schema"].get("minimum") for p in pages} == {1}
    assert api_client.get("/api/v1/rewards?page=0").status_code in (
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.NOT_FOUND,
    )


def test_a_refund_amount_of_zero_is_invalid_by_the_schema_and_refused(api_client):
    amount = SCHEMA["components"]["schemas"]["RefundInputRequest"]["properties"]["amount"]

    assert re.fullmatch(amount["not"]["pattern"].strip("^$"), "0.00")
    assert not re.fullmatch(amount["not"]["pattern"].strip("^$"), "0.01")
    response = api_client.post(
        "/api/v1/orders/O-1/refunds", {"refund_id": "R-1", "amount": "0.00"}, format="json"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "validation_error"
