"""Campaigns in the admin, for Marketing: edit (through `campaign_save`, audited), preview who a
campaign targets and what a multiplier would have cost over the last 30 days of orders, and read
its results. Awards and referrals are read-only: they come from orders, activities and the jobs.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.models import Campaign, CampaignAward, Referral
from campaigns.services.manage import (
    EDITABLE_FIELDS,
    campaign_preview,
    campaign_results,
    campaign_save,
    campaign_validate,
)
from config.admin_tools import DeclaredFiltersOnly
from config.errors import ServiceError
from members.actors import Actor


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ("code", *EDITABLE_FIELDS)

    def _post_clean(self):
        super()._post_clean()
        try:
            campaign_validate(self.instance)
        except ServiceError as exc:
            field = exc.errors[0]["field"] if exc.errors else None
            self.add_error(field if field in self.fields else None, exc.message)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
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
    readonly_fields = ("points_awarded",)
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "kind", "is_active")}),
        ("When and for whom", {"fields": ("starts_at", "ends_at", "tiers")}),
        ("Limits", {"fields": ("budget_points", "points_awarded", "per_member_limit")}),
        ("Multiplier", {"fields": ("multiplier", "weekdays", "day_of_month", "categories")}),
        ("Action bonus", {"fields": ("action", "action_code", "points")}),
        (
            "Referral",
            {
                "fields": (
                    "referee_points",
                    "referee_trigger",
                    "referrer_points",
                    "monthly_referral_limit",
                )
            },
        ),
    )
    actions = None

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def links(self, obj):
        return format_html(
            '<a href="{}">preview</a> · <a href="{}">results</a>',
            reverse("admin:campaigns_campaign_preview", args=[obj.pk]),
            reverse("admin:campaigns_campaign_results", args=[obj.pk]),
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
        campaign_save(
            campaign=form.instance,
            actor=Actor.staff(request.user),
            tiers=form.cleaned_data.get("tiers"),
        )

    def _campaign(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Campaign.objects.prefetch_related("tiers"), pk=pk)

    def preview_view(self, request, pk):
        campaign = self._campaign(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "preview": campaign_preview(campaign=campaign),
            "title": f"Preview: {campaign.name}",
        }
        return TemplateResponse(request, "admin/campaigns/preview.html", context)

    def results_view(self, request, pk):
        campaign = self._campaign(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "results": campaign_results(campaign=campaign),
            "title": f"Results: {campaign.name}",
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


@admin.register(Referral)
class ReferralAdmin(_ReadOnly):
    list_display = ("created_at", "referrer", "referee", "status", "reason", "decided_at")
    list_filter = ("status",)
    search_fields = ("referrer__external_id", "referee__external_id")
    list_select_related = ("referrer", "referee")
    raw_id_fields = ("referrer", "referee", "first_order")
    show_full_result_count = False
