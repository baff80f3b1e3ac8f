"""Contract: `GET /healthz`, the OpenAPI schema at `/api/v1/schema/` and the docs at
`/api/v1/docs/`; the served schema names every path, field and error code api.md fixes."""

from __future__ import annotations

from http import HTTPStatus

import pytest
import yaml

# Every endpoint of the spec with the error codes it lists, by status.
SPEC_ERRORS = {
    ("put", "/api/v1/members/{external_id}"): {
        400: ["validation_error"],
        409: ["email_taken"],
        410: ["member_erased"],
    },
    ("get", "/api/v1/members/{external_id}"): {404: ["member_not_found"], 410: ["member_erased"]},
    ("delete", "/api/v1/members/{external_id}"): {},
    ("get", "/api/v1/members/{external_id}/transactions"): {},
    ("post", "/api/v1/orders"): {
        404: ["member_not_found"],
        409: ["order_conflict"],
        422: ["currency_mismatch"],
        400: ["validation_error"],
    },
    ("post", "/api/v1/orders/{order_id}/refunds"): {
        404: ["order_not_found"],
        422: ["refund_exceeds_order"],
        409: ["refund_conflict"],
    },
    ("get", "/api/v1/rewards"): {},
    ("post", "/api/v1/members/{external_id}/redemptions"): {
        422: [
            "insufficient_points",
            "not_eligible",
            "limit_reached",
            "reward_inactive",
            "idempotency_key_reused",
        ],
        409: ["out_of_stock", "request_in_progress"],
        404: ["reward_not_found"],
    },
    ("post", "/api/v1/redemptions/{redemption_id}/use"): {
        409: ["redemption_used", "redemption_cancelled", "redemption_expired"],
        422: ["idempotency_key_reused"],
    },
    ("post", "/api/v1/redemptions/{redemption_id}/cancel"): {
        409: ["redemption_used", "redemption_cancelled", "redemption_expired"],
        422: ["idempotency_key_reused"],
    },
    ("post", "/api/v1/members/{external_id}/activities"): {
        409: ["request_in_progress"],
        422: ["idempotency_key_reused"],
    },
}
IDEMPOTENT = {
    op for op in SPEC_ERRORS if op[0] == "post" and not op[1].startswith("/api/v1/orders")
}


@pytest.fixture
def schema(client, db) -> dict:
    response = client.get("/api/v1/schema/")
    assert response.status_code == HTTPStatus.OK
    return yaml.safe_load(response.content)


def _component(schema: dict, ref_holder: dict) -> dict:
    name = ref_holder["$ref"].rsplit("/", 1)[1]
    return schema["components"]["schemas"][name]


def _success(schema: dict, method: str, path: str, status: str) -> dict:
    content = schema["paths"][path][method]["responses"][status]["content"]
    return _component(schema, content["application/json"]["schema"])


def test_healthz_is_200_ok_with_the_database_and_needs_no_key(client, db):
    response = client.get("/healthz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_docs_are_served_and_point_at_the_schema(client, db):
    response = client.get("/api/v1/docs/")

    assert response.status_code == HTTPStatus.OK
    assert b"/api/v1/schema/" in response.content


def test_the_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(("method", "path"), sorted(SPEC_ERRORS))
def test_every_spec_operation_is_documented_with_its_error_codes(schema, method, path):
    operation = schema["paths"][path][method]
    assert operation["security"] == [{"ApiKeyAuth": []}]
    responses = operation["responses"]
    for status, codes in {401: ["unauthenticated"], **SPEC_ERRORS[(method, path)]}.items():
        response = responses[str(status)]
        assert "application/problem+json" in response["content"], (status, path)
        for code in codes:
            assert f"`{code}`" in response["description"], (status, code, path)


@pytest.mark.parametrize(("method", "path"), sorted(IDEMPOTENT))
def test_idempotent_posts_require_the_idempotency_key_header(schema, method, path):
    parameters = schema["paths"][path][method]["parameters"]
    headers = {p["name"]: p for p in parameters if p["in"] == "header"}

    assert headers["Idempotency-Key"]["required"] is True


def test_the_member_summary_schema_has_every_field_of_the_spec_example(schema):
    summary = _success(schema, "get", "/api/v1/members/{external_id}", "200")
    props = summary["properties"]
    assert {
        "external_id",
        "email",
        "first_name",
        "last_name",
        "status",
        "enrolled_at",
        "referral_code",
        "tier",
        "points",
        "progress",
        "perks",
    } <= set(props)
    components = schema["components"]["schemas"]

    def fields(name):
        return set(components[name]["properties"])

    assert {"code", "name", "since", "held_until", "multiplier", "override_until"} <= fields(
        "MemberTier"
    )
    assert {"available", "pending", "lifetime_earned", "expiring"} <= fields("MemberPoints")
    assert {"points", "on"} <= fields("MemberPointsExpiring")
    assert {
        "metric",
        "currency",
        "window_start",
        "window_end",
        "qualifying_spend",
        "next_tier",
        "keep_tier",
        "explanation",
    } <= fields("MemberProgress")
    assert {"code", "threshold", "remaining"} <= fields("MemberProgressNextTier")
    assert {"threshold", "remaining", "by"} <= fields("MemberProgressKeepTier")
    assert {"code", "name", "kind", "value"} <= fields("MemberPerk")
    assert components["MemberTier"]["properties"]["multiplier"]["type"] == "string"
    assert components["MemberProgress"]["properties"]["qualifying_spend"]["type"] == "string"


def test_the_put_body_schema_has_the_spec_fields(schema):
    body = schema["paths"]["/api/v1/members/{external_id}"]["put"]["requestBody"]
    props = _component(schema, body["content"]["application/json"]["schema"])["properties"]

    assert set(props) == {
        "email",
        "first_name",
        "last_name",
        "phone",
        "birth_date",
        "marketing_consent",
        "referral_code",
        "enrolled_at",
        "locale",  # second wave: the language of the member's sentences
        "country",  # ISO 3166-1 alpha-2 (segments: the country condition)
    }
    assert props["birth_date"]["format"] == "date"
    assert props["enrolled_at"]["format"] == "date-time"
    assert props["marketing_consent"]["type"] == "boolean"


def test_the_redemption_schemas_have_the_spec_fields(schema):
    path = "/api/v1/members/{external_id}/redemptions"
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    request = _component(schema, body["schema"])
    created = _success(schema, "post", path, "201")

    assert set(request["properties"]) == {"reward", "points", "order_total"}
    assert request["properties"]["order_total"]["type"] == "string"  # money is a string
    assert {
        "id",
        "reward",
        "points_spent",
        "coupon_code",
        "value",
        "currency",
        "status",
        "expires_at",
        "balance",
    } <= set(created["properties"])
    assert created["properties"]["value"]["type"] == "string"
    for action in ("use", "cancel"):
        ok = _success(schema, "post", f"/api/v1/redemptions/{{redemption_id}}/{action}", "200")
        assert ok == created


def test_the_rewards_list_schema_is_paginated_with_eligibility(schema):
    page = _success(schema, "get", "/api/v1/rewards", "200")
    reward = _component(schema, page["properties"]["results"]["items"])

    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert {"eligible", "affordable", "reason"} <= set(reward["properties"])
    reasons = schema["components"]["schemas"]["RewardReasonEnum"]["enum"]
    assert {"tier_too_low", "out_of_stock", "limit_reached", "not_active"} <= set(reasons)


def test_the_activity_schemas_have_the_spec_fields(schema):
    path = "/api/v1/members/{external_id}/activities"
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    request = _component(schema, body["schema"])
    created = _success(schema, "post", path, "201")
    nothing = _success(schema, "post", path, "200")

    assert set(request["properties"]) == {"type", "reference"}
    assert {"points_awarded", "awards", "reason"} <= set(created["properties"]) & set(
        nothing["properties"]
    )
    award = _component(schema, created["properties"]["awards"]["items"])
    assert set(award["properties"]) == {"campaign", "points"}
    reasons = schema["components"]["schemas"]["ActivityOutputReasonEnum"]["enum"]
    assert set(reasons) == {"no_campaign", "limit_reached", "budget_exhausted"}
