"""Erasure that forgets: what `members.services.member_erase` removes besides the member's row.

Invariants:
- After `member_erase` commits, no personal value the member ever had (every email, name, phone,
  birth date the audit trail recorded, and an `external_id` that is an email) is left in the
  database or in the files the product keeps; the ledger, orders and statistics are untouched
  (amounts, dates and links stay, only free text is rewritten).
- Every scrub runs in the erasure's transaction: erasure is all or nothing.
- The audit trail keeps *that* a change happened, who made it and when: only the values are
  replaced by `ERASED`.
- An `external_id` that is personal data (an email used as the id) becomes a
  stable pseudonym (`external_id_pseudonym`): the same id always gives the same pseudonym, so a
  later request with the old id still finds the erased member (`410 member_erased`). A customer
  imported under their email never gets it as an id: `external_id_for_email` gives the same
  keyed digest under the prefix `em-`.
- Apps above `members` take part through `erasure_scrubbers` (registered in their
  `AppConfig.ready()`, never imported from here): `scrubber(erasure=ErasedMember)` rewrites its
  own rows and files and returns how many it changed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pgtrigger
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils.crypto import salted_hmac

from events.services import events_member_forget
from idempotency.models import IdempotencyRecord
from members.models import AuditEntry, Member

ERASED = "(erased)"
PSEUDONYM_PREFIX = "erased-"
IMPORTED_PREFIX = "em-"
# The audit trail's fields whose values are personal data (`members.services.CONTACT_FIELDS`
# without the consent flag, plus the external id when it is an email).
PERSONAL_FIELDS = ("email", "first_name", "last_name", "phone", "birth_date", "external_id")
_PSEUDONYM_SALT = "members.erasure.external_id"


@dataclass(frozen=True)
class ErasedMember:
    """The member being erased and every personal value they had, for the scrubbers.

    `values` are matched case-insensitively as whole words (`scrub_text`), so a short first name
    never clobbers the middle of another word. `identifiers` are the values that single the member
    out on their own (emails, phone, birth date, full name, a personal external id): tables that
    are not the member's own (the admin log of other objects, stored API answers) are searched for
    those only, so another member who is also called Ada keeps her name.
    """

    member: Member
    values: frozenset[str]
    identifiers: frozenset[str]
    former_external_id: str | None = None  # set when the external id was replaced
    scrubbed: dict[str, int] = field(default_factory=dict)

    @cached_property
    def _patterns(self) -> tuple[re.Pattern | None, re.Pattern | None]:
        return _word_pattern(self.values), _word_pattern(self.identifiers)

    def _replacement(self, match: re.Match) -> str:
        # The old external id becomes the pseudonym (stored API paths still name the member's
        # endpoint); every other value becomes ERASED.
        if self.former_external_id and match.group(0).lower() == self.former_external_id.lower():
            return self.member.external_id
        return ERASED

    def scrub_text(self, text: str, *, identifiers_only: bool = False) -> str:
        """`text` with every personal value (or only the identifiers) replaced."""
        pattern = self._patterns[1 if identifiers_only else 0]
        if not text or pattern is None:
            return text
        return pattern.sub(self._replacement, text)

    def scrub_json(self, value: Any, *, identifiers_only: bool = False) -> Any:
        """A JSON value with every string (keys too) scrubbed."""
        if isinstance(value, str):
            return self.scrub_text(value, identifiers_only=identifiers_only)
        if isinstance(value, list):
            return [self.scrub_json(item, identifiers_only=identifiers_only) for item in value]
        if isinstance(value, dict):
            return {
                self.scrub_text(k, identifiers_only=identifiers_only): self.scrub_json(
                    v, identifiers_only=identifiers_only
                )
                for k, v in value.items()
            }
        return value

    def mentions_q(self, *fields: str, identifiers_only: bool = False) -> Q:
        """A filter for rows whose `fields` contain a personal value (a prefilter: the exact match
        is `scrub_text`'s). Matches nothing when there is no value to look for."""
        values = self.identifiers if identifiers_only else self.values
        condition = Q(pk__in=[])
        for name in fields:
            for value in values:
                condition |= Q(**{f"{name}__icontains": value})
        return condition

    def count(self, place: str, changed: int) -> int:
        self.scrubbed[place] = self.scrubbed.get(place, 0) + changed
        return changed


def _word_pattern(values: frozenset[str]) -> re.Pattern | None:
    if not values:
        return None
    # Longest first, so "Ada Lovelace" goes as a whole before "Ada".
    words = sorted(values, key=len, reverse=True)
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
    )


# A scrubber: `scrubber(erasure=ErasedMember) -> int` (rows or files changed).
erasure_scrubbers: list[Callable[..., int]] = []


def register_erasure_scrubber(scrubber: Callable[..., int]) -> None:
    """Let an app above `members` forget the member in its own tables and files (see module)."""
    if scrubber not in erasure_scrubbers:
        erasure_scrubbers.append(scrubber)


def external_id_is_personal(external_id: str) -> bool:
    """An external id that is an email (the storefront's, or an earlier import's) is personal."""
    return "@" in external_id


def _keyed_digest(value: str) -> str:
    """HMAC-SHA256 (keyed with the project's SECRET_KEY) of the lower-cased value, 32 hex digits:
    stable, and not reversible without the key."""
    return salted_hmac(_PSEUDONYM_SALT, value.strip().lower(), algorithm="sha256").hexdigest()[:32]


def external_id_pseudonym(external_id: str) -> str:
    """The stable pseudonym an erased member's personal external id is replaced with
    (`erased-` and the keyed digest of the id), so a later request with the old id finds the
    erased member."""
    return f"{PSEUDONYM_PREFIX}{_keyed_digest(external_id)}"


def external_id_for_email(email: str) -> str:
    """The external id of a customer known only by their email (a Shopify export has no customer
    id): `em-` and the same keyed digest, so no email becomes an id, and the same customer gets
    the same id on every import (a re-import finds them). Erasure keeps it: it is not personal."""
    return f"{IMPORTED_PREFIX}{_keyed_digest(email)}"


def personal_values(member: Member) -> tuple[frozenset[str], frozenset[str]]:
    """Every personal value the member has or had (the row's, and the old and new values of every
    change the audit trail recorded for them), and those of them that are identifiers."""
    values: set[str] = set()
    identifiers: set[str] = set()

    def add(name: str, value: Any) -> None:
        if not _personal(name, value):
            return
        text = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
        if text and text != ERASED:
            values.add(text)
            if name not in ("first_name", "last_name"):
                identifiers.add(text)

    for name in PERSONAL_FIELDS:
        add(name, getattr(member, name))
    names = {"first_name": {member.first_name}, "last_name": {member.last_name}}
    for changes in _audit_entries(member).values_list("changes", flat=True):
        for name, pair in (changes or {}).items():
            if name in PERSONAL_FIELDS and isinstance(pair, list):
                for value in pair:
                    add(name, value)
                    if name in names and isinstance(value, str):
                        names[name].add(value)
    # Every full name the member went by (the admin log's `str()` of a member shows it).
    for first in names["first_name"]:
        for last in names["last_name"]:
            add("full_name", f"{first} {last}")
    return frozenset(values), frozenset(identifiers)


def _personal(name: str, value: Any) -> bool:
    """Whether a recorded value of field `name` is personal data (a pseudonym is not; an external
    id is only when it is an email)."""
    if value is None or isinstance(value, bool) or value in ("", ERASED):
        return False
    if name == "external_id":
        return isinstance(value, str) and external_id_is_personal(value)
    return True


def _audit_entries(member: Member) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        Q(member=member) | Q(target_type=Member._meta.label_lower, target_id=str(member.pk))
    )


def scrub_everywhere(erasure: ErasedMember) -> dict[str, int]:
    """Run every scrub, members' own then the registered ones; return the counts by place."""
    assert connection.in_atomic_block, "scrub in the erasure's transaction"
    _scrub_audit(erasure)
    _scrub_admin_log(erasure)
    _scrub_idempotency(erasure)
    # The domain events keep their facts; their payloads lose the member's external id.
    erasure.count("events", events_member_forget(member_id=erasure.member.pk))
    for scrubber in erasure_scrubbers:
        name = getattr(scrubber, "__qualname__", repr(scrubber))
        erasure.count(name, scrubber(erasure=erasure))
    return erasure.scrubbed


def scrub_rows(
    erasure: ErasedMember,
    queryset: QuerySet,
    fields: Iterable[str],
    *,
    append_only_triggers: Iterable[str] = (),
) -> int:
    """Rewrite the text `fields` of the rows of `queryset` that mention a personal value; return
    how many rows changed. For the registered scrubbers' usual case, `queryset` holds the
    member's own rows.

    Rows of an append-only table are rewritten with its protecting triggers (`"app.Model:name"`)
    ignored for these statements only: the text changes, never an amount, a date or a link.
    """
    fields = tuple(fields)
    changed = 0
    rows = list(queryset.filter(erasure.mentions_q(*fields)).order_by("pk"))
    with pgtrigger.ignore(*append_only_triggers) if append_only_triggers else nullcontext():
        for row in rows:
            new = {name: erasure.scrub_text(getattr(row, name)) for name in fields}
            if any(new[name] != getattr(row, name) for name in fields):
                type(row)._base_manager.filter(pk=row.pk).update(**new)
                changed += 1
    return changed


def _scrub_audit(erasure: ErasedMember) -> None:
    """The member's audit entries keep action, actor and time; values and free text are replaced."""
    changed = 0
    with pgtrigger.ignore("members.AuditEntry:audit_append_only"):
        for entry in _audit_entries(erasure.member).order_by("pk"):
            changes = {
                name: [ERASED if _personal(name, v) else v for v in pair]
                if name in PERSONAL_FIELDS and isinstance(pair, list)
                else erasure.scrub_json(pair)
                for name, pair in (entry.changes or {}).items()
            }
            reason = erasure.scrub_text(entry.reason)
            if changes != entry.changes or reason != entry.reason:
                AuditEntry.objects.filter(pk=entry.pk).update(changes=changes, reason=reason)
                changed += 1
    erasure.count("audit entries", changed)


def _scrub_admin_log(erasure: ErasedMember) -> None:
    """Django's admin log names objects by `str()` and may quote values in its messages: the
    member's own entries are renamed to the erased member's `str()` and scrubbed of every value;
    other objects' entries of every identifier."""
    member_type = ContentType.objects.get_for_model(Member)
    own = Q(content_type=member_type, object_id=str(erasure.member.pk))
    others = erasure.mentions_q("object_repr", "change_message", identifiers_only=True)
    changed = 0
    for entry in LogEntry.objects.filter(own | others).order_by("pk"):
        is_own = entry.content_type_id == member_type.pk and entry.object_id == str(
            erasure.member.pk
        )
        if is_own:
            new_repr = str(erasure.member)
            new_message = erasure.scrub_text(entry.change_message)
        else:
            new_repr = erasure.scrub_text(entry.object_repr, identifiers_only=True)
            new_message = erasure.scrub_text(entry.change_message, identifiers_only=True)
        if (new_repr, new_message) != (entry.object_repr, entry.change_message):
            LogEntry.objects.filter(pk=entry.pk).update(
                object_repr=new_repr[:200], change_message=new_message
            )
            changed += 1
    erasure.count("admin log entries", changed)


def _scrub_idempotency(erasure: ErasedMember) -> None:
    """Stored API answers (kept 24 hours) whose path or body holds an identifier: the old external
    id becomes the pseudonym in both, other identifiers ERASED."""
    records = IdempotencyRecord.objects.annotate(body_text=Cast("response_body", TextField()))
    changed = 0
    mentioning = erasure.mentions_q("endpoint", "body_text", identifiers_only=True)
    for record in records.filter(mentioning).order_by("pk"):
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            endpoint=erasure.scrub_text(record.endpoint, identifiers_only=True),
            response_body=erasure.scrub_json(record.response_body, identifiers_only=True),
        )
        changed += 1
    erasure.count("stored API answers", changed)
