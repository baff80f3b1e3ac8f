"""Template tags the admin's frame uses on every page (home page and sidebar).

`pending_adjustment_requests`: how many adjustment requests wait for a decision, for users who may
decide them (Supervisor); `None` for everyone else, so the frame shows nothing to them. One
`COUNT` on the `(status, requested_at)` index, computed once per request (the home page and the
sidebar share it).
"""

from __future__ import annotations

from django import template

from loyalty.models import AdjustmentRequest
from loyalty.services.adjustments import PERM_APPROVE

register = template.Library()

_CACHE_ATTR = "_pending_adjustment_requests"


@register.simple_tag(takes_context=True)
def pending_adjustment_requests(context) -> int | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm(PERM_APPROVE):
        return None
    if not hasattr(request, _CACHE_ATTR):
        pending = AdjustmentRequest.objects.filter(status=AdjustmentRequest.Status.PENDING)
        setattr(request, _CACHE_ATTR, pending.count())
    return getattr(request, _CACHE_ATTR)
