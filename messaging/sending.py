"""Sending queued messages through Django's email backend (SMTP, an ESP through django-anymail,
the console or file backend in development, locmem in tests).

Invariants:
- A row is sent only while `queued`, under its row lock (SKIP LOCKED: a second worker holding
  the same ids skips it), and marked `sent` in the transaction that sent it; so a retried job
  sends only what is still queued.
- Eligibility is checked again at send time (the member may have been erased, suspended, opted
  out or bounced since the plan): such a row is marked `skipped` with the reason.
- Every email carries `List-Unsubscribe` (the signed one-click link, RFC 8058) and
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
"""

from __future__ import annotations

from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone

from members.models import Member
from messaging.context import common_context, unsubscribe_url
from messaging.kinds import KINDS
from messaging.models import MessageLog, MessageStatus, MessageTemplate, OptOut, Suppression
from messaging.rendering import Rendered, render


def message_render(*, log: MessageLog, template: MessageTemplate) -> Rendered:
    """The message as it was (or will be) sent: the template and the row's params."""
    kind = KINDS[log.kind]
    context = {
        **common_context(member=log.member, kind=log.kind),
        **kind.context(params=log.params, locale=log.locale, member=log.member),
    }
    return render(
        subject=template.subject,
        text=template.body_text,
        html=template.body_html,
        context=context,
        locale=log.locale,
    )


def email_build(*, log: MessageLog, rendered: Rendered, to: str, connection=None):
    link = unsubscribe_url(member_id=log.member_id, kind=log.kind)
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": make_msgid(domain=settings.MESSAGING_MESSAGE_ID_DOMAIN),
        },
    )
    if rendered.html:
        email.attach_alternative(rendered.html, "text/html")
    # Read by ESP backends (django-anymail); plain backends ignore them.
    email.metadata = {"message_id": log.pk}
    email.tags = [log.kind]
    return email


def _skip_reason(log: MessageLog) -> str:
    member = log.member
    if member.status != Member.Status.ACTIVE:
        return f"member_{member.status}"
    if not member.email:
        return "no_email"
    if Suppression.objects.filter(address=member.email.lower()).exists():
        return "suppressed"
    if OptOut.objects.filter(member_id=member.pk, kind=log.kind).exists():
        return "opted_out"
    if log.kind not in KINDS:
        return "unknown_kind"
    return ""


def _send_one(message_id: int, connection) -> bool:
    with transaction.atomic():
        log = (
            MessageLog.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("member")
            .filter(pk=message_id, status=MessageStatus.QUEUED)
            .first()
        )
        if log is None:
            return False
        reason = _skip_reason(log)
        template = MessageTemplate.objects.filter(
            kind=log.kind, locale=log.locale, active=True
        ).first()
        if not reason and template is None:
            reason = "no_template"
        if reason:
            MessageLog.objects.filter(pk=log.pk).update(status=MessageStatus.SKIPPED, error=reason)
            return False
        rendered = message_render(log=log, template=template)
        email = email_build(log=log, rendered=rendered, to=log.member.email, connection=connection)
        email.send()
        status = getattr(email, "anymail_status", None)
        provider_id = (status.message_id if status else None) or email.extra_headers["Message-ID"]
        MessageLog.objects.filter(pk=log.pk).update(
            status=MessageStatus.SENT,
            sent_at=timezone.now(),
            subject=rendered.subject[:200],
            template_version=template.version,
            provider_id=str(provider_id)[:200],
        )
        return True


def messages_send(*, message_ids: list[int]) -> int:
    """Send the queued messages among `message_ids` over one backend connection; returns how
    many were sent. A backend error propagates (the job retries; what was sent stays sent)."""
    sent = 0
    with get_connection() as connection:
        for message_id in message_ids:
            sent += _send_one(message_id, connection)
    return sent
