"""Admin of member messages: the template editor (rendered preview for a chosen member, "send
me a test"), the kinds' switches and timing, and read-only lists of the message log, opt-outs
and suppressed addresses. The member's page shows their messages (`messaging.admin_member`).

Thin callers: templates and kind settings are written by `messaging.templates_admin`, the test
email by a job. Who may do what: `messaging.roles`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

import jobs
from config.admin_tools import EstimatedCountPaginator
from members.actors import Actor
from members.models import Member
from messaging import admin_member  # noqa: F401  (adds the messages panel to the member page)
from messaging.kinds import KINDS, kind_choices
from messaging.models import KindSetting, MessageLog, MessageTemplate, OptOut, Suppression
from messaging.preview import template_preview
from messaging.tasks import template_test_send
from messaging.templates_admin import kind_setting_update, template_save, template_validate


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ("kind", "locale", "subject", "body_text", "body_html", "active")
        widgets = {
            "subject": forms.TextInput(attrs={"size": 90}),
            "body_text": forms.Textarea(attrs={"rows": 12, "cols": 90}),
            "body_html": forms.Textarea(attrs={"rows": 12, "cols": 90}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            self.fields["kind"] = forms.ChoiceField(choices=kind_choices(), label=_("kind"))

    def clean(self):
        data = super().clean()
        kind = data.get("kind") or (self.instance.kind if self.instance.pk else None)
        if kind and all(data.get(k) is not None for k in ("subject", "body_text")):
            try:
                template_validate(
                    kind=kind,
                    subject=data["subject"],
                    body_text=data["body_text"],
                    body_html=data.get("body_html") or "",
                )
            except ValidationError as exc:
                self._update_errors(exc)
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ("kind", "locale", "subject", "version", "active", "updated_at")
    list_filter = ("kind", "locale", "active")
    search_fields = ("subject",)
    list_select_related = ()
    readonly_fields = ("version", "updated_at", "variables")
    change_form_template = "admin/messaging/messagetemplate/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        # The kind and language are the template's identity: fixed once it exists.
        fixed = ("kind", "locale") if obj is not None else ()
        return (*fixed, *self.readonly_fields)

    @admin.display(description=_("variables"))
    def variables(self, obj) -> str:
        kind = KINDS.get(obj.kind) if obj else None
        if kind is None:
            return "-"
        return "; ".join(f"{name}: {text}" for name, text in kind.all_variables().items())

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # switched off (inactive), never deleted: the log names its versions

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        template = template_save(
            actor=Actor.staff(request.user),
            kind=obj.kind,
            locale=obj.locale,
            subject=data["subject"],
            body_text=data["body_text"],
            body_html=data.get("body_html") or "",
            active=data["active"],
        )
        obj.pk = template.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        template = self.get_object(request, unquote(object_id))
        wanted = request.GET.get("preview_member", "").strip()
        if template is not None and wanted:
            member = Member.objects.filter(external_id=wanted).first()
            if member is None or member.is_erased:
                extra_context["preview_error"] = gettext("No member with this external id.")
            else:
                extra_context["preview"] = template_preview(template=template, member=member)
        extra_context["preview_member"] = wanted
        if template is not None:
            extra_context["test_url"] = reverse(
                "admin:messaging_messagetemplate_test", args=[template.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="messaging_messagetemplate_test",
            ),
            *super().get_urls(),
        ]

    def send_test_view(self, request, object_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        template = self.get_object(request, unquote(object_id))
        if template is None:
            return HttpResponseRedirect(reverse("admin:messaging_messagetemplate_changelist"))
        back = reverse("admin:messaging_messagetemplate_change", args=[template.pk])
        wanted = request.POST.get("preview_member", "").strip()
        member = Member.objects.filter(external_id=wanted).first() if wanted else None
        if member is None or member.is_erased or not request.user.email:
            self.message_user(
                request,
                gettext("Choose a member to preview, and give your staff account an email."),
                messages.ERROR,
            )
            return HttpResponseRedirect(back)
        with transaction.atomic():
            jobs.defer(
                template_test_send,
                template_id=template.pk,
                member_id=member.pk,
                address=request.user.email,
            )
        self.message_user(
            request,
            gettext("A test message is on its way to %(address)s.")
            % {"address": request.user.email},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(f"{back}?preview_member={member.external_id}")


class KindSettingForm(forms.ModelForm):
    class Meta:
        model = KindSetting
        fields = ("enabled", "days", "audience")


@admin.register(KindSetting)
class KindSettingAdmin(admin.ModelAdmin):
    form = KindSettingForm
    list_display = ("kind", "label", "promotional", "enabled", "days", "audience")
    list_filter = ("enabled",)
    search_fields = ("kind",)
    list_select_related = ("audience",)
    readonly_fields = ("kind", "label", "promotional")

    @admin.display(description=_("name"))
    def label(self, obj) -> str:
        kind = KINDS.get(obj.kind)
        return str(kind.label) if kind else obj.kind

    @admin.display(description=_("promotional"), boolean=True)
    def promotional(self, obj) -> bool:
        kind = KINDS.get(obj.kind)
        return bool(kind and kind.promotional)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        kind_setting_update(
            actor=Actor.staff(request.user),
            setting=KindSetting.objects.get(pk=obj.pk),
            enabled=form.cleaned_data["enabled"],
            audience=form.cleaned_data["audience"],
            days=form.cleaned_data["days"],
        )
        obj.refresh_from_db()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MessageLog)
class MessageLogAdmin(ReadOnlyAdmin):
    list_display = (
        "requested_at",
        "member",
        "kind",
        "subject_key",
        "locale",
        "status",
        "sent_at",
        "subject",
        "provider_id",
    )
    list_filter = ("status", "kind", "locale", "promotional")
    # Exact, indexed lookups only: the log grows by millions of rows.
    search_fields = ("=member__external_id", "=provider_id")
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    exclude = ("batch",)


@admin.register(OptOut)
class OptOutAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member", "kind")
    list_filter = ("kind",)
    search_fields = ("=member__external_id",)
    list_select_related = ("member",)
    raw_id_fields = ("member",)


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "address", "reason", "provider_event_id")
    list_filter = ("reason",)
    search_fields = ("=address",)
    list_select_related = ()
