"""The one application error class services raise.

A `ServiceError` carries a stable machine-readable `code` (the API's problem+json `code`, the
admin's message), a human message, an HTTP status hint for the API, and optionally the field(s) at
fault. Services raise it (or Django's `ValidationError`); the API's exception handler and the admin
turn it into what their users see. Tests assert the code, never the wording.
"""

from __future__ import annotations

from http import HTTPStatus


class ServiceError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = HTTPStatus.UNPROCESSABLE_ENTITY,
        field: str | None = None,
        errors: list[dict] | None = None,
        extra: dict | None = None,
    ) -> None:
        message = str(message)  # a lazy translation becomes text in the language active now
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = int(status)
        self.errors = errors or ([{"field": field, "message": message}] if field else [])
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message


class NotFound(ServiceError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=HTTPStatus.NOT_FOUND)


class Conflict(ServiceError):
    def __init__(self, code: str, message: str, **kwargs) -> None:
        super().__init__(code, message, status=HTTPStatus.CONFLICT, **kwargs)


class Gone(ServiceError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=HTTPStatus.GONE)
