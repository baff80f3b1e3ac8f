"""Admin of the program's rules: the settings record and exchange rates (Marketing).

The settings are one record: the list goes straight to it, nobody adds a second one or deletes it.
Saving calls `loyalty.services.program.program_settings_update`, which audits every changed field
as `[old, new]` with who did it; the page shows the latest of those changes. Exchange rates are
created, changed and deleted through `exchange_rate_set` / `exchange_rate_delete`, audited the
same way. The admin never writes these rows itself.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from config.admin_tools import denied, service_error_message
from config.errors import ServiceError
from loyalty.forms import ProgramSettingsForm
from loyalty.models import ExchangeRate, ProgramSettings
from loyalty.selectors.program import program_settings
from loyalty.services.program import (
    PROGRAM_SETTINGS_FIELDS,
    exchange_rate_delete,
    exchange_rate_set,
    program_settings_update,
)
from members.actors import Actor
from members.models import AuditEntry

RECENT_CHANGES = 10


class _ServiceErrorsAsMessages:
    """Form validation catches the usual errors; a service error left is shown, never a 500."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:
            self.message_user(request, service_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(ProgramSettings)
class ProgramSettingsAdmin(_ServiceErrorsAsMessages, admin.ModelAdmin):
    form = ProgramSettingsForm
    change_form_template = "admin/loyalty/programsettings/change_form.html"
    list_display = ("__str__", "currency", "earn_rate", "point_value", "updated_at")
    list_filter = ()
    search_fields = ()
    list_select_related = False
    readonly_fields = ("updated_at",)
    fieldsets = (
        (_("Money and points"), {"fields": ("currency", "earn_rate", "point_value")}),
        (
            _("Earning and expiry"),
            {"fields": ("pending_days", "points_lifetime_days", "allow_negative_balance")},
        ),
        (
            _("Tiers"),
            {
                "fields": (
                    "qualification",
                    "tier_metric",
                    "growth_sources",
                    "confirm_reevaluation",
                    "tier_hold_days",
                )
            },
        ),
        (
            _("Customer-service adjustment limits"),
            {"fields": ("service_adjustment_limit", "service_daily_limit")},
        ),
        (_("Members"), {"fields": ("locale",)}),
        (_("Reports"), {"fields": ("launched_at",)}),
        (None, {"fields": ("reason", "updated_at")}),
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        # One record: the list is the record.
        if not self.has_view_or_change_permission(request):
            raise denied("loyalty.view_programsettings")
        settings_obj = program_settings()
        return HttpResponseRedirect(
            reverse("admin:loyalty_programsettings_change", args=[settings_obj.pk])
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        entries = AuditEntry.objects.filter(
            target_type=ProgramSettings._meta.label_lower, target_id=str(object_id)
        ).order_by("-created_at", "-id")[:RECENT_CHANGES]
        extra_context = {**(extra_context or {}), "recent_changes": list(entries)}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in PROGRAM_SETTINGS_FIELDS
        }
        program_settings_update(
            actor=Actor.staff(request.user),
            reason=form.cleaned_data.get("reason", ""),
            confirm_reevaluation=form.cleaned_data.get("confirm_reevaluation", False),
            **changes,
        )
        obj.refresh_from_db()

    def construct_change_message(self, request, form, formsets, add=False):
        # The audit log has the values; the admin's log just names the fields.
        return [{"changed": {"fields": [f for f in form.changed_data if f != "reason"]}}]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(_ServiceErrorsAsMessages, admin.ModelAdmin):
    list_display = ("currency", "rate", "updated_at")
    list_filter = ("updated_at",)
    search_fields = ("currency",)
    list_select_related = False
    fields = ("currency", "rate", "updated_at")
    readonly_fields = ("updated_at",)

    def get_readonly_fields(self, request, obj=None):
        # A rate belongs to its currency; another currency is another rate.
        return ("currency", "updated_at") if obj is not None else ("updated_at",)

    def save_model(self, request, obj, form, change):
        saved = exchange_rate_set(
            currency=obj.currency, rate=obj.rate, actor=Actor.staff(request.user)
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def delete_model(self, request, obj):
        exchange_rate_delete(exchange_rate=obj, actor=Actor.staff(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.staff(request.user)
        for rate in queryset:
            exchange_rate_delete(exchange_rate=rate, actor=actor)
