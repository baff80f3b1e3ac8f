"""Admin of the historical import: the run records, the column-mapping profiles, and the import.

The import page (`Import runs` → `Import orders`) is the admin's way in for files up to
`IMPORT_ADMIN_MAX_MB` (bigger files: the page says to use `manage.py import_orders`). It is the
same code as the command, end to end (`loyalty.importing.pipeline.import_orders`):
1. upload: the file is stored under var/imports/ and checked with a dry run; the preview lists
   what would be written and every bad row (row, column, value, reason), with the full error
   report to download;
2. confirm: the real import of that very file (a signed token names it and its checksum), with
   or without skipping the bad rows, runs as a background job on the `imports` queue
   (`loyalty.tasks.import_upload`; in-process on SQLite); its progress page follows the run
   with a progress bar and shows the result (`loyalty.admin.import_progress`).
The runs list tells previews (dry runs, nothing written) from imports.
Runs are read-only; profiles are created and changed through `import_profile_save` (audited).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

import jobs
from config.admin_tools import column, denied
from loyalty.admin import import_progress
from loyalty.admin.base import ReadOnlyAdmin
from loyalty.importing.demo import demo_sample_conflicts
from loyalty.importing.pipeline import SHOWN_ERRORS, import_orders
from loyalty.importing.profiles import (
    BUILTIN,
    PROFILE_FIELDS,
    import_profile_delete,
    import_profile_save,
)
from loyalty.importing.reader import file_checksum
from loyalty.importing.summary import error_summary, report_rows
from loyalty.importing.uploads import upload_path, uploads_dir
from loyalty.models import ImportProfile, ImportRun
from loyalty.tasks import import_upload
from members.actors import Actor

TOKEN_SALT = "loyalty.admin.imports"
TOKEN_MAX_AGE = 24 * 3600


def max_bytes() -> int:
    return settings.IMPORT_ADMIN_MAX_MB * 1024 * 1024


def _profile_choices():
    names = [*BUILTIN, *ImportProfile.objects.values_list("name", flat=True)]
    return [("", gettext("— from the format, or detected —")), *((n, n) for n in names)]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        help_text=_(
            "A CSV export (UTF-8; comma, semicolon or tab). Nothing is written until you "
            "confirm the preview."
        ),
        label=_("File"),
    )
    format = forms.ChoiceField(
        choices=[
            ("auto", _("Detect from the header")),
            ("orders", _("Orders: one row per order")),
            ("lines", _("Lines: one row per order line (profile online-retail unless chosen)")),
            ("shopify", _("Shopify orders export")),
        ],
        initial="auto",
        label=_("Format"),
    )
    profile = forms.ChoiceField(required=False, label=_("Profile"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].choices = _profile_choices()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > max_bytes():
            raise forms.ValidationError(
                gettext(
                    "This file is %(size)s MB; the admin imports files up to %(limit)s MB. Import "
                    "it with the command instead: python manage.py import_orders %(name)s "
                    "--dry-run (then without --dry-run)."
                )
                % {
                    "size": f"{upload.size / 1024 / 1024:.1f}",
                    "limit": settings.IMPORT_ADMIN_MAX_MB,
                    "name": upload.name,
                }
            )
        return upload


class ImportConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)
    skip_invalid = forms.BooleanField(
        required=False,
        label=_("Skip the bad rows"),
        help_text=_(
            "Import the good rows and keep an error report of the others. Without this, a "
            "file with bad rows imports nothing."
        ),
    )


def _demo_conflicts(summary) -> int:
    """Conflicting orders, when those shown were loaded by the demo (else 0)."""
    shown = [c.order_id for c in summary.causes if c.code == "order_conflict"]
    if not demo_sample_conflicts(shown):
        return 0
    return sum(g.rows for g in summary.groups if g.code == "order_conflict")


@admin.register(ImportRun)
class ImportRunAdmin(import_progress.ProgressViews, ReadOnlyAdmin):
    list_display = (
        column("started_at", _("started")),
        "file_name",
        "kind",
        "status",
        column("actor_label", _("by")),
        "rows_read",
        "orders_created",
        "rows_rejected",
    )
    list_filter = ("status", "dry_run", "format", "via")
    search_fields = ("file_name", "checksum", "actor_label")
    list_select_related = ("actor_user",)
    date_hierarchy = "started_at"
    readonly_fields = (
        "status",
        "message",
        "file_name",
        "file_size",
        "checksum",
        "format",
        "profile",
        "dry_run",
        "skip_invalid",
        "via",
        "actor_kind",
        "actor_label",
        "started_at",
        "finished_at",
        "duration_column",
        "rows_read",
        "orders_created",
        "orders_present",
        "refunds_created",
        "members_created",
        "points_posted",
        "guest_orders_created",
        "rows_rejected",
        "rows_skipped",
        "error_report_link",
        "pid",
        "host",
        "heartbeat_at",
    )
    fields = readonly_fields
    change_list_template = "admin/loyalty/importrun/change_list.html"

    @admin.display(description=_("kind"), ordering="dry_run")
    def kind(self, run: ImportRun) -> str:
        return gettext("Preview (nothing written)") if run.dry_run else gettext("Import")

    @admin.display(description=_("duration"))
    def duration_column(self, run: ImportRun) -> str:
        duration = run.duration
        return f"{duration.total_seconds():.1f}s" if duration is not None else "—"

    @admin.display(description=_("error report"))
    def error_report_link(self, run: ImportRun) -> str:
        if not run.error_report:
            return "—"
        url = reverse("admin:loyalty_importrun_errors", args=[run.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Download the error report (CSV)"))

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or request.user.has_perm(
            "loyalty.import_orders"
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="loyalty_importrun_import"),
            path("<int:pk>/errors/", view(self.errors_view), name="loyalty_importrun_errors"),
            *self.progress_urls(),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {
            "can_import": request.user.has_perm("loyalty.import_orders"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    # --- the import ----------------------------------------------------------------------------

    def _page(self, request, template: str, context: dict, status: int = 200):
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "max_mb": settings.IMPORT_ADMIN_MAX_MB,
                **context,
            },
            status=status,
        )

    def import_view(self, request):
        if not request.user.has_perm("loyalty.import_orders"):
            raise denied("loyalty.import_orders")
        if request.method == "POST" and "token" in request.POST:
            return self._confirm(request)
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            return self._preview(request, form)
        return self._page(
            request,
            "admin/loyalty/importrun/import_upload.html",
            {"title": _("Import historical orders"), "form": form},
            status=400 if form.errors else 200,
        )

    def _preview(self, request, form: ImportUploadForm):
        upload = form.cleaned_data["file"]
        key = uuid.uuid4().hex
        stored = upload_path(key)
        with open(stored, "wb") as handle:
            for block in upload.chunks():
                handle.write(block)
        result = import_orders(
            path=stored,
            actor=Actor.staff(request.user),
            fmt=form.cleaned_data["format"],
            profile_name=form.cleaned_data["profile"] or None,
            dry_run=True,
            errors_path=uploads_dir() / f"{key}.errors.csv",
            file_name=upload.name,
            via="admin",
        )
        checksum, _size = file_checksum(stored)
        token = signing.dumps(
            {
                "key": key,
                "checksum": checksum,
                "name": upload.name,
                "format": result.format or form.cleaned_data["format"],
                "profile": form.cleaned_data["profile"] or "",
            },
            salt=TOKEN_SALT,
        )
        readable = result.status != ImportRun.Status.FAILED
        if not readable:
            stored.unlink(missing_ok=True)
        errors = report_rows(result.error_report) if result.error_report else result.errors
        summary = error_summary(errors)
        writes = result.orders_created or result.refunds_created or result.members_created
        return self._page(
            request,
            "admin/loyalty/importrun/import_preview.html",
            {
                "title": gettext("Preview: %(name)s") % {"name": upload.name},
                "result": result,
                "readable": readable,
                "summary": summary,
                "nothing_to_write": not writes,
                "demo_conflicts": _demo_conflicts(summary),
                "skip_label": ImportConfirmForm.base_fields["skip_invalid"].label,
                "errors_shown": result.errors,
                "errors_more": max(result.error_count - len(result.errors), 0),
                "shown_limit": SHOWN_ERRORS,
                "report_url": reverse("admin:loyalty_importrun_errors", args=[result.run.pk])
                if result.error_report
                else "",
                "form": ImportConfirmForm(initial={"token": token}),
                "token": token,
            },
        )

    def _confirm(self, request):
        form = ImportConfirmForm(request.POST)
        try:
            if not form.is_valid():
                raise signing.BadSignature("no token")
            data = signing.loads(form.cleaned_data["token"], salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        except signing.BadSignature:
            messages.error(
                request, gettext("This preview has expired or is not valid; upload the file again.")
            )
            return HttpResponseRedirect(reverse("admin:loyalty_importrun_import"))
        stored = upload_path(data["key"])
        if not stored.is_file() or file_checksum(stored)[0] != data["checksum"]:
            messages.error(request, gettext("The uploaded file is gone; upload it again."))
            return HttpResponseRedirect(reverse("admin:loyalty_importrun_import"))
        since = timezone.now()
        job_id = jobs.defer(
            import_upload,
            queueing_lock=f"import:{data['checksum']}",
            key=data["key"],
            checksum=data["checksum"],
            name=data["name"],
            fmt=data["format"],
            profile=data["profile"],
            skip_invalid=form.cleaned_data["skip_invalid"],
            user_id=request.user.pk,
        )
        token = import_progress.progress_token(
            checksum=data["checksum"], name=data["name"], since=since, job_id=job_id
        )
        return HttpResponseRedirect(reverse("admin:loyalty_importrun_progress", args=[token]))

    def errors_view(self, request, pk: int):
        run = ImportRun.objects.filter(pk=pk).first()
        if run is None or not run.error_report:
            raise Http404(gettext("No error report for this run."))
        if not (
            request.user.has_perm("loyalty.import_orders")
            or request.user.has_perm("loyalty.view_importrun")
        ):
            raise denied("loyalty.import_orders", "loyalty.view_importrun")
        report = Path(run.error_report).resolve()
        folder = uploads_dir().resolve()
        # Only reports the admin itself wrote are served: never an arbitrary path.
        if folder not in report.parents or not report.is_file():
            raise Http404(gettext("The error report of this run is not kept by the admin."))
        return FileResponse(
            open(report, "rb"),
            as_attachment=True,
            filename=f"import-{run.pk}-errors.csv",
            content_type="text/csv",
        )


class ImportProfileForm(forms.ModelForm):
    class Meta:
        model = ImportProfile
        fields = PROFILE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only lines profiles use it: left empty, it is the default (4).
        self.fields["unit_price_decimals"].required = False

    def clean_unit_price_decimals(self):
        value = self.cleaned_data.get("unit_price_decimals")
        return (
            ImportProfile._meta.get_field("unit_price_decimals").default if value is None else value
        )


@admin.register(ImportProfile)
class ImportProfileAdmin(admin.ModelAdmin):
    form = ImportProfileForm
    list_display = (
        "name",
        "layout",
        "description",
        "col_order_id",
        "col_customer_id",
        "updated_at",
    )
    list_filter = ("layout",)
    search_fields = ("name", "description")
    list_select_related = ()
    fieldsets = (
        (None, {"fields": ("name", "description", "layout")}),
        (
            _("Which column holds what"),
            {
                "fields": (
                    "col_order_id",
                    "col_customer_id",
                    "col_email",
                    "col_first_name",
                    "col_last_name",
                    "col_placed_at",
                    "date_format",
                )
            },
        ),
        (
            _("Money"),
            {
                "fields": (
                    "col_total",
                    "col_eligible_total",
                    "col_refunded_total",
                    "col_quantity",
                    "col_unit_price",
                    "unit_price_decimals",
                    "col_sku",
                    "col_description",
                    "col_currency",
                    "fixed_currency",
                )
            },
        ),
        (_("Refunds (lines layout)"), {"fields": ("refund_marker", "refund_prefix")}),
    )

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in PROFILE_FIELDS}
        saved = import_profile_save(
            actor=Actor.staff(request.user),
            profile=ImportProfile.objects.get(pk=obj.pk) if change else None,
            **fields,
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        import_profile_delete(actor=Actor.staff(request.user), profile=obj)

    def delete_queryset(self, request, queryset) -> None:
        for profile in queryset:
            import_profile_delete(actor=Actor.staff(request.user), profile=profile)
