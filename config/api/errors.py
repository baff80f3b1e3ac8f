"""One exception handler: every API error becomes `application/problem+json` (RFC 9457).

Body: `type, title, status, detail, code, errors[{field, message}]`. `code` is stable and English
whatever the language; `title` (the status's phrase) and the messages are in the request's language
(`Accept-Language`, through `LocaleMiddleware`: English or Simplified Chinese). Database contention
(lock timeouts, serialisation failures, deadlocks) becomes 503 with `Retry-After`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from config.errors import ServiceError

logger = logging.getLogger("config.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://loyalty.example/problems/"

# The titles the API answers with, marked for translation; English is `HTTPStatus(status).phrase`.
TITLES = {
    400: _("Bad Request"),
    401: _("Unauthorized"),
    403: _("Forbidden"),
    404: _("Not Found"),
    405: _("Method Not Allowed"),
    406: _("Not Acceptable"),
    409: _("Conflict"),
    410: _("Gone"),
    412: _("Precondition Failed"),
    413: _("Request Entity Too Large"),
    415: _("Unsupported Media Type"),
    422: _("Unprocessable Entity"),
    428: _("Precondition Required"),
    429: _("Too Many Requests"),
    500: _("Internal Server Error"),
    502: _("Bad Gateway"),
    503: _("Service Unavailable"),
    504: _("Gateway Timeout"),
}


def problem_title(status: int) -> str:
    """The status's phrase in the active language (English for a status not listed)."""
    title = TITLES.get(status)
    return str(title) if title is not None else HTTPStatus(status).phrase


def problem_body(
    *, status: int, code: str, detail: str, errors: list[dict] | None = None, extra=None
) -> dict:
    return {
        "type": TYPE_BASE + code,
        "title": problem_title(status),
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
        **(extra or {}),
    }


def problem_response(
    *,
    status: int,
    code: str,
    detail: str,
    errors: list[dict] | None = None,
    headers: dict | None = None,
    extra: dict | None = None,
) -> Response:
    body = problem_body(status=status, code=code, detail=detail, errors=errors, extra=extra)
    response = Response(body, status=status, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """Django's `handler404`: problem+json under `/api/` (an unknown path, or an id with a "/")."""
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    body = problem_body(status=404, code="not_found", detail="No such endpoint.")
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)


def server_error(request):
    """Django's `handler500`: problem+json under `/api/`; the error itself is logged by Django."""
    if not _is_api(request):
        return defaults.server_error(request)
    body = problem_body(status=500, code="server_error", detail="Something went wrong on our side.")
    return JsonResponse(body, status=500, content_type=PROBLEM_CONTENT_TYPE)


def _flatten(detail, prefix: str = "") -> list[dict]:
    """DRF's nested error detail as a flat list of `{field, message}` (`items[0].sku`)."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # a list serializer's errors, keyed by item index
                out.extend(_flatten(value, f"{prefix}[{key}]"))
                continue
            name = key if key != "non_field_errors" else ""
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.extend(_flatten(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out.extend({"field": prefix or None, "message": str(v)} for v in detail)
        else:
            for i, value in enumerate(detail):
                out.extend(_flatten(value, f"{prefix}[{i}]"))
    else:
        out.append({"field": prefix or None, "message": str(detail)})
    return out


def problem_exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return problem_response(
            status=exc.status, code=exc.code, detail=exc.message, errors=exc.errors, extra=exc.extra
        )
    if isinstance(exc, DjangoValidationError):
        errors = (
            [
                {"field": field if field != "__all__" else None, "message": str(m)}
                for field, messages in exc.message_dict.items()
                for m in messages
            ]
            if hasattr(exc, "error_dict")
            else [{"field": None, "message": m} for m in exc.messages]
        )
        return problem_response(
            status=400, code="validation_error", detail=errors[0]["message"], errors=errors
        )
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        return problem_response(status=400, code="validation_error", detail=detail, errors=errors)
    if isinstance(exc, exceptions.ParseError):
        return problem_response(status=400, code="malformed_json", detail=str(exc.detail))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return problem_response(
            status=401,
            code="unauthenticated",
            detail="A valid API key is required.",
            headers={"WWW-Authenticate": "Api-Key"},
        )
    if isinstance(exc, exceptions.PermissionDenied):
        # With no authentication classes DRF reports a missing key as PermissionDenied.
        return problem_response(
            status=401,
            code="unauthenticated",
            detail="A valid API key is required.",
            headers={"WWW-Authenticate": "Api-Key"},
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        return problem_response(status=404, code="not_found", detail="Not found.")
    if isinstance(exc, exceptions.MethodNotAllowed):
        return problem_response(status=405, code="method_not_allowed", detail=str(exc.detail))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return problem_response(status=415, code="unsupported_media_type", detail=str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        return problem_response(
            status=429,
            code="rate_limited",
            detail=str(exc.detail),
            headers={"Retry-After": str(exc.wait or 1)},
        )
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        return problem_response(status=exc.status_code, code=code, detail=str(exc.detail))
    if isinstance(exc, OperationalError):
        logger.warning("database contention: %s", exc)
        return problem_response(
            status=503,
            code="database_busy",
            detail="The database is busy; try again shortly.",
            headers={"Retry-After": "1"},
        )
    return None
