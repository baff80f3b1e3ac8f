"""Reads of a member's ledger: their postings as the storefront and staff see them.

A posting's `status` is `pending` while it is a credit whose lot has not matured (its points cannot
be spent yet) and `available` otherwise: debits took effect when they were posted. The queryset
carries the lot's state and the storefront's order id as annotations (joins in the same query), so
a page of postings costs one query however long it is.
"""

from __future__ import annotations

from django.db.models import BooleanField, Case, F, Q, QuerySet, Value, When

from loyalty.models import Posting

STATUS_PENDING = "pending"
STATUS_AVAILABLE = "available"
STATUSES = (STATUS_PENDING, STATUS_AVAILABLE)


def member_postings(*, member_id: int) -> QuerySet[Posting]:
    """The member's postings, newest first (by `effective_at`, then id).

    Each carries `is_pending` (a credit whose lot has not matured) and `order_ref` (the
    storefront's `order_id` of the order it came from, or None).
    """
    return (
        Posting.objects.filter(member_id=member_id)
        .annotate(
            is_pending=Case(
                When(Q(lot__isnull=False) & Q(lot__matured=False), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            order_ref=F("order__order_id"),
        )
        .order_by("-effective_at", "-id")
    )


def posting_status(posting: Posting) -> str:
    """`pending` or `available`, for a posting from `member_postings`."""
    return STATUS_PENDING if posting.is_pending else STATUS_AVAILABLE
