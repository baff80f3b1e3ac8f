"""Writes of message templates and kind settings: the shipped defaults installed, a marketer's
change saved.

Invariants: a template is saved only when all three parts pass `template_problems` for its
kind's variables; every saved change bumps `version` (the log records which version a message
used) and is audited.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from members.actors import Actor
from members.services import audit_record
from messaging.kinds import KINDS, kind_get
from messaging.models import KindSetting, MessageTemplate
from messaging.rendering import template_problems
from segments.models import Segment

PARTS = (("subject", False), ("body_text", False), ("body_html", True))


def template_validate(*, kind: str, subject: str, body_text: str, body_html: str) -> None:
    """Raise a `ValidationError` naming each part's problems with their lines."""
    try:
        variables = set(kind_get(kind).all_variables())
    except LookupError:
        raise ValidationError(
            {"kind": ValidationError(_("Unknown kind."), code="unknown_kind")}
        ) from None
    values = {"subject": subject, "body_text": body_text, "body_html": body_html}
    errors = {
        name: [ValidationError(str(p), code="template_invalid") for p in problems]
        for name, html in PARTS
        if (problems := template_problems(values[name], variables, html=html))
    }
    if errors:
        raise ValidationError(errors)


def template_save(
    *,
    actor: Actor,
    kind: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str,
    active: bool = True,
) -> MessageTemplate:
    """Create or change the (kind, locale) template; its version goes up by one on a change."""
    template_validate(kind=kind, subject=subject, body_text=body_text, body_html=body_html)
    fields = {"subject": subject, "body_text": body_text, "body_html": body_html, "active": active}
    with transaction.atomic():
        template = (
            MessageTemplate.objects.select_for_update().filter(kind=kind, locale=locale).first()
        )
        if template is None:
            template = MessageTemplate.objects.create(kind=kind, locale=locale, **fields)
            changes = {"version": ["", 1]}
        else:
            changes = {
                k: [getattr(template, k), v] for k, v in fields.items() if getattr(template, k) != v
            }
            if not changes:
                return template
            MessageTemplate.objects.filter(pk=template.pk).update(
                version=F("version") + 1, **fields
            )
            template.refresh_from_db()
        audit_record(actor=actor, action="messages.template_save", target=template, changes=changes)
    return template


def templates_install_defaults() -> int:
    """Create each registered kind's shipped templates that do not exist yet (never overwrites a
    marketer's change); returns how many were created. Run after `migrate`."""
    created = 0
    for kind in KINDS.values():
        for locale, (subject, text, html) in kind.defaults.items():
            _, made = MessageTemplate.objects.get_or_create(
                kind=kind.code,
                locale=locale,
                defaults={"subject": subject, "body_text": text, "body_html": html},
            )
            created += made
        KindSetting.objects.get_or_create(
            kind=kind.code, defaults={"enabled": kind.enabled_by_default}
        )
    return created


def days_checked(days: str) -> str:
    """ "30, 7" -> "30,7"; a `ValidationError` on anything but whole days 0..3660."""
    parts = [part.strip() for part in (days or "").split(",") if part.strip()]
    if not all(part.isdigit() and int(part) <= 3660 for part in parts):
        raise ValidationError(
            {
                "days": ValidationError(
                    _("Whole days from 0 to 3660, comma-separated."), code="invalid"
                )
            }
        )
    return ",".join(str(int(part)) for part in parts)


UNCHANGED = object()


def kind_setting_update(
    *,
    actor: Actor,
    setting: KindSetting,
    enabled: bool,
    days: str,
    audience: Segment | object | None = UNCHANGED,
) -> None:
    """Switch a kind on or off, set its timing and its audience (a segment; audited)."""
    days = days_checked(days)
    values = {"enabled": enabled, "days": days}
    if audience is not UNCHANGED:
        values["audience_id"] = audience.pk if audience is not None else None
    changes = {
        name: [getattr(setting, name), value]
        for name, value in values.items()
        if getattr(setting, name) != value
    }
    if not changes:
        return
    with transaction.atomic():
        KindSetting.objects.filter(pk=setting.pk).update(**values)
        audit_record(actor=actor, action="messages.kind_setting", target=setting, changes=changes)
