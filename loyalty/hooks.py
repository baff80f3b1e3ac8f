"""Registries through which higher apps (rewards, campaigns) take part in loyalty's flows.

Lower apps never import higher ones; instead a higher app registers a provider here in its
`AppConfig.ready()`. Providers run inside the caller's transaction, under the member's account lock,
and must only write through loyalty's services.

- `order_bonus_providers`: called as `provider(order=, member=, base_points=, settings=, actor=)`
  after an order's base and tier points are posted; returns a list of `OrderBonus` to post as
  `campaign_bonus` postings (one per campaign). Bonuses from several providers add up.
  A provider may come with a `quiet(config_version) -> bool` check: True when it cannot award
  anything under that configuration version (`loyalty.selectors.order_path`), known without a
  query. When every provider is quiet, the order path writes the order and its postings in one
  statement (the providers still run, after the order is known to be new, unless the listeners
  are quiet too: see below).
- `order_recorded_listeners`: called as `listener(order=, member=, actor=)` once the order and all
  its postings exist (e.g. a referral waiting for a first order). The order path hands over the
  `campaign_bonus` postings it has just written as `order.campaign_postings` (a list, so a
  listener need not read them back; absent on an order from elsewhere). A listener may come with a
  `quiet(config_version) -> dict | None` check: the member fields (`{attname: value}`, `{}` for
  any member) for whose orders it would do nothing under that configuration version, or None if
  it may act on anyone's. When every provider and every listener is quiet (and no tier is
  configured), the order path records the order in one statement that also finds the member and
  checks those fields, with no transaction around it, and calls none of them
  (`loyalty.services.orders`).
- `member_enrolled_listeners`: called as `listener(member=, actor=)` inside the storefront's
  enrolment transaction (sign-up bonuses, referrals). Imports and backfills do not call them.
- `daily_job_steps`: named steps `run_daily_jobs` runs after its own (coupon expiry, birthdays).
- `import_completed_listeners`: called as `listener(run=ImportRun)` after a historical import
  that wrote something has committed (its `import.completed` event is written by then), e.g. to
  refresh the analytics rollups of the past days it touched.
- `tier_entered_listeners`: called as `listener(entries=[TierEntry], actor=)` when members reach
  a higher tier, inside the transaction that wrote the change, after the member's tier row
  holds the new tier: the order path's upgrade and the one-member evaluation (one entry each),
  and the set-based daily evaluation (one call per batch, its upgrades together: the members'
  accounts are locked by the batch). Not for downgrades, overrides or the import (history).
  E.g. a tier-entry campaign's points and gift coupon.
- `member_summary_parts`: keys of the member summary a higher app fills (`membership`: the paid
  membership), `provider(member=, now=) -> value`. The summary's serializer declares each key
  (the API's schema stays stable); with no provider registered the key is null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TierEntry:
    member_id: int
    tier_code: str
    at: object  # datetime: when the tier holds from


@dataclass(frozen=True, slots=True)
class OrderBonus:
    campaign_code: str
    points: int
    description: str = ""


order_bonus_providers: list[Callable[..., list[OrderBonus]]] = []
order_bonus_quiet: dict[Callable[..., list[OrderBonus]], Callable[[int | None], bool]] = {}
order_recorded_listeners: list[Callable[..., None]] = []
order_recorded_quiet: dict[Callable[..., None], Callable[[int | None], dict | None]] = {}


def register_order_bonus_provider(
    provider: Callable[..., list[OrderBonus]],
    *,
    quiet: Callable[[int | None], bool] | None = None,
) -> None:
    if provider not in order_bonus_providers:
        order_bonus_providers.append(provider)
    if quiet is not None:
        order_bonus_quiet[provider] = quiet


def order_bonuses_quiet(config_version: int | None) -> bool:
    """Whether no order bonus provider can award anything under this configuration version (each
    provider's `quiet` check says so; a provider without one never is)."""
    for provider in order_bonus_providers:
        quiet = order_bonus_quiet.get(provider)
        if quiet is None or not quiet(config_version):
            return False
    return True


def register_order_recorded_listener(
    listener: Callable[..., None], *, quiet: Callable[[int | None], dict | None] | None = None
) -> None:
    if listener not in order_recorded_listeners:
        order_recorded_listeners.append(listener)
    if quiet is not None:
        order_recorded_quiet[listener] = quiet


def order_listeners_quiet(config_version: int | None) -> dict | None:
    """The member fields (`{attname: value}`) for whose orders no order-recorded listener would do
    anything under this configuration version (every listener's `quiet` check, merged); None
    when one may act on anyone's (or has no check)."""
    fields: dict = {}
    for listener in order_recorded_listeners:
        quiet = order_recorded_quiet.get(listener)
        wanted = None if quiet is None else quiet(config_version)
        if wanted is None or any(fields.get(k, v) != v for k, v in wanted.items()):
            return None
        fields.update(wanted)
    return fields


# Extra steps of the daily jobs, run after loyalty's own (maturity, expiry, tiers), in order:
# `step(as_of=date, cutoff=datetime, actor=Actor) -> int` (how many things it did).
daily_job_steps: list[tuple[str, Callable[..., int]]] = []


def register_daily_job_step(name: str, step: Callable[..., int]) -> None:
    if all(existing != name for existing, _ in daily_job_steps):
        daily_job_steps.append((name, step))


member_enrolled_listeners: list[Callable[..., None]] = []


def register_member_enrolled_listener(listener: Callable[..., None]) -> None:
    if listener not in member_enrolled_listeners:
        member_enrolled_listeners.append(listener)


member_summary_parts: dict[str, Callable[..., object]] = {}


def register_member_summary_part(name: str, provider: Callable[..., object]) -> None:
    member_summary_parts[name] = provider


import_completed_listeners: list[Callable[..., None]] = []


def register_import_completed_listener(listener: Callable[..., None]) -> None:
    if listener not in import_completed_listeners:
        import_completed_listeners.append(listener)


tier_entered_listeners: list[Callable[..., None]] = []


def register_tier_entered_listener(listener: Callable[..., None]) -> None:
    if listener not in tier_entered_listeners:
        tier_entered_listeners.append(listener)


def tier_entered(*, entries: list[TierEntry], actor) -> None:
    """Tell the listeners that these members reached a higher tier (nothing when none)."""
    if not entries:
        return
    for listener in tier_entered_listeners:
        listener(entries=entries, actor=actor)
