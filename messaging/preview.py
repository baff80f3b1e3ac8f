"""The template editor's preview and its "send me a test": a template rendered for one member.

The preview uses the member's latest message of the template's kind when there is one (its
params: the points and dates they were told about), else the kind's sample params. A test
email goes to the staff user's own address, through a job like every email, and is not logged
as a member message.
"""

from __future__ import annotations

from django.core.mail import get_connection

from members.models import Member
from messaging.kinds import kind_get
from messaging.models import MessageLog, MessageTemplate
from messaging.rendering import Rendered
from messaging.sending import email_build, message_render


def preview_log(*, template: MessageTemplate, member: Member) -> MessageLog:
    """An unsaved log row standing for the message `member` would get from `template`."""
    latest = (
        MessageLog.objects.filter(member=member, kind=template.kind)
        .order_by("-requested_at")
        .first()
    )
    params = latest.params if latest is not None else kind_get(template.kind).sample
    return MessageLog(member=member, kind=template.kind, locale=template.locale, params=params)


def template_preview(*, template: MessageTemplate, member: Member) -> Rendered:
    return message_render(log=preview_log(template=template, member=member), template=template)


def template_test_send(*, template_id: int, member_id: int, address: str) -> None:
    template = MessageTemplate.objects.get(pk=template_id)
    log = preview_log(template=template, member=Member.objects.get(pk=member_id))
    rendered = message_render(log=log, template=template)
    rendered = Rendered(f"[TEST] {rendered.subject}", rendered.text, rendered.html)
    with get_connection() as connection:
        email_build(log=log, rendered=rendered, to=address, connection=connection).send()
