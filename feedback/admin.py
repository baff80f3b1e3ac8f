"""Member feedback in the admin: a read-only list with the NPS band, scale and date filters, found
by the member's external id or an order id (exact match, indexed)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from feedback.models import DETRACTOR_MAX, PROMOTER_MIN, Feedback, FeedbackScale
from loyalty.admin.base import ReadOnlyAdmin, member_link
from members.models import Member


class NpsBandFilter(admin.SimpleListFilter):
    title = _("NPS band")
    parameter_name = "band"

    BANDS = {
        "detractor": Q(score__lte=DETRACTOR_MAX),
        "passive": Q(score__gt=DETRACTOR_MAX, score__lt=PROMOTER_MIN),
        "promoter": Q(score__gte=PROMOTER_MIN),
    }

    def lookups(self, request, model_admin):
        return [
            ("detractor", _("Detractors (0–6)")),
            ("passive", _("Passives (7–8)")),
            ("promoter", _("Promoters (9–10)")),
        ]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        return queryset.filter(band, scale=FeedbackScale.NPS)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member_column", "scale", "score", "band", "channel", "comment")
    list_filter = (NpsBandFilter, "scale", "channel", "created_at")
    search_fields = ("member__external_id",)  # the search itself is `get_search_results`
    search_help_text = _("Exact match: a member's external id or an order id.")
    list_select_related = ("member", "order")
    raw_id_fields = ("member", "order", "actor_user", "actor_api_key")
    ordering = ("-created_at",)
    sortable_by = ("created_at", "score")
    fields = (
        "member",
        "scale",
        "score",
        "comment",
        "order",
        "channel",
        "created_at",
        "actor_kind",
        "actor_label",
    )
    readonly_fields = fields

    @admin.display(description=_("member"), ordering="member_id")
    def member_column(self, feedback: Feedback) -> str:
        return member_link(feedback.member_id, feedback.member.external_id)

    @admin.display(description=_("NPS band"))
    def band(self, feedback: Feedback) -> str:
        return feedback.nps_band or "—"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        member = Member.objects.filter(external_id=term).values("pk")
        return queryset.filter(Q(member__in=member) | Q(order__order_id=term)), False
