"""The member's statistics and RFM group on their page, and the RFM group as a column and a
filter of the member list (one join, annotated through `LoyaltyMemberAdmin.list_annotations`)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.admin.members import LoyaltyMemberAdmin
from members.admin import MemberPanel
from members.models import Member
from segments.models import RfmGroup
from segments.selectors.stats import member_stats_view

NO_SCORE = "none"


def statistics_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    """Orders, spend, RFM scores and group as of the last refresh (2 queries)."""
    if not request.user.has_perm("segments.view_memberstats"):
        return None
    return MemberPanel(
        title=_("Statistics and RFM"),
        template="admin/segments/member/stats.html",
        context={"view": member_stats_view(member=member)},
    )


class RfmGroupFilter(admin.SimpleListFilter):
    title = _("RFM group")
    parameter_name = "rfm"

    def lookups(self, request, model_admin):
        return [*RfmGroup.choices, (NO_SCORE, _("No score"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == NO_SCORE:
            return queryset.exclude(segment_stats__rfm_group__in=RfmGroup.values)
        if value in RfmGroup.values:
            return queryset.filter(segment_stats__rfm_group=value)
        return queryset


@admin.display(description=_("RFM group"))
def rfm_column(self, member: Member) -> str:
    code = getattr(member, "rfm_group_code", "")
    return RfmGroup(code).label if code in RfmGroup.values else "-"


if statistics_section not in LoyaltyMemberAdmin.loyalty_sections:
    LoyaltyMemberAdmin.loyalty_sections.append(statistics_section)
if "rfm_column" not in LoyaltyMemberAdmin.list_display:
    LoyaltyMemberAdmin.rfm_column = rfm_column
    LoyaltyMemberAdmin.list_display = (
        *LoyaltyMemberAdmin.list_display[:-1],
        "rfm_column",
        LoyaltyMemberAdmin.list_display[-1],
    )
    LoyaltyMemberAdmin.list_filter = (*LoyaltyMemberAdmin.list_filter, RfmGroupFilter)
    LoyaltyMemberAdmin.list_annotations["rfm_group_code"] = F("segment_stats__rfm_group")
