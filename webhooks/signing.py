"""Standard Webhooks signing (https://www.standardwebhooks.com/, "Signature scheme").

A secret reads `whsec_<base64 of 32 random bytes>`; the HMAC key is the decoded bytes after the
prefix. A message is signed as `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, where
`id` is the `webhook-id` header (the event's id), `timestamp` the `webhook-timestamp` header
(integer seconds since the epoch) and `body` the exact bytes sent. While a rotated secret is still
in its overlap period the message carries one signature per secret, space-separated, so a receiver
holding either secret accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (the bytes its base64 part decodes to)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(*, secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given (newest first)."""
    signatures = [
        signature(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
        for secret in secrets
    ]
    if not signatures:
        raise ValueError("an endpoint always has a current secret")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
