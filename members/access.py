"""The subject-access export: everything the program holds about one member, as JSON.

`member_data_export(member=)` (a selector) returns a dict of sections: members' own (the profile,
consent, the audit trail) and those the apps above register in their `AppConfig.ready()` with
`register_export_section(name, provider)`; `provider(member=) -> list | dict` (loyalty: account,
postings, lots, orders, refunds, tier, tier history, adjustments; rewards: redemptions and
coupons; campaigns: referrals and awards). The API (`GET /api/v1/members/{external_id}/export`)
and the admin's button on the member's page serve the same dict.

Invariants:
- Reads only, a fixed number of queries per section whatever the member's history (each section
  is one or two `values()` queries; no query per row).
- Values are plain JSON: money and rates as strings, instants as ISO 8601 in UTC, dates as
  `YYYY-MM-DD`.
- Staff are named by role of actor only (`staff`, `api`, `system`): the export is the member's
  data, not the staff's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from members.models import AuditEntry, Member

EXPORT_FORMAT_VERSION = 1

export_sections: list[tuple[str, Callable[..., Any]]] = []


def register_export_section(name: str, provider: Callable[..., Any]) -> None:
    """Add `name` to every export; `provider(member=Member)` returns its JSON-ready value."""
    if all(existing != name for existing, _ in export_sections):
        export_sections.append((name, provider))


def plain(value: Any) -> Any:
    """A database value as JSON: Decimal and UUID as strings, instants in UTC ISO 8601."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def rows(queryset: QuerySet, fields: Iterable[str], **renamed: str) -> list[dict]:
    """The queryset's rows as plain dicts of `fields` (one query); `renamed` maps an output name
    to a lookup (`reward="reward__code"`)."""
    lookups = {name: name for name in fields} | renamed
    return [
        {name: plain(row[lookup]) for name, lookup in lookups.items()}
        for row in queryset.values(*lookups.values())
    ]


def member_data_export(*, member: Member) -> dict:
    """Everything held about `member` (see module); the caller refuses erased members."""
    referrer = member.referred_by.external_id if member.referred_by_id else None
    export: dict[str, Any] = {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": plain(timezone.now()),
        "member": {
            "external_id": member.external_id,
            "status": member.status,
            "email": member.email,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "phone": member.phone,
            "birth_date": plain(member.birth_date),
            "country": member.country,
            "enrolled_at": plain(member.enrolled_at),
            "referral_code": member.referral_code,
            "referred_by": referrer,
            "created_at": plain(member.created_at),
            "updated_at": plain(member.updated_at),
        },
        "consent": {
            "marketing_consent": member.marketing_consent,
            "history": rows(
                _audit(member).filter(changes__has_key="marketing_consent").order_by("pk"),
                ("created_at",),
                change="changes__marketing_consent",
            ),
        },
        "audit_entries": rows(
            _audit(member).order_by("created_at", "pk"),
            ("created_at", "action", "actor_kind", "target_type", "target_id", "reason", "changes"),
        ),
    }
    for name, provider in export_sections:
        export[name] = provider(member=member)
    return export


def _audit(member: Member) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        Q(member=member) | Q(target_type=Member._meta.label_lower, target_id=str(member.pk))
    )
