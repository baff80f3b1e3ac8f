"""`Idempotency-Key` for storefront `POST`s: a retried request is answered, never redone.

Use `@idempotent` on a DRF view's `post` method. For each request:

1. The header must be 1–255 printable ASCII characters, else `400 validation_error` naming
   `Idempotency-Key` (nothing is stored).
2. Everything below runs in ONE `transaction.atomic()`: the lookup, the work and the stored
   answer commit together or not at all, so a stored answer always means the work committed, and
   work that committed always has its answer stored.
3. On PostgreSQL a transaction-scoped advisory lock on a hash of (API key, key) is tried first; if a
   twin request holds it, the answer is `409 request_in_progress` with `Retry-After` (not stored:
   retrying is safe). On SQLite writes are serialised by `BEGIN IMMEDIATE`, so the twin simply
   waits its turn and then finds the stored answer.
4. A stored answer for the key: same endpoint (method and path) and same body fingerprint (sha256
   of the canonical JSON) -> the stored status and body again, with `Idempotent-Replayed: true`;
   anything else -> `422 idempotency_key_reused`.
5. Otherwise the view runs inside a savepoint. What is stored (Stripe's rule, narrowed):
   - a 2xx answer, with its work;
   - a business refusal (404, 409, 410, 422 raised as a `ServiceError`, e.g. `insufficient_points`):
     the savepoint is rolled back first, so the refusal leaves no half-written work; retrying
     with the same key gets the same refusal, a new attempt needs a new key;
   - NOT a request that failed validation (400), nor contention or a crash (5xx): the transaction
     is rolled back and nothing is stored, so the same key may be retried.
   The unique (API key, key) constraint backs the lock up: if a twin got past it anyway, its
   insert fails, its whole transaction (the work too) is rolled back and it answers 409.

Consequence for services called from an idempotent view: they run inside this transaction, so
they must use `transaction.atomic()` (a savepoint here), not `atomic(durable=True)`, and put side
effects in `transaction.on_commit` (they then fire only if the answer is stored).

`config` imports no app at module level: the model, selector and service are imported inside the
functions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from http import HTTPStatus

from django.db import IntegrityError, connection, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from config.api.errors import PROBLEM_CONTENT_TYPE, problem_response
from config.errors import ServiceError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_RE = re.compile(r"[\x20-\x7e]{1,255}")
# Business refusals worth remembering; anything else that is not 2xx is not stored.
STORED_ERROR_STATUSES = frozenset(
    {HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, HTTPStatus.GONE, HTTPStatus.UNPROCESSABLE_ENTITY}
)

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "1–255 printable ASCII characters (a UUID is a good choice), unique per attempt and scoped "
        "to the API key. Retrying with the same key and body returns the first response again "
        "with the header `Idempotent-Replayed: true`; the same key with another body or on "
        "another endpoint is `422 idempotency_key_reused`; while the first request is still "
        "running it is `409 request_in_progress`. Answers are kept at least 24 hours."
    ),
)

REPLAYED_RESPONSE_HEADER = OpenApiParameter(
    name=REPLAYED_HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    enum=["true"],
    response=True,
    description="Present (`true`) when this is the stored answer to an earlier request.",
)

# For `problems(...)`: the errors the mechanism itself answers with.
IDEMPOTENCY_PROBLEMS = {
    400: ["validation_error"],
    409: ["request_in_progress"],
    422: ["idempotency_key_reused"],
}


class _RollBackWork(Exception):
    """Raised inside the savepoint to undo the work behind an answer that is not a success."""

    def __init__(self, response: Response) -> None:
        self.response = response


def idempotent(view_method):
    """Make a DRF view's `post(self, request, ...)` idempotent by its `Idempotency-Key` header."""

    @functools.wraps(view_method)
    def wrapper(view, request, *args, **kwargs):
        return _run(view, request, lambda: view_method(view, request, *args, **kwargs))

    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER, REPLAYED_RESPONSE_HEADER])(wrapper)


def fingerprint(data) -> str:
    """sha256 of the body as canonical JSON (sorted keys, no spaces): key order is not a change."""
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=JSONEncoder
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def advisory_lock_id(api_key_id: str, key: str) -> int:
    """A signed 64-bit lock id (PostgreSQL's `bigint`) for this API key's idempotency key."""
    digest = hashlib.sha256(f"idempotency\0{api_key_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _key_from(request) -> str:
    key = request.headers.get(HEADER)
    if key is None or not KEY_RE.fullmatch(key):
        message = (
            f"The {HEADER} header is required."
            if key is None
            else f"The {HEADER} header must be 1–255 printable ASCII characters."
        )
        raise ServiceError("validation_error", message, status=400, field=HEADER)
    return key


def _try_lock(api_key_id: str, key: str) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already serialises writers
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [advisory_lock_id(api_key_id, key)])
        return bool(cursor.fetchone()[0])


def _in_progress() -> Response:
    return problem_response(
        status=int(HTTPStatus.CONFLICT),
        code="request_in_progress",
        detail=f"A request with this {HEADER} is still being processed; retry shortly.",
        headers={"Retry-After": "1"},
    )


def _replay(record, *, endpoint: str, body_print: str) -> Response:
    if record.endpoint != endpoint or record.fingerprint != body_print:
        raise ServiceError(
            "idempotency_key_reused",
            f"This {HEADER} was already used for a different request "
            f"({'another endpoint' if record.endpoint != endpoint else 'another body'}); "
            "use a new key for a new request.",
            field=HEADER,
        )
    response = Response(
        record.response_body, status=record.response_status, headers={REPLAYED_HEADER: "true"}
    )
    if record.response_status >= 400:
        response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _plain(data):
    """The response body as plain JSON values, as the JSON renderer will write it."""
    return json.loads(json.dumps(data, cls=JSONEncoder))


def _run(view, request, call_view) -> Response:
    from idempotency.selectors import idempotency_record_find
    from idempotency.services import idempotency_record_store

    key = _key_from(request)
    api_key_id = request.api_key.pk
    endpoint = f"{request.method} {request.path}"
    body_print = fingerprint(request.data)  # a malformed body raises here: 400, nothing stored

    with transaction.atomic():
        if not _try_lock(api_key_id, key):
            return _in_progress()
        record = idempotency_record_find(api_key_id=api_key_id, key=key)
        if record is not None:
            return _replay(record, endpoint=endpoint, body_print=body_print)

        try:
            with transaction.atomic():
                response = call_view()
                if not 200 <= response.status_code < 300:
                    raise _RollBackWork(response)
        except _RollBackWork as undone:
            response = undone.response  # its work is rolled back; store it if it is a refusal
            if response.status_code not in STORED_ERROR_STATUSES:
                return response
        except ServiceError as exc:
            if exc.status not in STORED_ERROR_STATUSES:
                raise  # validation failed: the transaction rolls back, nothing is stored
            response = view.get_exception_handler()(exc, view.get_exception_handler_context())

        try:
            with transaction.atomic():
                idempotency_record_store(
                    api_key_id=api_key_id,
                    key=key,
                    endpoint=endpoint,
                    fingerprint=body_print,
                    status=response.status_code,
                    body=_plain(response.data),
                )
        except IntegrityError:
            # A twin stored its answer first (the lock is skipped or was bypassed): undo our work.
            transaction.set_rollback(True)
            return _in_progress()
    return response
