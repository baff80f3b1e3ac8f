"""Writes to members: enrolment, update, erasure and the audit log.

Every public function is keyword-only, runs in its own durable transaction (or asserts it is inside
one, for primitives), and records who did it. Erasure blanks personal data and keeps the row.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, Gone, ServiceError
from events.models import EventType
from events.services import event_record
from members import erasure
from members.actors import Actor
from members.countries import COUNTRY_CODES
from members.models import AuditEntry, Language, Member

# No 0/O, 1/I/L: codes are read aloud and typed by hand.
REFERRAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERRAL_CODE_LENGTH = 8
CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "birth_date", "marketing_consent")
# What an update may change: the contact details, the country and the language of the member's
# messages.
PROFILE_FIELDS = (*CONTACT_FIELDS, "country", "locale")


def locale_checked(locale: str | None) -> str:
    """`en`, `zh-hans`, or "" (the program's language); `zh-Hans` and `zh_hans` are accepted."""
    value = (locale or "").strip().lower().replace("_", "-")
    if value and value not in Language.values:
        raise ServiceError(
            "validation_error",
            gettext("Unknown language: use en or zh-hans (or empty for the program's language)."),
            status=400,
            field="locale",
        )
    return value


def country_checked(country: str | None) -> str:
    """ "" or an ISO 3166-1 alpha-2 code (`members.countries`); lower case is accepted."""
    value = (country or "").strip().upper()
    if value and value not in COUNTRY_CODES:
        raise ServiceError(
            "validation_error",
            gettext("Unknown country: use an ISO 3166-1 alpha-2 code such as GB."),
            status=400,
            field="country",
        )
    return value


def referral_code_generate() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def referral_codes_generate(count: int) -> list[str]:
    """`count` codes as `referral_code_generate` draws them (the system's random source), in one
    call for the lot: the historical import creates thousands of members per chunk."""
    letters = "".join(_system_random.choices(REFERRAL_ALPHABET, k=count * REFERRAL_CODE_LENGTH))
    return [
        letters[start : start + REFERRAL_CODE_LENGTH]
        for start in range(0, len(letters), REFERRAL_CODE_LENGTH)
    ]


_system_random = secrets.SystemRandom()


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: Any,
    changes: dict | None = None,
    reason: str = "",
    member: Member | None = None,
) -> AuditEntry:
    """Append one audit entry. `target` is a model instance; `changes` maps field to [old, new]."""
    return AuditEntry.objects.create(
        **actor.as_fields(),
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        member=member,
        reason=reason,
        changes={k: [_plain(old), _plain(new)] for k, (old, new) in (changes or {}).items()},
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _normalise_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip().lower()
    if not email:
        return None
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(
            "validation_error", gettext("Enter a valid email address."), status=400, field="email"
        ) from None
    return email


def _email_taken(email: str | None, *, exclude_pk: int | None = None) -> bool:
    if not email:
        return False
    qs = Member.objects.filter(email__iexact=email)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def member_enrol(
    *,
    external_id: str,
    email: str,
    actor: Actor,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    birth_date: dt.date | None = None,
    marketing_consent: bool = False,
    referral_code: str | None = None,
    enrolled_at: dt.datetime | None = None,
    locale: str = "",
    country: str = "",
) -> Member:
    """Enrol a new member. Raises `email_taken` (409) or `validation_error` (400)."""
    locale = locale_checked(locale)
    country = country_checked(country)
    email = _normalise_email(email)
    if not email:
        raise ServiceError(
            "validation_error", gettext("An email is required to enrol."), status=400, field="email"
        )
    referrer = None
    if referral_code:
        referrer = Member.objects.filter(referral_code=referral_code.strip().upper()).first()
        if referrer is None or referrer.is_erased:
            raise ServiceError(
                "validation_error",
                gettext("No member has this referral code."),
                status=400,
                field="referral_code",
            )
    with transaction.atomic():
        if _email_taken(email):
            raise Conflict(
                "email_taken", gettext("Another member already uses this email."), field="email"
            )
        member = Member(
            external_id=external_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            birth_date=birth_date,
            marketing_consent=marketing_consent,
            referred_by=referrer,
            enrolled_at=enrolled_at or timezone.now(),
            locale=locale,
            country=country,
        )
        for _ in range(5):
            member.referral_code = referral_code_generate()
            try:
                with transaction.atomic():
                    member.save(force_insert=True)
                break
            except IntegrityError as exc:
                # Distinguish a referral-code collision (retry) from a race on email/external id.
                if _email_taken(email):
                    raise Conflict(
                        "email_taken",
                        gettext("Another member already uses this email."),
                        field="email",
                    ) from exc
                if Member.objects.filter(external_id=external_id).exists():
                    raise Conflict(
                        "member_exists", gettext("A member with this external id already exists.")
                    ) from exc
        else:  # pragma: no cover - 31^8 codes; five collisions in a row means something is wrong
            raise ServiceError(
                "referral_code_exhausted", gettext("Could not allocate a referral code.")
            )
        audit_record(actor=actor, action="member.enrol", target=member, member=member)
        _member_event(
            EventType.MEMBER_ENROLLED,
            member,
            {"enrolled_at": member.enrolled_at, "referred": referrer is not None},
        )
    return member


def _member_event(type: str, member: Member, payload: dict) -> None:
    """The change's domain event, in its transaction (`docs/events.md`). Never a contact
    detail's value: `member.updated` names the fields that changed."""
    event_record(
        type=type, member_id=member.pk, member_external_id=member.external_id, payload=payload
    )


def member_update(*, member: Member, actor: Actor, reason: str = "", **fields: Any) -> Member:
    """Change a member's contact details or language; the changed fields go to the audit log."""
    if member.is_erased:
        raise Gone("member_erased", gettext("This member's data has been erased."))
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ServiceError(
            "validation_error",
            gettext("Unknown field: %(value)s") % {"value": sorted(unknown)[0]},
            status=400,
            field=sorted(unknown)[0],
        )
    if "locale" in fields:
        fields["locale"] = locale_checked(fields["locale"])
    if "country" in fields:
        fields["country"] = country_checked(fields["country"])
    if "email" in fields:
        fields["email"] = _normalise_email(fields["email"])
        if not fields["email"]:
            raise ServiceError(
                "validation_error", gettext("Email cannot be blank."), status=400, field="email"
            )
    changes = {
        name: (getattr(member, name), value)
        for name, value in fields.items()
        if getattr(member, name) != value
    }
    if not changes:
        return member
    with transaction.atomic():
        if "email" in changes and _email_taken(fields["email"], exclude_pk=member.pk):
            raise Conflict(
                "email_taken", gettext("Another member already uses this email."), field="email"
            )
        for name, (_old, new) in changes.items():
            setattr(member, name, new)
        try:
            with transaction.atomic():
                member.save(update_fields=[*changes, "updated_at"])
        except IntegrityError as exc:
            raise Conflict(
                "email_taken", gettext("Another member already uses this email."), field="email"
            ) from exc
        audit_record(
            actor=actor,
            action="member.update",
            target=member,
            member=member,
            changes=changes,
            reason=reason,
        )
        _member_event(EventType.MEMBER_UPDATED, member, {"changed": sorted(changes)})
    return member


def member_set_status(*, member: Member, status: str, actor: Actor, reason: str) -> Member:
    """Suspend or reactivate a member (erasure has its own service)."""
    if member.is_erased:
        raise Gone("member_erased", gettext("This member's data has been erased."))
    if status not in (Member.Status.ACTIVE, Member.Status.SUSPENDED):
        raise ServiceError(
            "validation_error", gettext("Status must be active or suspended."), field="status"
        )
    with transaction.atomic():
        old = member.status
        member.status = status
        member.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="member.status",
            target=member,
            member=member,
            changes={"status": (old, status)},
            reason=reason,
        )
        if old != status:
            _member_event(EventType.MEMBER_UPDATED, member, {"changed": ["status"]})
    return member


def member_erase(*, member: Member, actor: Actor, reason: str = "erasure request") -> Member:
    """Forget the member (right to erasure); keep the row and all that points at it.

    The one erasure of the product: the API's DELETE and the admin's Erase both call it. Blanks
    the personal data, replaces an `external_id` that is an email by its stable pseudonym, and
    scrubs every other place that holds a personal value the member ever had: the audit trail,
    the admin log, stored API answers, the events and whatever the apps above registered
    (`members.erasure`). The ledger, orders and statistics stay. All in one transaction.
    Idempotent: erasing an erased member changes nothing.
    """
    if member.is_erased:
        return member
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        if member.is_erased:
            return member
        values, identifiers = erasure.personal_values(member)
        member.email = None
        member.first_name = ""
        member.last_name = ""
        member.phone = ""
        member.birth_date = None
        member.marketing_consent = False
        member.country = ""
        member.status = Member.Status.ERASED
        member.erased_at = timezone.now()
        erased = _forget(member, values=values, identifiers=identifiers)
        # The audit entry names the fields, never their old values: they are what was erased.
        changes = dict.fromkeys((*CONTACT_FIELDS, "country"), (erasure.ERASED, None))
        if erased.former_external_id is not None:
            changes["external_id"] = (erasure.ERASED, member.external_id)
        audit_record(
            actor=actor,
            action="member.erase",
            target=member,
            member=member,
            reason=erased.scrub_text(reason),
            changes=changes,
        )
        _member_event(EventType.MEMBER_ERASED, member, {})
    return member


def member_erasure_complete(*, member: Member, actor: Actor) -> dict[str, int]:
    """Forget an already erased member everywhere, as `member_erase` does today.

    For members erased before erasure scrubbed beyond the row: their former values are still in
    the audit trail, so they are found and scrubbed the same way, and an email-shaped external id
    gets its pseudonym. Returns the counts by place; audited when anything changed. Idempotent.
    """
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        if not member.is_erased:
            raise ServiceError("member_not_erased", "Only an erased member's erasure completes.")
        values, identifiers = erasure.personal_values(member)
        erased = _forget(member, values=values, identifiers=identifiers, blanked=False)
        if not any(erased.scrubbed.values()):
            return erased.scrubbed
        changes = {}
        if erased.former_external_id is not None:
            changes["external_id"] = (erasure.ERASED, member.external_id)
        audit_record(
            actor=actor,
            action="member.erase.complete",
            target=member,
            member=member,
            reason="erasure completed: "
            + ", ".join(f"{place} {count}" for place, count in erased.scrubbed.items() if count),
            changes=changes,
        )
    return erased.scrubbed


def _forget(member: Member, *, values, identifiers, blanked: bool = True) -> erasure.ErasedMember:
    """Save the row (`blanked`: the caller blanked it; else only a new pseudonym is saved), with
    the pseudonym when the external id is personal, then scrub everywhere."""
    former_external_id = None
    if erasure.external_id_is_personal(member.external_id):
        former_external_id = member.external_id
        member.external_id = erasure.external_id_pseudonym(member.external_id)
    if blanked:
        member.save()
    elif former_external_id is not None:
        member.save(update_fields=["external_id", "updated_at"])
    erased = erasure.ErasedMember(
        member=member,
        values=values,
        identifiers=identifiers,
        former_external_id=former_external_id,
    )
    if former_external_id is not None:
        erased.count("external id", 1)
    erasure.scrub_everywhere(erased)
    return erased
