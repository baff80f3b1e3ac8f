"""Admin for members and the audit log.

Every write goes through `members.services`: adding a member enrols them (`member_enrol`), saving
the form updates contact details (`member_update`, audited with an optional reason), and the
custom views suspend or reactivate (`member_set_status`) and erase (`member_erase`). Members are
never deleted. The audit log is read-only.

The member list is built for a million rows: search uses indexed lookups only
(`members.selectors.member_search`), the unfiltered list shows the planner's row estimate
instead of counting (`EstimatedCountPaginator`), and sorting is limited to indexed columns.

Extension point: apps above `members` (loyalty: balance, postings, orders, the adjust form) add
to the member's page by subclassing `MemberAdmin` and registering the subclass in its place:

    admin.site.unregister(Member)

    @admin.register(Member)
    class LoyaltyMemberAdmin(MemberAdmin):
        def get_member_panels(self, request, member):
            return [*super().get_member_panels(request, member), MemberPanel(...)]

        def get_member_tools(self, request, member):
            return [*super().get_member_tools(request, member), MemberTool(...)]

        def get_urls(self):
            return [path(...), *super().get_urls()]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import (
    DeclaredFiltersOnly,
    EstimatedCountPaginator,
    column,
    denied,
    service_error_message,
)
from config.errors import ServiceError
from members import (
    admin_lockout,  # noqa: F401  (registers the login lockout's pages)
    services,
)
from members.access import member_data_export
from members.actors import Actor
from members.countries import country_choices
from members.exports import ExportAdminMixin, MemberResource
from members.models import AuditEntry, Member
from members.selectors import member_search

AUDIT_TRAIL_ROWS = 20


@dataclass(frozen=True)
class MemberPanel:
    """A block on the member's page: a title and a template rendered with `panel.context`."""

    title: str
    template: str
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MemberTool:
    """A button in the member page's object tools."""

    label: str
    url: str
    danger: bool = False


def _clean_email(form: forms.ModelForm) -> str | None:
    email = (form.cleaned_data["email"] or "").strip().lower()
    if not email:
        return None  # only where the field is optional: a member who never had one
    others = Member.objects.alias(email_lower=Lower("email")).filter(email_lower=email)
    if form.instance.pk is not None:
        others = others.exclude(pk=form.instance.pk)
    if others.exists():
        raise forms.ValidationError(
            gettext("Another member already uses this email."), code="email_taken"
        )
    return email


class MemberAddForm(forms.ModelForm):
    referrer_code = forms.CharField(
        label=_("Referred by (referral code)"),
        required=False,
        max_length=16,
        help_text=_("The referral code of the member who referred this one, if any."),
    )

    class Meta:
        model = Member
        fields = (
            "external_id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "birth_date",
            "marketing_consent",
            "country",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        _country_select(self)

    def clean_email(self) -> str | None:
        return _clean_email(self)

    def clean_referrer_code(self) -> str:
        code = self.cleaned_data["referrer_code"].strip().upper()
        if (
            code
            and not Member.objects.filter(referral_code=code)
            .exclude(status=Member.Status.ERASED)
            .exists()
        ):
            raise forms.ValidationError(
                gettext("No member has this referral code."), code="invalid"
            )
        return code


def _country_select(form: forms.ModelForm) -> None:
    """The country as a list of names in the staff member's language (the code is stored)."""
    if "country" in form.fields:
        field = form.fields["country"]
        field.widget = forms.Select(choices=[("", "—"), *country_choices()])


class MemberChangeForm(forms.ModelForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text=_("Why the contact details change (kept in the member's audit trail)."),
        label=_("Reason"),
    )

    class Meta:
        model = Member
        fields = services.PROFILE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _country_select(self)
        # A customer an order import brought has no email: their name or phone can still be
        # corrected without inventing one. An email once given cannot be blanked (erasure does).
        if "email" in self.fields and self.instance.email:
            self.fields["email"].required = True

    def clean_email(self) -> str | None:
        return _clean_email(self)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=500, label=_("Reason")
    )


class MemberEraseForm(ReasonForm):
    confirm = forms.BooleanField(
        label=_("I understand that the personal data is blanked and cannot be restored."),
    )


@admin.register(Member)
class MemberAdmin(DeclaredFiltersOnly, ExportAdminMixin, admin.ModelAdmin):
    # Export (CSV, XLSX; formulas escaped) for holders of `members.export_member` (Operator).
    resource_classes = [MemberResource]
    list_display = ("external_id", "name", "email", "status", "enrolled_at")
    list_display_links = ("external_id",)
    list_filter = ("status", "enrolled_at")
    # The search itself is `get_search_results`; this enables the box and autocomplete.
    search_fields = ("external_id",)
    search_help_text = _(
        "External id, email, phone, referral code, or name: a surname (or its start), "
        "“Lovelace, Ada” or “Ada Lovelace”."
    )
    list_select_related = False
    raw_id_fields = ("referred_by",)
    sortable_by = ("external_id", "enrolled_at")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    change_form_template = "admin/members/member/change_form.html"
    readonly_fields = (
        "external_id",
        "status",
        "referral_code",
        "referred_by",
        "enrolled_at",
        "erased_at",
        "created_at",
        "updated_at",
    )
    add_fieldsets = (
        (None, {"fields": ("external_id", "email", "referrer_code")}),
        (
            _("Contact details"),
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "phone",
                    "birth_date",
                    "marketing_consent",
                    "country",
                )
            },
        ),
    )

    # --- list ---------------------------------------------------------------------------

    @admin.display(description=_("name"))
    def name(self, member: Member) -> str:
        return f"{member.first_name} {member.last_name}".strip()

    def get_search_results(self, request, queryset, search_term):
        return member_search(term=search_term, queryset=queryset), False

    # --- permissions: members are never deleted; erased members are read-only -------------

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_erased:
            return False
        return super().has_change_permission(request, obj)

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("members.erase_member")

    # --- the form ----------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        contact = [*services.PROFILE_FIELDS]
        if self.has_change_permission(request, obj):
            contact.append("reason")
        return (
            (
                None,
                {"fields": ("external_id", "status", "referral_code", "referred_by")},
            ),
            (_("Contact details"), {"fields": contact}),
            (
                _("Record"),
                {
                    "fields": ("enrolled_at", "erased_at", "created_at", "updated_at"),
                    "classes": ("collapse",),
                },
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = MemberAddForm if obj is None else MemberChangeForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        """Enrol or update through the services; never `obj.save()`."""
        actor = Actor.staff(request.user)
        data = form.cleaned_data
        if change:
            current = Member.objects.get(pk=obj.pk)
            fields = {
                name: data[name] for name in form.changed_data if name in services.PROFILE_FIELDS
            }
            member = services.member_update(
                member=current, actor=actor, reason=data.get("reason", ""), **fields
            )
        else:
            member = services.member_enrol(
                actor=actor,
                external_id=data["external_id"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                phone=data["phone"],
                birth_date=data["birth_date"],
                marketing_consent=data["marketing_consent"],
                country=data["country"],
                referral_code=data["referrer_code"] or None,
            )
        # The admin goes on with `obj` (redirect, admin log): make it the stored row.
        obj.pk = member.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Form validation catches the usual errors; a service error here is a race (another
        # request took the email meanwhile). The admin's transaction has rolled back.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:
            self.message_user(request, service_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # --- the member's page: tools and panels (extension points) -------------------------

    def get_member_tools(self, request, member: Member) -> list[MemberTool]:
        tools = []
        info = self.opts.app_label, self.opts.model_name
        if not member.is_erased and self.has_change_permission(request, member):
            label = _("Suspend") if member.status == Member.Status.ACTIVE else _("Reactivate")
            url = reverse("admin:{}_{}_status".format(*info), args=[member.pk])
            tools.append(MemberTool(label=label, url=url))
        if not member.is_erased and self.has_erase_permission(request):
            # Data-protection requests (access, erasure) are the supervisors'.
            url = reverse("admin:{}_{}_data_export".format(*info), args=[member.pk])
            tools.append(MemberTool(label=_("Export data (JSON)"), url=url))
            url = reverse("admin:{}_{}_erase".format(*info), args=[member.pk])
            tools.append(MemberTool(label=_("Erase personal data"), url=url, danger=True))
        return tools

    def get_member_panels(self, request, member: Member) -> list[MemberPanel]:
        entries = list(
            AuditEntry.objects.filter(member=member).order_by("-created_at", "-id")[
                : AUDIT_TRAIL_ROWS + 1
            ]
        )
        log_url = None
        if request.user.has_perm("members.view_auditentry"):
            log_url = reverse("admin:members_auditentry_changelist") + f"?member={member.pk}"
        return [
            MemberPanel(
                title=_("Audit trail"),
                template="admin/members/member/panels/audit_trail.html",
                context={
                    "entries": entries[:AUDIT_TRAIL_ROWS],
                    "has_more": len(entries) > AUDIT_TRAIL_ROWS,
                    "log_url": log_url,
                },
            )
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["member_tools"] = self.get_member_tools(request, obj)
            context["member_panels"] = self.get_member_panels(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- custom views: suspend / reactivate, erase ----------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="{}_{}_status".format(*info),
            ),
            path(
                "<path:object_id>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name="{}_{}_erase".format(*info),
            ),
            path(
                "<path:object_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_data_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def _member_or_redirect(self, request, object_id):
        member = self.get_object(request, unquote(object_id))
        if member is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if member.is_erased:
            self.message_user(
                request, gettext("This member's data has been erased."), messages.WARNING
            )
            return None, HttpResponseRedirect(self._change_url(member))
        return member, None

    def _change_url(self, member: Member) -> str:
        return reverse("admin:members_member_change", args=[member.pk])

    def status_view(self, request, object_id):
        member, redirect = self._member_or_redirect(request, object_id)
        if redirect:
            return redirect
        if not self.has_change_permission(request, member):
            raise denied("members.change_member")
        suspending = member.status == Member.Status.ACTIVE
        new_status = Member.Status.SUSPENDED if suspending else Member.Status.ACTIVE
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.member_set_status(
                    member=member,
                    status=new_status,
                    actor=Actor.staff(request.user),
                    reason=form.cleaned_data["reason"],
                )
            except ServiceError as exc:
                self.message_user(request, service_error_message(exc), messages.ERROR)
            else:
                self.log_change(request, member, f"Status set to {new_status}.")
                done = (
                    gettext("Member %(member)s suspended.")
                    if suspending
                    else gettext("Member %(member)s reactivated.")
                )
                self.message_user(request, done % {"member": member.external_id})
            return HttpResponseRedirect(self._change_url(member))
        title = (
            gettext("Suspend member %(member)s")
            if suspending
            else gettext("Reactivate member %(member)s")
        ) % {"member": member.external_id}
        intro = (
            gettext(
                "A suspended member keeps their points and history but cannot earn or spend until "
                "reactivated."
            )
            if suspending
            else gettext("The member can earn and spend again.")
        )
        return self._action_page(request, member, form, title, intro, danger=suspending)

    def erase_view(self, request, object_id):
        member, redirect = self._member_or_redirect(request, object_id)
        if redirect:
            return redirect
        if not self.has_erase_permission(request):
            raise denied("members.erase_member")
        form = MemberEraseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            # The service forgets the member everywhere, the admin log included; the entry
            # below names the erased member only.
            member = services.member_erase(
                member=member,
                actor=Actor.staff(request.user),
                reason=form.cleaned_data["reason"],
            )
            self.log_change(request, member, "Personal data erased.")
            self.message_user(
                request,
                gettext("Member %(member)s: personal data erased.")
                % {"member": member.external_id},
            )
            return HttpResponseRedirect(self._change_url(member))
        intro = gettext(
            "Erasure blanks the member's email, names, phone, birth date and consent, and marks "
            "them erased. Their points history and orders stay (without personal data). This "
            "cannot be undone."
        )
        title = gettext("Erase member %(member)s") % {"member": member.external_id}
        return self._action_page(request, member, form, title, intro, danger=True)

    def export_view(self, request, object_id):
        """The subject-access export as a JSON download: the API's document (`members.access`)."""
        member, redirect = self._member_or_redirect(request, object_id)
        if redirect:
            return redirect
        if not self.has_erase_permission(request):
            raise denied("members.erase_member")
        response = JsonResponse(member_data_export(member=member), json_dumps_params={"indent": 2})
        filename = f"member-{member.pk}-export.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _action_page(self, request, member, form, title, intro, *, danger):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "form": form,
            "member": member,
            "opts": self.opts,
            "original": member,
            "danger": danger,
            "change_url": self._change_url(member),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/members/member/action_form.html", context)


@admin.register(AuditEntry)
class AuditEntryAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    """The audit log: who changed what, when and why. Read-only for everyone."""

    list_display = (
        column("created_at", _("when")),
        column("actor_label", _("by"), sortable=False),
        "action",
        "target",
        "member_link",
        "reason",
    )
    list_filter = ("action", "actor_kind", "created_at")
    search_fields = ("target_id",)
    search_help_text = _("A target id (“42” or “members.member:42”) or a member's external id.")
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    sortable_by = ("created_at",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "created_at",
        "actor_kind",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "member",
        "reason",
        "changes_display",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("target"))
    def target(self, entry: AuditEntry) -> str:
        return f"{entry.target_type}:{entry.target_id}"

    @admin.display(description=_("member"))
    def member_link(self, entry: AuditEntry) -> str:
        if entry.member is None:
            return "-"
        url = reverse("admin:members_member_change", args=[entry.member_id])
        return format_html('<a href="{}">{}</a>', url, entry.member.external_id)

    @admin.display(description=_("changes"))
    def changes_display(self, entry: AuditEntry) -> str:
        if not entry.changes:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code>: {} → {}</li>",
                ((name, old, new) for name, (old, new) in sorted(entry.changes.items())),
            ),
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # `audit_target_idx` is (target_type, target_id): name the types so it can be used.
        if ":" in term:
            target_type, _colon, target_id = term.partition(":")
            condition = {"target_type": target_type.lower(), "target_id": target_id}
            return queryset.filter(**condition), False
        target_types = [
            model._meta.label_lower
            for app_config in apps.get_app_configs()
            if app_config.label in ("members", "loyalty", "rewards", "campaigns")
            for model in app_config.get_models()
        ]
        by_target = Q(target_type__in=target_types, target_id=term)
        by_member = Q(member__in=Member.objects.filter(external_id=term).values("pk"))
        return queryset.filter(by_target | by_member), False

    # The member page links to `?member=<pk>`: all entries about one member.
    extra_lookups = ("member",)
