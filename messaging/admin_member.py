"""The member's page shows their latest messages (kind, subject, status, when): a panel added
through `MemberAdmin`'s extension point, by subclassing the member admin registered so far
(loyalty's) and registering the subclass in its place."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from members.admin import MemberPanel
from members.models import Member
from messaging.models import MessageLog

PANEL_ROWS = 20

_Base = type(admin.site._registry[Member])
admin.site.unregister(Member)


@admin.register(Member)
class MessagingMemberAdmin(_Base):
    def get_member_panels(self, request, member: Member) -> list[MemberPanel]:
        panels = list(super().get_member_panels(request, member))
        if not request.user.has_perm("messaging.view_messagelog"):
            return panels
        rows = list(
            MessageLog.objects.filter(member=member).order_by("-requested_at", "-id")[
                : PANEL_ROWS + 1
            ]
        )
        log_url = reverse("admin:messaging_messagelog_changelist") + (
            f"?q={member.external_id}" if not member.is_erased else ""
        )
        panel = MemberPanel(
            title=_("Messages"),
            template="admin/messaging/member_messages_panel.html",
            context={
                "rows": rows[:PANEL_ROWS],
                "has_more": len(rows) > PANEL_ROWS,
                "log_url": log_url,
            },
        )
        # Before the audit trail, which stays last.
        return [*panels[:-1], panel, *panels[-1:]]
