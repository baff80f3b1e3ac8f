"""OpenAPI helpers: the problem+json error body and a short way to list a view's error responses.

    @extend_schema(responses={200: SummarySerializer, **problems({404: ["member_not_found"]})})

`problems()` always adds `401 unauthenticated` (every storefront endpoint needs a key) and names the
stable `code`s each status may carry, so the docs tell the storefront what to branch on.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from config.api.errors import PROBLEM_CONTENT_TYPE


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True, help_text="The field at fault (`items[0].sku`), or null."
    )
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An error, as `application/problem+json` (RFC 9457)."""

    type = serializers.URLField(help_text="A URL naming the problem; ends with the `code`.")
    title = serializers.CharField(help_text="The HTTP status phrase.")
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, for a human.")
    code = serializers.CharField(help_text="Stable and machine-readable: branch on this.")
    errors = ProblemFieldErrorSerializer(many=True)


def problems(codes_by_status: dict[int, list[str]] | None = None) -> dict:
    """`extend_schema(responses=...)` entries for the given error statuses and their codes."""
    merged: dict[int, list[str]] = {401: ["unauthenticated"]}
    for status, codes in (codes_by_status or {}).items():
        merged.setdefault(int(status), [])
        merged[int(status)] += [c for c in codes if c not in merged[int(status)]]
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer,
            description=f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{code}`" for code in codes),
        )
        for status, codes in sorted(merged.items())
    }


# --- an exact schema ------------------------------------------------------------------------------
# What the server refuses, the schema says, so that a request valid by the schema is accepted and
# one invalid by it is refused (schemathesis's "valid request rejected" / "invalid request
# accepted"). drf-spectacular cannot infer these from the serializers; `exact_schema` adds them.

IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[\\x20-\\x7e]{1,255}$",  # config.api.idempotency.KEY_RE
}
EXTERNAL_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": "^[A-Za-z0-9_.:@-]{1,64}$",  # members' EXTERNAL_ID_RE
}
# A refund of nothing is refused (`refund_record`): the amount's money pattern, and not zero.
NOT_ZERO_MONEY = {"not": {"pattern": "^0+(\\.0{1,2})?$"}}
# `from` / `to` of a listing: a date, or a date-time with its zone (`loyalty.filters`); empty is
# the same as absent.
DATE_OR_DATE_TIME = {
    "type": "string",
    "anyOf": [{"format": "date"}, {"format": "date-time"}, {"maxLength": 0}],
}
# A feedback score is 0-10 (nps) or 1-5 (csat): the schema says the union, the scale the rest.
FEEDBACK_SCORE = {"minimum": 0, "maximum": 10}


# Operations whose body is a `oneOf` (drf-spectacular leaves `required` out for those).
REQUIRED_BODY = {"orders_create"}


def exact_schema(result, generator, request, public):
    """drf-spectacular postprocessing hook: request bodies refuse unknown fields
    (`StrictSerializer`), the `Idempotency-Key` header, every member path's `external_id` and
    every `member` query parameter carry their pattern, `page` and `page_size` start at 1, a
    refund's `amount` is not zero, a feedback score is 0-10 and `from` / `to` are dates or
    date-times."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    refund = schemas.get("RefundInputRequest", {}).get("properties", {}).get("amount")
    if refund is not None:
        refund.update(NOT_ZERO_MONEY)
    score = schemas.get("FeedbackInputRequest", {}).get("properties", {}).get("score")
    if score is not None:
        score.update(FEEDBACK_SCORE)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            if operation.get("requestBody") and operation.get("operationId") in REQUIRED_BODY:
                operation["requestBody"]["required"] = True  # a oneOf body loses it
            for parameter in operation.get("parameters", []):
                where, name = parameter.get("in"), parameter.get("name")
                if where == "header" and name == "Idempotency-Key":
                    parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)
                elif (where, name) in (("path", "external_id"), ("query", "member")):
                    parameter["schema"] = dict(EXTERNAL_ID_SCHEMA)
                elif where == "query" and name in ("from", "to"):
                    parameter["schema"] = dict(DATE_OR_DATE_TIME)
                elif where == "query" and name in ("page", "page_size"):
                    parameter["schema"] = {**parameter.get("schema", {}), "minimum": 1}
    return result
