"""The variables a template sees, formatted for the member's language.

Values are text, formatted here with `django.utils.formats` under the message's locale (dates
`31 Jan 2027` / `2027年1月31日`, points grouped `1,250`), so templates need no filters. A
message's `params` (the log's, non-personal) are turned into variables by its kind's
`context(params=..., locale=...)`; the member's own variables (first name) are read at send time
and never stored in the log.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import formats, translation

UNSUBSCRIBE_SALT = "messaging.unsubscribe"


def date_text(value: str | dt.date | None, locale: str) -> str:
    if not value:
        return ""
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    with translation.override(locale):
        return formats.date_format(day, "DATE_FORMAT")


def number_text(value: int | None, locale: str) -> str:
    with translation.override(locale):
        return formats.number_format(value or 0, use_l10n=True, force_grouping=True)


def unsubscribe_token(*, member_id: int, kind: str) -> str:
    """A signed token naming the member and the kind; it never expires (a link in an old
    message must keep working, RFC 8058), and it grants nothing but stopping that kind."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"m": member_id, "k": kind})


def unsubscribe_read(token: str) -> tuple[int, str]:
    """(member id, kind) from a token; `signing.BadSignature` when forged or damaged."""
    data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    if not isinstance(data, dict) or not isinstance(data.get("m"), int) or "k" not in data:
        raise signing.BadSignature("malformed unsubscribe token")
    return data["m"], str(data["k"])


def unsubscribe_url(*, member_id: int, kind: str) -> str:
    path = reverse(
        "messaging-unsubscribe", args=[unsubscribe_token(member_id=member_id, kind=kind)]
    )
    return settings.MESSAGING_BASE_URL.rstrip("/") + path


def common_context(*, member, kind: str) -> dict:
    return {
        "first_name": member.first_name,
        "program_name": settings.MESSAGING_PROGRAM_NAME,
        "unsubscribe_url": unsubscribe_url(member_id=member.pk, kind=kind),
    }
