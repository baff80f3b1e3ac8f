"""The one-click unsubscribe link (RFC 8058): no login, a signed token naming member and kind.

GET shows a confirmation page with one button; POST (the button, or the mail client's
`List-Unsubscribe=One-Click` request, which carries no CSRF token) stops the kind at once. A bad
signature is refused (400); using the link again is fine and changes nothing.
"""

from __future__ import annotations

from http import HTTPStatus

from django.core import signing
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from loyalty.selectors.program import member_language
from members.actors import Actor
from members.models import Member
from messaging.context import unsubscribe_read
from messaging.kinds import KINDS
from messaging.services import opt_out_record


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        member_id, kind_code = unsubscribe_read(token)
        kind = KINDS[kind_code]
        member = Member.objects.get(pk=member_id)
    except (signing.BadSignature, KeyError, Member.DoesNotExist):
        return render(request, "messaging/unsubscribe_invalid.html", status=HTTPStatus.BAD_REQUEST)
    language = member_language(member)
    if request.method == "POST":
        opt_out_record(member_id=member_id, kind=kind_code, actor=Actor.system("unsubscribe link"))
    page = "unsubscribed" if request.method == "POST" else "unsubscribe"
    # The page speaks the member's language, like the message that carried the link.
    with translation.override(language):
        response = render(
            request, f"messaging/{page}.html", {"kind": kind.label, "LANGUAGE_CODE": language}
        )
    return response
