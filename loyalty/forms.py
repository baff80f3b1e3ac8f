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
            "tier_hold_days",
            "service_adjustment_limit",
            "service_daily_limit",
            "locale",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form sent without it (a script, an older page) keeps the language as it is.
        self.fields["locale"].required = False

    def clean_locale(self) -> str:
        return self.cleaned_data.get("locale") or self.instance.locale

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError(gettext("A three-letter ISO 4217 code."), code="invalid")
        return currency
