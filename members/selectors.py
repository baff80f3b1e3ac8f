"""Reads of members.

Lookups with the storefront's semantics, querysets for the admin, and the API's stored idempotent
responses.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext

from config.errors import Gone, NotFound
from config.prepared import PreparedQuery
from members.erasure import external_id_is_personal, external_id_pseudonym
from members.models import Member

# Every storefront request for a member starts here: compiled to SQL once (`config.prepared`).
_member_by_external_id = PreparedQuery(
    lambda external_id: Member.objects.filter(external_id=external_id), external_id=str
)


def member_get_for_api(*, external_id: str) -> Member:
    """The member addressed by the storefront; 404 if unknown, 410 if erased."""
    member = _member_by_external_id.first(external_id=external_id)
    if member is None and external_id_is_personal(external_id):
        # Erasure replaced an email-shaped id by its pseudonym: the old id still answers 410.
        member = _member_by_external_id.first(external_id=external_id_pseudonym(external_id))
    if member is None:
        raise NotFound(
            "member_not_found",
            gettext("No member with external id %(external_id)s.")
            % {"external_id": repr(external_id)},
        )
    if member.is_erased:
        raise Gone("member_erased", gettext("This member's data has been erased."))
    return member


# Sorts after every character a name starts with (ICU's maximum primary weight; the highest BMP
# code point in byte order), so [prefix, prefix + _PREFIX_END) covers every string starting with
# prefix and the b-tree on lower(name) can scan just that range, whatever the collation.
_PREFIX_END = "\uffff"
_MAX_NAME_WORDS = 4


def _prefix(alias: str, prefix: str) -> Q:
    # The range lets any collation use the index; LIKE keeps the result exact.
    return Q(
        **{
            f"{alias}__gte": prefix,
            f"{alias}__lt": prefix + _PREFIX_END,
            f"{alias}__startswith": prefix,
        }
    )


def _name_condition(term: str) -> Q:
    """Surname prefix, "Surname, First" or "First Surname" / "Surname First" (any split)."""
    if "," in term:
        last, first = (part.strip() for part in term.split(",", 1))
        if not first:
            return _prefix("last_lower", last)
        return Q(last_lower=last) & _prefix("first_lower", first)
    condition = _prefix("last_lower", term)
    words = term.split()
    if 1 < len(words) <= _MAX_NAME_WORDS:
        for i in range(1, len(words)):
            head, tail = " ".join(words[:i]), " ".join(words[i:])
            condition |= Q(last_lower=tail) & _prefix("first_lower", head)
            condition |= Q(last_lower=head) & _prefix("first_lower", tail)
    return condition


def member_search(*, term: str, queryset: QuerySet[Member] | None = None) -> QuerySet[Member]:
    """Members matching a staff search, using indexed lookups only (fast on millions of rows).

    Matches, OR-ed: the exact external id or referral code (unique indexes); with an "@", the
    email compared case-insensitively (the unique index on lower(email)); the exact phone
    (`member_phone_idx`), also without spaces; and a name (`member_name_ci_idx` on lower(last
    name), lower(first name)): a surname prefix ("lovel"), "surname, first-name prefix"
    ("lovelace, a") or first and last name in either order ("ada lovelace"). A first name alone
    is not searched: no index could answer it quickly. An empty term matches everything.
    """
    queryset = Member.objects.all() if queryset is None else queryset
    term = " ".join(term.split())
    if not term:
        return queryset
    lowered = term.lower()
    condition = Q(external_id=term) | Q(referral_code=term.upper()) | Q(phone=term)
    compact = "".join(term.split())
    if compact != term:
        condition |= Q(phone=compact)
    if "@" in term:
        condition |= Q(email_lower=lowered)
    else:
        condition |= _name_condition(lowered)
    return queryset.alias(
        email_lower=Lower("email"),
        last_lower=Lower("last_name"),
        first_lower=Lower("first_name"),
    ).filter(condition)
