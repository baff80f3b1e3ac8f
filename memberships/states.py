"""The membership state machine: which action may leave which state, and where it goes.

    (start) ─trial─> trialing ──renew──> active ──renew──> active
    (start) ─paid──> active
    trialing | active ──period ends, no renewal (daily)──> past_due (perks kept until grace_until)
    past_due ──renew──> active (the new period starts where the old one ended)
    trialing | active | past_due ──cancel──> cancelled (perks until the period's end, or now)
    cancelled ──its end passes (daily)──> expired
    past_due ──grace passes (daily)──> expired
    active | cancelled (a paid period, not yet ended) ──refund──> refunded (perks end at once)

`expired` and `refunded` are final: the member may start a new membership of the plan. Any other
action is `invalid_transition`, naming the state (`transition_check`).
"""

from __future__ import annotations

from http import HTTPStatus

from django.utils.translation import gettext_lazy as _

from config.errors import ServiceError
from memberships.models import MembershipStatus as S

RENEW = "renew"
CANCEL = "cancel"
REFUND = "refund"
PERK_USE = "perk_use"
PAST_DUE = "past_due"
EXPIRE = "expire"

ALLOWED: dict[str, frozenset[str]] = {
    RENEW: frozenset({S.TRIALING, S.ACTIVE, S.PAST_DUE}),
    CANCEL: frozenset({S.TRIALING, S.ACTIVE, S.PAST_DUE}),
    REFUND: frozenset({S.ACTIVE, S.CANCELLED}),
    PERK_USE: frozenset({S.TRIALING, S.ACTIVE, S.PAST_DUE, S.CANCELLED}),
    PAST_DUE: frozenset({S.TRIALING, S.ACTIVE}),
    EXPIRE: frozenset({S.PAST_DUE, S.CANCELLED}),
}

# Where each allowed action leads (the daily steps included).
TARGET: dict[str, str] = {
    RENEW: S.ACTIVE,
    CANCEL: S.CANCELLED,
    REFUND: S.REFUNDED,
    PAST_DUE: S.PAST_DUE,
    EXPIRE: S.EXPIRED,
}


_REFUSALS = {
    RENEW: _("This membership is %(state)s: it cannot be renewed."),
    CANCEL: _("This membership is %(state)s: it cannot be cancelled."),
    REFUND: _("This membership is %(state)s: it cannot be refunded."),
    PERK_USE: _("This membership is %(state)s: its perks cannot be used."),
    PAST_DUE: _("This membership is %(state)s: it cannot become past due."),
    EXPIRE: _("This membership is %(state)s: it cannot expire."),
}


def transition_check(*, action: str, status: str) -> None:
    """Refuse `action` from `status`: `409 invalid_transition`, naming the state in the message
    and in the problem's `state`."""
    if status not in ALLOWED[action]:
        raise transition_refusal(action=action, status=status)


def transition_refusal(*, action: str, status: str) -> ServiceError:
    """The `invalid_transition` error for `action` from `status`."""
    return ServiceError(
        "invalid_transition",
        str(_REFUSALS[action]) % {"state": status},
        status=HTTPStatus.CONFLICT,
        extra={"state": str(status)},
    )
