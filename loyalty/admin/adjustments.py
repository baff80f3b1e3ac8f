"""Admin of adjustment requests: the queue Supervisors work through, read-only otherwise.

A request is made by the member page's "Adjust points" form when an agent goes over a limit
(`loyalty.services.adjustments`). Here it can be listed (filter by status), read, and decided by a
user with `loyalty.approve_adjustment` (Supervisor) other than the requester: "Approve" posts the
points as the approver, "Reject" needs a note. Nobody adds, edits or deletes a request by hand.

Who sees the queue: whoever may adjust points or decide requests (their `view_adjustmentrequest`
comes with the role), so an agent can follow what became of their requests.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import IdColumn, column, denied, service_error_message
from config.errors import ServiceError
from loyalty.admin.base import ReadOnlyAdmin, action_page, member_change_url, member_link
from loyalty.forms import ApproveRequestForm, RejectRequestForm
from loyalty.models import AdjustmentRequest
from loyalty.services.adjustments import (
    PERM_APPROVE,
    adjustment_request_approve,
    adjustment_request_reject,
)
from members.actors import Actor
from members.models import Member


def request_url(request_id: int) -> str:
    return reverse("admin:loyalty_adjustmentrequest_change", args=[request_id])


@admin.register(AdjustmentRequest)
class AdjustmentRequestAdmin(IdColumn, ReadOnlyAdmin):
    change_form_template = "admin/loyalty/adjustmentrequest/change_form.html"
    list_display = (
        "number",
        column("requested_at", _("requested")),
        "member_column",
        "points",
        "reason",
        column("requested_by_label", _("requested by"), sortable=False),
        "held_because",
        "status",
        "decided_column",
    )
    list_display_links = ("number",)
    list_filter = ("status", "requested_at")
    search_fields = ("requested_by_label",)
    search_help_text = _(
        "Exact match: a member's external id, a requester's username, a request number."
    )
    list_select_related = ("member",)
    raw_id_fields = ("member", "posting", "requested_by", "decided_by")
    ordering = ("-requested_at", "-id")
    sortable_by = ("number", "requested_at")
    fields = (
        "member",
        "points",
        "reason",
        "held_because",
        "status",
        "requested_by_label",
        "requested_at",
        "decided_by_label",
        "decided_at",
        "decision_note",
        "posting",
    )
    readonly_fields = fields

    @admin.display(description=_("member"), ordering="member_id")
    def member_column(self, obj: AdjustmentRequest) -> str:
        return member_link(obj.member_id, str(obj.member))

    @admin.display(description=_("decided"))
    def decided_column(self, obj: AdjustmentRequest) -> str:
        if obj.decided_at is None:
            return "-"
        when = date_format(timezone.localtime(obj.decided_at), "SHORT_DATETIME_FORMAT")
        return f"{obj.decided_by_label}, {when}"

    @admin.display(description=_("posting"))
    def posting_column(self, obj: AdjustmentRequest) -> str:
        if obj.posting_id is None:
            return "-"
        url = reverse("admin:loyalty_posting_change", args=[obj.posting_id])
        return format_html('<a href="{}">#{}</a>', url, obj.posting_id)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().removeprefix("#")
        if not term:
            return queryset, False
        condition = Q(member__in=Member.objects.filter(external_id=term).values("pk")) | Q(
            requested_by_label=term
        )
        if term.isdigit() and len(term) < 19:
            condition |= Q(pk=int(term))
        return queryset.filter(condition), False

    # --- who may see and decide ---------------------------------------------------------------

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or self.has_decide_permission(request)

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm(PERM_APPROVE)

    # --- decisions ---------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="loyalty_adjustmentrequest_approve",
            ),
            path(
                "<path:object_id>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="loyalty_adjustmentrequest_reject",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and obj.is_pending and self.has_decide_permission(request):
            extra_context["approve_url"] = reverse(
                "admin:loyalty_adjustmentrequest_approve", args=[obj.pk]
            )
            extra_context["reject_url"] = reverse(
                "admin:loyalty_adjustmentrequest_reject", args=[obj.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _decision_view(self, request, object_id, *, approving: bool):
        if not self.has_decide_permission(request):
            raise denied(PERM_APPROVE)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back_url = request_url(obj.pk)
        if not obj.is_pending:
            self.message_user(
                request,
                (
                    gettext("Request #%(number)s was already approved.")
                    if obj.status == AdjustmentRequest.Status.APPROVED
                    else gettext("Request #%(number)s was already rejected.")
                )
                % {"number": obj.pk},
                messages.WARNING,
            )
            return HttpResponseRedirect(back_url)
        form_class = ApproveRequestForm if approving else RejectRequestForm
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            actor = Actor.staff(request.user)
            try:
                if approving:
                    decided = adjustment_request_approve(
                        request=obj, actor=actor, note=form.cleaned_data["note"]
                    )
                else:
                    decided = adjustment_request_reject(
                        request=obj, actor=actor, note=form.cleaned_data["note"]
                    )
            except ServiceError as exc:
                self.message_user(request, service_error_message(exc), messages.ERROR)
                return HttpResponseRedirect(back_url)
            if approving:
                self.message_user(
                    request,
                    gettext(
                        "Request #%(number)s approved: %(points)s points posted to %(member)s "
                        "(posting #%(posting)s), requested by %(requester)s."
                    )
                    % {
                        "number": decided.pk,
                        "points": f"{decided.points:+d}",
                        "member": obj.member.external_id,
                        "posting": decided.posting_id,
                        "requester": decided.requested_by_label,
                    },
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    gettext("Request #%(number)s rejected: nothing was posted.")
                    % {"number": decided.pk},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(member_change_url(obj.member_id))
        title = (
            gettext("Approve adjustment request #%(number)s")
            if approving
            else gettext("Reject adjustment request #%(number)s")
        )
        requested = gettext("%(when)s by %(requester)s") % {
            "when": f"{obj.requested_at:%Y-%m-%d %H:%M}",
            "requester": obj.requested_by_label,
        }
        return action_page(
            self,
            request,
            form=form,
            title=title % {"number": obj.pk},
            intro=(
                gettext(
                    "Approving posts the points now, in your name; the requester's name stays on "
                    "the request and in the posting's reason."
                )
                if approving
                else gettext("Rejecting posts nothing; the note tells the requester why.")
            ),
            summary=[
                (gettext("Member"), obj.member),
                (gettext("Points"), f"{obj.points:+d}"),
                (gettext("Reason"), obj.reason),
                (gettext("Requested"), requested),
                (gettext("Held because"), obj.held_because),
            ],
            back_url=back_url,
            back_label=gettext("Request #%(number)s") % {"number": obj.pk},
            danger=not approving,
        )

    def approve_view(self, request, object_id):
        return self._decision_view(request, object_id, approving=True)

    def reject_view(self, request, object_id):
        return self._decision_view(request, object_id, approving=False)
