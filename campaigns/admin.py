"""Campaigns in the admin, for Marketing: edit (through `campaign_save`, audited), preview who a
campaign targets and what a multiplier would have cost over the last 30 days of orders, and read
its results. Awards and referrals are read-only: they come from orders, activities and the jobs.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.admin_pages import budget_outlook, days_after_param, window_cost
from campaigns.models import WEEKDAYS, Campaign, CampaignAward, CampaignHoldout, Referral
from campaigns.results import campaign_lift_report
from campaigns.selectors import (
    StackingCampaign,
    multipliers_stacking,
)
from campaigns.services.manage import (
    EDITABLE_FIELDS,
    campaign_preview,
    campaign_results,
    campaign_save,
    campaign_validate,
)
from config.admin_tools import DeclaredFiltersOnly
from config.errors import ServiceError
from loyalty.selectors.program import program_settings
from members.actors import Actor


class CategoriesField(forms.CharField):
    """Categories as tags: typed separated by commas ("Gifts, Home"), kept as a list of strings.

    The page shows them as chips (static/backoffice/tag_input.js), which post the same text;
    the checks here hold either way. A category is matched against an order item's `category`,
    which the API caps at `MAX_LENGTH` characters: a longer one could never match.
    """

    MAX_LENGTH = 64
    MAX_TAGS = 50

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {
                "class": "vTextField tag-input",
                "autocomplete": "off",
                # The chips' words, in the page's language (the script has no catalog).
                "data-placeholder": _("Type a category, then Enter"),
                "data-remove-label": _("Remove %s"),
            }
        )

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        tags = [part.strip() for part in (value or "").split(",")]
        return list(dict.fromkeys(tag for tag in tags if tag))  # in order, once each

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        too_long = [tag for tag in value if len(tag) > self.MAX_LENGTH]
        if too_long:
            raise forms.ValidationError(
                _(
                    "Categories: “%(category)s” has %(length)s characters; an order item's "
                    "category has at most %(max)s, so it could never match."
                ),
                code="category_too_long",
                params={
                    "category": too_long[0],
                    "length": len(too_long[0]),
                    "max": self.MAX_LENGTH,
                },
            )
        if len(value) > self.MAX_TAGS:
            raise forms.ValidationError(
                _("Categories: %(count)s given; a campaign names at most %(max)s."),
                code="too_many_categories",
                params={"count": len(value), "max": self.MAX_TAGS},
            )

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


class CampaignForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "weekday-choices"}),
        label=_("Weekdays"),
        help_text=_("The days of the week the multiplier applies; none ticked: every day."),
    )
    categories = CategoriesField(
        required=False,
        label=_("Categories"),
        help_text=_(
            "Only order items of these categories earn the bonus: type one, then Enter (or "
            "separate them with commas). Empty: the whole order."
        ),
    )

    holdout_percent = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=50,
        initial=0,
        label=_("Holdout percent"),
        help_text=Campaign._meta.get_field("holdout_percent").help_text,
    )

    # Which fields each kind uses (static/backoffice/kind_fields.js hides the others).
    KIND_FIELDS = {
        Campaign.Kind.MULTIPLIER: ["multiplier", "weekdays", "day_of_month", "categories"],
        Campaign.Kind.ACTION: ["action", "action_code", "points", "gift_reward"],
        Campaign.Kind.REFERRAL: [
            "referee_points",
            "referee_trigger",
            "referrer_points",
            "monthly_referral_limit",
            "gift_reward",
        ],
    }

    class Meta:
        model = Campaign
        fields = ("code", *EDITABLE_FIELDS)

    class Media:
        js = ("backoffice/kind_fields.js", "backoffice/tag_input.js")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            self.fields["kind"].widget.attrs["data-kind-fields"] = json.dumps(self.KIND_FIELDS)

    def clean_holdout_percent(self) -> int:
        # Empty (or a form from before the field existed): no holdout.
        return self.cleaned_data["holdout_percent"] or 0

    def clean_weekdays(self) -> list[int]:
        return sorted(set(self.cleaned_data["weekdays"]))

    def _post_clean(self):
        super()._post_clean()
        try:
            campaign_validate(self.instance)
        except ServiceError as exc:
            field = exc.errors[0]["field"] if exc.errors else None
            self.add_error(field if field in self.fields else None, exc.message)


def stacking_sentence(campaign: Campaign, others: list[StackingCampaign]) -> str:
    """The warning staff read when other multipliers add their bonus to the same orders."""
    if not others:
        return ""
    combined = 1 + (campaign.multiplier - 1) + sum(o.campaign.multiplier - 1 for o in others)
    names = "; ".join(
        _("“%(name)s” (×%(multiplier)s, %(days)s)")
        % {"name": o.campaign.name, "multiplier": o.campaign.multiplier, "days": o.days}
        for o in others
    )
    return _(
        "Campaigns stack: %(names)s can apply to the same orders as this one. Their bonuses add "
        "up, so such an order earns ×%(combined)s its base points, not ×%(multiplier)s."
    ) % {"names": names, "combined": combined, "multiplier": campaign.multiplier}


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    change_form_template = "admin/campaigns/campaign/change_form.html"
    form = CampaignForm
    list_display = (
        "code",
        "name",
        "kind",
        "is_active",
        "starts_at",
        "ends_at",
        "budget_points",
        "points_awarded",
        "links",
    )
    list_filter = ("kind", "is_active", "action")
    search_fields = ("code", "name")
    list_select_related = ()
    filter_horizontal = ("tiers",)
    autocomplete_fields = ("gift_reward",)
    readonly_fields = ("points_awarded",)
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "kind", "is_active")}),
        (_("When and for whom"), {"fields": ("starts_at", "ends_at", "tiers", "segment")}),
        (_("Limits"), {"fields": ("budget_points", "points_awarded", "per_member_limit")}),
        (_("Measured lift"), {"fields": ("holdout_percent",)}),
        (_("Multiplier"), {"fields": ("multiplier", "weekdays", "day_of_month", "categories")}),
        (_("Action bonus"), {"fields": ("action", "action_code", "points")}),
        (
            _("Referral"),
            {
                "fields": (
                    "referee_points",
                    "referee_trigger",
                    "referrer_points",
                    "monthly_referral_limit",
                )
            },
        ),
        (_("Gift coupon"), {"fields": ("gift_reward",)}),
    )
    actions = None

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("points awarded"))
    def points_awarded(self, obj):
        # Σ the awards' points, annotated by `get_queryset` (no counter on the campaign row).
        return getattr(obj, "awards_points", None) or 0

    @admin.display(description="")
    def links(self, obj):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:campaigns_campaign_preview", args=[obj.pk]),
            gettext("preview"),
            reverse("admin:campaigns_campaign_results", args=[obj.pk]),
            gettext("results"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(self.preview_view), name="campaigns_campaign_preview"),
            path("<int:pk>/results/", view(self.results_view), name="campaigns_campaign_results"),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        """Nothing here: `save_related` saves the campaign and its tiers in one service call."""

    def save_related(self, request, form, formsets, change):
        campaign = campaign_save(
            campaign=form.instance,
            actor=Actor.staff(request.user),
            tiers=form.cleaned_data.get("tiers"),
        )
        # "Save and continue" shows the change page, which carries the warning itself.
        if campaign.is_active and "_continue" not in request.POST:
            warning = stacking_sentence(campaign, multipliers_stacking(campaign))
            if warning:
                self.message_user(request, warning, messages.WARNING)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if campaign is not None and campaign.is_active:
            extra_context["stacking"] = stacking_sentence(campaign, multipliers_stacking(campaign))
        return super().change_view(request, object_id, form_url, extra_context)

    def _campaign(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Campaign.objects.prefetch_related("tiers"), pk=pk)

    def preview_view(self, request, pk):
        campaign = self._campaign(request, pk)
        preview = campaign_preview(campaign=campaign)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "preview": preview,
            "budget": budget_outlook(campaign, preview.cost_points_last_30_days),
            "window": window_cost(
                campaign,
                preview.cost_points_last_30_days,
                point_value=program_settings().point_value,
            ),
            "stacking": stacking_sentence(campaign, multipliers_stacking(campaign)),
            "title": gettext("Preview: %(name)s") % {"name": campaign.name},
        }
        return TemplateResponse(request, "admin/campaigns/preview.html", context)

    def results_view(self, request, pk):
        campaign = self._campaign(request, pk)
        results = campaign_results(campaign=campaign)
        lift = campaign_lift_report(
            campaign=campaign,
            points_awarded=results.points_awarded,
            days_after=days_after_param(request),
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "results": results,
            "lift": lift,
            "lifts": [w for w in (lift.during, lift.after) if w is not None],
            "title": gettext("Results: %(name)s") % {"name": campaign.name},
        }
        return TemplateResponse(request, "admin/campaigns/results.html", context)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(awards_count=Count("awards"), awards_points=Sum("awards__points"))
        )


class _ReadOnly(DeclaredFiltersOnly, admin.ModelAdmin):
    actions = None
    # Only the declared filters, and the member's rows (a link from the member's page).
    extra_lookups = ("member__id__exact", "referrer__id__exact", "referee__id__exact")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CampaignAward)
class CampaignAwardAdmin(_ReadOnly):
    list_display = ("created_at", "campaign", "member", "points", "reference", "order")
    list_filter = ("campaign",)
    search_fields = ("member__external_id", "reference", "campaign__code")
    list_select_related = ("campaign", "member", "order")
    raw_id_fields = ("member", "posting", "order")
    show_full_result_count = False


@admin.register(CampaignHoldout)
class CampaignHoldoutAdmin(_ReadOnly):
    """The award log's other half: members a campaign held out, from their first eligible order
    or action (`campaigns.holdout`)."""

    list_display = ("created_at", "campaign", "member", "points_withheld", "reference")
    list_filter = ("campaign",)
    search_fields = ("member__external_id", "reference", "campaign__code")
    list_select_related = ("campaign", "member")
    raw_id_fields = ("member",)
    show_full_result_count = False


@admin.register(Referral)
class ReferralAdmin(_ReadOnly):
    list_display = ("created_at", "referrer", "referee", "status", "reason", "decided_at")
    list_filter = ("status",)
    search_fields = ("referrer__external_id", "referee__external_id")
    list_select_related = ("referrer", "referee")
    raw_id_fields = ("referrer", "referee", "first_order")
    show_full_result_count = False
