"""Changes to the program's rules: the settings record and exchange rates, every one audited.

Marketing edits these in the admin; the admin's `save_model` / `delete_model` call these services
and never write the rows themselves. Each change appends one `members.AuditEntry` naming who did
it and every changed field as `[old, new]`; a save that changes nothing records nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from config.errors import ServiceError
from loyalty.models import ExchangeRate, ProgramSettings
from members.actors import Actor
from members.services import audit_record

# What staff may change; `updated_at` is kept by the model and the primary key is fixed at 1.
PROGRAM_SETTINGS_FIELDS = (
    "currency",
    "earn_rate",
    "point_value",
    "pending_days",
    "points_lifetime_days",
    "allow_negative_balance",
    "qualification",
    "tier_metric",
    "growth_sources",
    "tier_hold_days",
    "service_adjustment_limit",
    "service_daily_limit",
    "locale",
    "launched_at",
)


def _validation_error(exc: ValidationError) -> ServiceError:
    errors = [
        {"field": field, "message": message}
        for field, messages in exc.message_dict.items()
        for message in messages
    ]
    first = errors[0]
    return ServiceError(
        "validation_error", first["message"], status=400, field=first["field"], errors=errors
    )


def _full_clean(obj) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise _validation_error(exc) from None


def program_settings_update(
    *,
    actor: Actor,
    reason: str = "",
    confirm_reevaluation: bool = False,
    check_thresholds: bool = True,
    **changes: Any,
) -> ProgramSettings:
    """Change some of the program settings; audit `{field: [old, new]}` for each one changed.

    Unknown fields are refused (`validation_error`), values are validated as the model defines
    them (a negative earn rate, a currency that is not three letters). The row is locked while it
    changes, so two editors never lose each other's change to a stale read.

    The tier metric (`docs/tiers.md`, "Changing the metric"): growth value needs at least one
    source; a metric that counts needs whole-number thresholds (`check_thresholds`: the config
    import checks the ladder as the file leaves it instead); changing the metric while members
    hold a tier above the entry tier is refused (`tier_metric_change_unconfirmed`) unless
    `confirm_reevaluation`: the next daily evaluation then evaluates everyone on the new metric.
    """
    unknown = sorted(set(changes) - set(PROGRAM_SETTINGS_FIELDS))
    if unknown:
        raise ServiceError(
            "validation_error",
            gettext("Unknown setting: %(value)s") % {"value": unknown[0]},
            status=400,
            field=unknown[0],
        )
    if "currency" in changes:
        changes["currency"] = str(changes["currency"]).strip().upper()
    if "growth_sources" in changes:
        changes["growth_sources"] = _growth_sources(changes["growth_sources"])
    with transaction.atomic():
        ProgramSettings.objects.get_or_create(pk=1)
        current = ProgramSettings.objects.select_for_update().get(pk=1)
        diff = {
            name: (getattr(current, name), value)
            for name, value in changes.items()
            if getattr(current, name) != value
        }
        if not diff:
            return current
        for name, (_old, new) in diff.items():
            setattr(current, name, new)
        if "currency" in diff and len(current.currency) != 3:
            raise ServiceError(
                "validation_error",
                gettext("The currency is a three-letter ISO 4217 code."),
                status=400,
                field="currency",
            )
        _full_clean(current)
        _tier_metric_check(
            current,
            metric_changed="tier_metric" in diff,
            confirmed=confirm_reevaluation,
            check_thresholds=check_thresholds,
        )
        current.save(update_fields=[*diff, "updated_at"])
        audit_record(
            actor=actor,
            action="program_settings.update",
            target=current,
            changes=diff,
            reason=reason,
        )
    return current


def _growth_sources(value: Any) -> list[str]:
    """The sources as stored: known words, each once, in the enum's order."""
    known = ProgramSettings.GrowthSource.values
    if not isinstance(value, list | tuple) or any(item not in known for item in value):
        raise ServiceError(
            "validation_error",
            gettext("Growth value sources are a list of: %(values)s.")
            % {"values": ", ".join(known)},
            status=400,
            field="growth_sources",
        )
    return [source for source in known if source in value]


def _tier_metric_check(
    current: ProgramSettings, *, metric_changed: bool, confirmed: bool, check_thresholds: bool
) -> None:
    from loyalty.models import Tier
    from loyalty.selectors.tier_metric import ladder_is_live, threshold_problem

    metric = current.tier_metric
    if metric == ProgramSettings.TierMetric.GROWTH and not current.growth_sources:
        raise ServiceError(
            "validation_error",
            gettext("Growth value counts points from at least one source: choose them."),
            status=400,
            field="growth_sources",
        )
    if not metric_changed:
        return
    if check_thresholds:
        for tier in Tier.objects.order_by("rank"):
            if threshold_problem(metric, tier.threshold):
                raise ServiceError(
                    "validation_error",
                    gettext(
                        "The %(tier)s threshold (%(threshold)s) is not a whole number: a ladder "
                        "on orders or growth value counts them. Change the thresholds first."
                    )
                    % {"tier": tier.name, "threshold": tier.threshold},
                    status=400,
                    field="tier_metric",
                )
    if not confirmed and ladder_is_live():
        raise ServiceError(
            "tier_metric_change_unconfirmed",
            gettext(
                "Members hold tiers earned on the current metric. Confirm the re-evaluation: "
                "the next daily evaluation moves members up at once on the new metric, and "
                "down only when their hold ends."
            ),
            status=409,
            field="tier_metric",
        )


def exchange_rate_set(*, currency: str, rate: Decimal, actor: Actor) -> ExchangeRate:
    """Create or change the rate for `currency` (program-currency units per unit); audited."""
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ServiceError(
            "validation_error",
            gettext("The currency is a three-letter ISO 4217 code."),
            status=400,
            field="currency",
        )
    if not isinstance(rate, Decimal) or rate <= 0:
        raise ServiceError(
            "validation_error",
            gettext("The rate must be a positive decimal."),
            status=400,
            field="rate",
        )
    with transaction.atomic():
        existing = ExchangeRate.objects.select_for_update().filter(currency=currency).first()
        if existing is None:
            rate_obj = ExchangeRate(currency=currency, rate=rate)
            _full_clean(rate_obj)
            rate_obj.save(force_insert=True)
            audit_record(
                actor=actor,
                action="exchange_rate.create",
                target=rate_obj,
                changes={"currency": (None, currency), "rate": (None, rate)},
            )
            return rate_obj
        if existing.rate == rate:
            return existing
        old = existing.rate
        existing.rate = rate
        _full_clean(existing)
        existing.save(update_fields=["rate", "updated_at"])
        audit_record(
            actor=actor,
            action="exchange_rate.update",
            target=existing,
            changes={"rate": (old, rate)},
        )
    return existing


def exchange_rate_delete(*, exchange_rate: ExchangeRate, actor: Actor) -> None:
    """Remove a rate (orders in that currency are refused again from now on); audited."""
    with transaction.atomic():
        current = ExchangeRate.objects.select_for_update().filter(pk=exchange_rate.pk).first()
        if current is None:
            return
        audit_record(
            actor=actor,
            action="exchange_rate.delete",
            target=current,
            changes={"currency": (current.currency, None), "rate": (current.rate, None)},
        )
        current.delete()
