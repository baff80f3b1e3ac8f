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
