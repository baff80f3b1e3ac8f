"""The member page's "Suggested rewards" panel: the same list the storefront gets from
`GET /api/v1/members/{external_id}/suggestions` (`rewards.suggestions`), for customer service."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.admin.members import LoyaltyMemberAdmin
from members.admin import MemberPanel
from members.models import Member
from rewards.suggestions import member_suggestions


def suggestions_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    if not request.user.has_perm("rewards.view_reward") or member.is_erased:
        return None
    return MemberPanel(
        title=_("Suggested rewards"),
        template="admin/rewards/member/suggestions.html",
        context={"suggestions": member_suggestions(member=member)},
    )


if suggestions_section not in LoyaltyMemberAdmin.loyalty_sections:
    LoyaltyMemberAdmin.loyalty_sections.append(suggestions_section)
