"""Staff forms of the loyalty admin: they check shape; the services enforce the rules.

`AdjustPointsForm` carries a one-time `token` (a fresh UUID each time the form is shown) that
becomes the adjustment's idempotency key, so submitting the same form twice (a double click, a
browser resubmit) adjusts once.
"""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.models import ProgramSettings

# Far beyond any real adjustment, well inside a 32-bit integer column.
MAX_ADJUSTMENT = 10_000_000

_REASON_WIDGET = forms.Textarea(attrs={"rows": 3, "cols": 60})


class AdjustPointsForm(forms.Form):
    points = forms.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text=_("Positive to credit the member, negative to debit them."),
        label=_("Points"),
    )
    reason = forms.CharField(
        max_length=500,
        widget=_REASON_WIDGET,
        help_text=_("Why (kept on the posting and shown in the member's history)."),
        label=_("Reason"),
    )
    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4())
        super().__init__(*args, **kwargs)

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(
                gettext("Enter a number of points other than zero."), code="zero"
            )
        return points

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError(gettext("A reason is required."), code="required")
        return reason

    @property
    def idempotency_key(self) -> str:
        return f"adjust:{self.cleaned_data['token']}"


class ReversePostingForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=_REASON_WIDGET,
        help_text=_("Why the posting is reversed."),
        label=_("Reason"),
    )


class ApproveRequestForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=_REASON_WIDGET,
        help_text=_("Optional."),
        label=_("Note"),
    )


class RejectRequestForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        widget=_REASON_WIDGET,
        help_text=_("Why the request is rejected (the requester sees it)."),
        label=_("Note"),
    )


class ProgramSettingsForm(forms.ModelForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=_REASON_WIDGET,
        help_text=_("Why the settings change (kept in the audit log)."),
        label=_("Reason"),
    )

    class Meta:
        model = ProgramSettings
        fields = (
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

    growth_sources = forms.MultipleChoiceField(
        choices=ProgramSettings.GrowthSource.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Growth value sources"),
        help_text=_("Growth value: the earning kinds whose points count."),
    )
    confirm_reevaluation = forms.BooleanField(
        required=False,
        label=_("Re-evaluate members on the new metric"),
        help_text=_(
            "Needed to change the tier metric while members hold a tier above the entry tier: "
            "the next daily evaluation moves members up at once on the new metric, and down "
            "only when their hold ends."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form sent without them (a script, an older page) keeps them as they are.
        self.fields["locale"].required = False
        self.fields["tier_metric"].required = False

    def clean_tier_metric(self) -> str:
        return self.cleaned_data.get("tier_metric") or self.instance.tier_metric

    def clean_growth_sources(self) -> list[str]:
        if self.data and "tier_metric" not in self.data:
            return list(self.instance.growth_sources)  # an older page: kept as it is
        return list(self.cleaned_data.get("growth_sources") or [])

    def clean(self):
        cleaned = super().clean()
        from loyalty.selectors.tier_metric import ladder_is_live

        metric = cleaned.get("tier_metric")
        changed = metric and metric != self.instance.tier_metric
        if changed and not cleaned.get("confirm_reevaluation") and ladder_is_live():
            self.add_error(
                "confirm_reevaluation",
                gettext(
                    "Members hold tiers earned on the current metric: confirm the re-evaluation "
                    "to change it."
                ),
            )
        if metric == ProgramSettings.TierMetric.GROWTH and not cleaned.get("growth_sources"):
            self.add_error(
                "growth_sources",
                gettext("Growth value counts points from at least one source: choose them."),
            )
        return cleaned

    def clean_locale(self) -> str:
        return self.cleaned_data.get("locale") or self.instance.locale

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError(gettext("A three-letter ISO 4217 code."), code="invalid")
        return currency
