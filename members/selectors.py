"""Reads of members: lookups with the storefront's semantics and querysets for the admin."""

from __future__ import annotations

from config.errors import Gone, NotFound
from members.models import Member


def member_get_for_api(*, external_id: str) -> Member:
    """The member addressed by the storefront; 404 if unknown, 410 if erased."""
    member = Member.objects.filter(external_id=external_id).first()
    if member is None:
        raise NotFound("member_not_found", f"No member with external id {external_id!r}.")
    if member.is_erased:
        raise Gone("member_erased", "This member's data has been erased.")
    return member
