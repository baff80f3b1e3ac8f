"""Building blocks shared by the loyalty admin modules.

- `ReadOnlyAdmin`: ledger rows, orders and refunds are read and filtered in the admin, never added,
  changed or deleted, by anyone (superusers included): the permission hooks say no regardless of
  the user, and `delete_selected` is gone. Viewing still needs the model's `view_` permission.
- `action_page`: renders a staff operation's form (`templates/admin/loyalty/action_form.html`).
- `member_change_url`: the member's page, where every staff operation on points starts.
"""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from config.admin_tools import DeclaredFiltersOnly, EstimatedCountPaginator


def member_change_url(member_id: int) -> str:
    return reverse("admin:members_member_change", args=[member_id])


def member_link(member_id: int, label: str) -> str:
    return format_html('<a href="{}">{}</a>', member_change_url(member_id), label)


class ReadOnlyAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    """A big, read-only table: estimated counts, no writes, only the declared URL filters (and
    `?member__id__exact=`, which the member's page links to)."""

    extra_lookups = ("member__id__exact",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


def action_page(
    model_admin: admin.ModelAdmin,
    request,
    *,
    form,
    title: str,
    back_url: str,
    back_label: str,
    intro: str = "",
    summary: list[tuple[str, object]] | None = None,
    submit_label: str = "",
    danger: bool = False,
    status: int = 200,
):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "intro": intro,
        "summary": summary or [],
        "form": form,
        "back_url": back_url,
        "back_label": back_label,
        "submit_label": submit_label,
        "danger": danger,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/loyalty/action_form.html", context, status=status)
