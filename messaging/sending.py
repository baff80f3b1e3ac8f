"""Sending queued messages through Django's email backend (SMTP, an ESP through django-anymail,
the console or file backend in development, locmem in tests).

Invariants:
- A row is sent only while `queued`, under its row lock (SKIP LOCKED: a second worker holding
  the same ids skips them), and marked `sent` in the transaction that sent it (one per job's
  batch of ids); so a retried job sends only what is still queued. A backend error marks what
  was sent before it and propagates; a crash before the commit may send the batch's emails
  again (at-least-once at the transport), never a second log row.
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


def _skip_reasons(logs: list[MessageLog]) -> dict[int, str]:
    """Why each row may not be sent now (absent: it may), with one query per check."""
    emails = {log.member.email.lower() for log in logs if log.member.email}
    suppressed = set(
        Suppression.objects.filter(address__in=emails).values_list("address", flat=True)
    )
    opted_out = set(
        OptOut.objects.filter(member_id__in={log.member_id for log in logs}).values_list(
            "member_id", "kind"
        )
    )
    reasons = {}
    for log in logs:
        member = log.member
        if member.status != Member.Status.ACTIVE:
            reasons[log.pk] = f"member_{member.status}"
        elif not member.email:
            reasons[log.pk] = "no_email"
        elif member.email.lower() in suppressed:
            reasons[log.pk] = "suppressed"
        elif (member.pk, log.kind) in opted_out:
            reasons[log.pk] = "opted_out"
        elif log.kind not in KINDS:
            reasons[log.pk] = "unknown_kind"
    return reasons


def _send_batch(message_ids: list[int], connection) -> int:
    """One transaction: lock the batch's queued rows, send, mark. If the backend fails midway,
    what was sent is still marked sent (committed) and the error propagates (the job retries
    the rest)."""
    failure, sent = None, []
    with transaction.atomic():
        logs = list(
            MessageLog.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("member")
            .filter(pk__in=message_ids, status=MessageStatus.QUEUED)
            .order_by("pk")
        )
        if not logs:
            return 0
        reasons = _skip_reasons(logs)
        templates = {
            (t.kind, t.locale): t
            for t in MessageTemplate.objects.filter(
                kind__in={log.kind for log in logs}, active=True
            )
        }
        skipped: dict[str, list[int]] = {}
        for log in logs:
            template = templates.get((log.kind, log.locale))
            reason = reasons.get(log.pk) or ("" if template else "no_template")
            if reason:
                skipped.setdefault(reason, []).append(log.pk)
                continue
            rendered = message_render(log=log, template=template)
            email = email_build(
                log=log, rendered=rendered, to=log.member.email, connection=connection
            )
            try:
                email.send()
            except Exception as exc:  # the backend's error: keep what was sent, then raise
                failure = exc
                break
            status = getattr(email, "anymail_status", None)
            provider_id = (status.message_id if status else None) or email.extra_headers[
                "Message-ID"
            ]
            log.status, log.sent_at = MessageStatus.SENT, timezone.now()
            log.subject, log.template_version = rendered.subject[:200], template.version
            log.provider_id = str(provider_id)[:200]
            sent.append(log)
        for reason, ids in skipped.items():
            MessageLog.objects.filter(pk__in=ids).update(status=MessageStatus.SKIPPED, error=reason)
        MessageLog.objects.bulk_update(
            sent, ["status", "sent_at", "subject", "template_version", "provider_id"]
        )
    if failure is not None:
        raise failure
    return len(sent)


def messages_send(*, message_ids: list[int]) -> int:
    """Send the queued messages among `message_ids` over one backend connection, in one
    transaction; returns how many were sent. A backend error propagates after the rows sent
    before it are marked (the job retries; what was sent stays sent)."""
    with get_connection() as connection:
        return _send_batch(list(message_ids), connection)
