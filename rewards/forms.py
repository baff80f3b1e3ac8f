"""Staff forms of the rewards admin: they check shape; the services enforce the rules."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rewards.models import Reward

# Far beyond any real stock, well inside a 32-bit integer column.
MAX_STOCK = 10_000_000

_REASON_WIDGET = forms.Textarea(attrs={"rows": 3, "cols": 60})


def _clean_reason(value: str) -> str:
    reason = " ".join(value.split())
    if not reason:
        raise forms.ValidationError(gettext("A reason is required."), code="required")
    return reason


class RewardForm(forms.ModelForm):
    """The catalogue entry. `stock` is editable when adding only; later through "Stock…"."""

    class Meta:
        model = Reward
        fields = (
            "code",
            "name",
            "description",
            "kind",
            "sku",
            "points_cost",
            "value",
            "stock",
            "per_member_limit",
            "min_tier",
            "segment",
            "category",
            "active_from",
            "active_to",
            "coupon_valid_days",
            "min_points",
            "min_share",
            "max_share",
            "is_active",
        )
        # The model's help texts name the kinds by code; staff see the labels.
        help_texts = {
            "sku": _("The product a “Free product” reward gives."),
            "points_cost": _(
                "Points one redemption costs (“Points as discount”: the member chooses; 0 here)."
            ),
            "value": _(
                "“Fixed amount off”: the money off; “Percentage off”: the percent off; “Free "
                "product”: the product's worth (optional); empty for “Free shipping” and "
                "“Points as discount”."
            ),
            "min_points": _("The fewest points a member may use at once."),
            "min_share": _("The smallest discount, as a share of the order (0.10 = 10%)."),
            "max_share": _("The largest discount, as a share of the order (0.50 = 50%)."),
        }

    # Which fields each kind uses (static/backoffice/kind_fields.js hides the others).
    KIND_FIELDS = {
        Reward.Kind.FIXED_DISCOUNT: ["points_cost", "value"],
        Reward.Kind.PERCENT_DISCOUNT: ["points_cost", "value"],
        Reward.Kind.FREE_SHIPPING: ["points_cost"],
        Reward.Kind.FREE_PRODUCT: ["points_cost", "value", "sku"],
        Reward.Kind.POINTS_DISCOUNT: ["min_points", "min_share", "max_share"],
    }

    class Media:
        js = ("backoffice/kind_fields.js",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            self.fields["kind"].widget.attrs["data-kind-fields"] = json.dumps(self.KIND_FIELDS)


class StockForm(forms.Form):
    """Change a reward's stock: add or remove some, set a number, or make it unlimited."""

    ADJUST, SET, UNLIMITED = "adjust", "set", "unlimited"

    action = forms.ChoiceField(
        choices=[
            (ADJUST, _("Add or remove (a change, e.g. 50 or -3)")),
            (SET, _("Set to a number")),
            (UNLIMITED, _("Make unlimited")),
        ],
        widget=forms.RadioSelect,
        initial=ADJUST,
        label=_("Action"),
    )
    amount = forms.IntegerField(
        required=False,
        min_value=-MAX_STOCK,
        max_value=MAX_STOCK,
        help_text=_("The change (add or remove) or the new stock (set)."),
        label=_("Amount"),
    )
    reason = forms.CharField(
        max_length=500,
        widget=_REASON_WIDGET,
        help_text=_("Why (kept with the stock movement)."),
        label=_("Reason"),
    )

    def clean_reason(self) -> str:
        return _clean_reason(self.cleaned_data["reason"])

    def clean(self):
        cleaned = super().clean()
        action, amount = cleaned.get("action"), cleaned.get("amount")
        if action == self.ADJUST and not amount:
            self.add_error("amount", gettext("Enter a change other than zero."))
        if action == self.SET and (amount is None or amount < 0):
            self.add_error("amount", gettext("Enter the new stock: a whole number, 0 or more."))
        return cleaned


class CancelRedemptionForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=_REASON_WIDGET,
        help_text=_("Why (kept with the redemption and the posting that gives the points back)."),
        label=_("Reason"),
    )

    def clean_reason(self) -> str:
        return _clean_reason(self.cleaned_data["reason"])
