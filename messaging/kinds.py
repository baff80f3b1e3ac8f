"""The message kinds: a registry, so an app above `messaging` can add its own kind.

A kind says what a message is about and how the daily run finds who gets it:

    from messaging.kinds import Kind, register_kind

    register_kind(Kind(
        code="membership_renewal",            # the log's and the templates' key
        label=_("Paid membership renewal"),
        promotional=False,                    # service: goes unless opted out of this kind
        variables={"plan_name": _("the plan's name"), "renewal_date": _("the renewal date")},
        default_days=(7,),                    # the timing marketing may change (KindSetting)
        planner=renewal_plan,                 # (as_of, days) -> [queryset], see below; or None
        params_of=renewal_params,             # row -> (subject_key, params)
        context=renewal_context,              # (params=, locale=, member=) -> {variable: text}
        sample={"plan": "PLUS", "renewal_date": "2027-01-31"},   # params for previews
        defaults={"en": (subject, text, html), "zh-hans": (...)},  # the shipped templates
    ))

- `planner(as_of=date, days=tuple[int, ...])` returns a list of querysets of dicts with a
  `member_id` key, each ordered by `member_id`: set-based queries over the kind's own rows
  (lots, tier changes, coupons), never a loop over members; `params_of(row)` turns a row into
  `(subject_key, params)`. The daily step feeds it to
  `messaging.services.messages_plan`, which applies consent, opt-outs, suppression and the cap.
- Kinds without a planner are requested by their event's writer through a hook
  (`welcome` on enrolment, `redemption_receipt`) with `message_request`.
- `params` are JSON values and never personal (ids, dates, points, tier codes): they are written
  to the log and to the `message.requested` event; `context` turns them into the template's
  variables, formatted for the locale, at send time.

Register in `AppConfig.ready()`. Every variable a template may use is the kind's `variables`
plus `COMMON_VARIABLES`; the template editor refuses any other (`messaging.rendering`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

COMMON_VARIABLES: dict[str, Any] = {
    "first_name": _("the member's first name (empty when unknown)"),
    "program_name": _("the program's name"),
    "unsubscribe_url": _("the link that stops this kind of message"),
}


@dataclass(frozen=True)
class Kind:
    code: str
    label: Any
    promotional: bool
    variables: Mapping[str, Any]
    context: Callable[..., dict]
    sample: dict
    defaults: Mapping[str, tuple[str, str, str]]
    default_days: tuple[int, ...] = ()
    planner: Callable[..., Any] | None = None
    params_of: Callable[[dict], tuple[str, dict]] | None = None
    # Off until marketing switches it on (a `KindSetting` row), e.g. a kind new to a live program.
    enabled_by_default: bool = True
    extra: dict = field(default_factory=dict)

    def all_variables(self) -> dict[str, Any]:
        return {**COMMON_VARIABLES, **self.variables}


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> None:
    KINDS[kind.code] = kind


def kind_get(code: str) -> Kind:
    try:
        return KINDS[code]
    except KeyError:
        raise LookupError(f"unknown message kind {code!r}") from None


def kind_choices() -> list[tuple[str, Any]]:
    return [(kind.code, kind.label) for kind in KINDS.values()]
