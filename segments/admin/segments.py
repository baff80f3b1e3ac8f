"""The segment builder for Marketing: a condition tree edited visually (nested ALL / ANY groups,
field-aware operators and values: static/backoffice/segment_builder.js over the JSON field, which
stays the stored form) with a live count and a sample (an endpoint the page calls as the tree
changes), freezing, the CSV export of the
members (formulas escaped, `members.exports.escape_formula`) and the bulk award of points.

Thin callers: the form validates the tree (`conditions_validate`, the path of a bad node in the
error), services write (`segment_save`, `segment_freeze`, `segment_award_points`).
"""

from __future__ import annotations

import csv
import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import DeclaredFiltersOnly
from config.errors import ServiceError
from members.actors import Actor
from members.exports import escape_formula
from segments.admin.builder import builder_spec
from segments.conditions import FIELDS, conditions_validate
from segments.models import Segment, SegmentAward
from segments.selectors.segments import conditions_preview, segment_members
from segments.services.segments import segment_award_points, segment_freeze, segment_save

EXPORT_COLUMNS = ("external_id", "email", "first_name", "last_name")


class SegmentForm(forms.ModelForm):
    conditions = forms.JSONField(
        label=_("conditions"),
        widget=forms.Textarea(attrs={"rows": 14, "cols": 90, "class": "segment-conditions"}),
        initial=dict,
        help_text=_('A condition tree: {"all": [...]} or {"any": [...]} of conditions.'),
    )

    class Meta:
        model = Segment
        fields = ("code", "name", "description", "conditions")

    def clean_conditions(self):
        try:
            return conditions_validate(self.cleaned_data.get("conditions"))
        except ValidationError as error:
            raise forms.ValidationError(error.messages[0], code="invalid_condition") from None


class AwardForm(forms.Form):
    points = forms.IntegerField(label=_("points"), min_value=-100_000, max_value=100_000)
    reason = forms.CharField(label=_("reason"), max_length=500)
    key = forms.CharField(widget=forms.HiddenInput)

    def clean_points(self):
        if self.cleaned_data["points"] == 0:
            raise forms.ValidationError(gettext("Give a number of points other than 0."))
        return self.cleaned_data["points"]


@admin.register(Segment)
class SegmentAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "code", "kind", "member_count", "evaluated_at")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    list_select_related = False
    readonly_fields = ("kind", "member_count", "evaluated_at", "frozen_at")
    change_form_template = "admin/segments/segment/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.kind == Segment.Kind.FROZEN:
            return (*self.readonly_fields, "code", "conditions")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        segment_save(segment=obj, actor=Actor.staff(request.user))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("count/", view(self.count_view), name="segments_segment_count"),
            path("<int:object_id>/export/", view(self.export_view), name="segments_segment_export"),
            path("<int:object_id>/freeze/", view(self.freeze_view), name="segments_segment_freeze"),
            path("<int:object_id>/award/", view(self.award_view), name="segments_segment_award"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["fields_reference"] = [
            {"name": name, "type": spec.type, "ops": ", ".join(spec.ops),
             "params": ", ".join(spec.params)}
            for name, spec in FIELDS.items()
        ]  # fmt: skip
        context["count_url"] = reverse("admin:segments_segment_count")
        if obj is None or obj.kind != Segment.Kind.FROZEN:  # a frozen tree is read-only
            context["builder_spec"] = builder_spec()
        if obj is not None:
            user = request.user
            context["segment_tools"] = [
                (label, reverse(f"admin:segments_segment_{name}", args=[obj.pk]))
                for name, label, perm in (
                    ("export", _("Export members (CSV)"), "segments.export_segment"),
                    ("award", _("Award points"), "segments.award_segment"),
                    ("freeze", _("Freeze (snapshot the members)"), "segments.change_segment"),
                )
                if user.has_perm(perm) and not (name == "freeze" and obj.frozen_at)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def count_view(self, request):
        """The builder's live answer: POST {"conditions": tree} (JSON, or a form field
        `conditions` holding it) → {count, sample} or {error}. No tree: everyone."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            if request.content_type == "application/json":
                tree = json.loads(request.body or b"{}").get("conditions")
            else:
                tree = json.loads(request.POST.get("conditions") or "{}")
            answer = conditions_preview(tree)
        except (ValueError, AttributeError):
            return JsonResponse(
                {"error": gettext("The conditions are not valid JSON.")}, status=400
            )
        except ValidationError as error:
            return JsonResponse({"error": error.messages[0]}, status=400)
        return JsonResponse(answer)

    def _segment(self, request, object_id, perm: str) -> Segment:
        if not request.user.has_perm(perm):
            raise PermissionDenied
        return get_object_or_404(Segment, pk=object_id)

    def export_view(self, request, object_id):
        segment = self._segment(request, object_id, "segments.export_segment")

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        rows = segment_members(segment).order_by("pk").values_list(*EXPORT_COLUMNS)

        def lines():
            yield writer.writerow(EXPORT_COLUMNS)
            for row in rows.iterator(chunk_size=2000):
                yield writer.writerow([escape_formula(value or "") for value in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = (
            f'attachment; filename="segment-{segment.code}-{stamp}.csv"'
        )
        return response

    def freeze_view(self, request, object_id):
        segment = self._segment(request, object_id, "segments.change_segment")
        change_url = reverse("admin:segments_segment_change", args=[segment.pk])
        if request.method != "POST":
            return self._page(request, segment, None, _("Freeze the segment"), change_url)
        try:
            count = segment_freeze(segment=segment)
        except ServiceError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, gettext("Frozen with %(count)s members.") % {"count": count})
        return redirect(change_url)

    def award_view(self, request, object_id):
        segment = self._segment(request, object_id, "segments.award_segment")
        change_url = reverse("admin:segments_segment_change", args=[segment.pk])
        form = AwardForm(request.POST or None, initial={"key": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                award = segment_award_points(
                    segment=segment,
                    points=data["points"],
                    reason=data["reason"],
                    key=f"admin:{segment.pk}:{data['key']}",
                    actor=Actor.staff(request.user),
                )
            except ServiceError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "%(members)s members awarded, %(requested)s adjustments held for approval."
                    )
                    % {"members": award.members, "requested": award.requested},
                )
                return redirect(change_url)
        return self._page(request, segment, form, _("Award points to the segment"), change_url)

    def _page(self, request, segment, form, title, back_url) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "segment": segment,
            "form": form,
            "count": segment_members(segment).count(),
            "back_url": back_url,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/segments/segment/action.html", context)


@admin.register(SegmentAward)
class SegmentAwardAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    list_display = ("segment", "points", "reason", "members", "requested", "actor_label",
                    "created_at")  # fmt: skip
    list_filter = ("created_at",)
    search_fields = ("segment__code", "key")
    list_select_related = ("segment",)
    raw_id_fields = ("segment",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
