"""The member's page, loyalty side: balance, postings, orders, adjustment requests, "Adjust points".

`members.admin.MemberAdmin` owns the page (identity, contact details, status, erasure, audit
trail); this module replaces its registration with `LoyaltyMemberAdmin`, a subclass that adds the
loyalty blocks ("sections") above the audit trail and the "Adjust points" tool and view.

Adding a block is one line: a section is a callable `(request, member) -> MemberPanel | None`
(None when the user may not see it), and the page renders `LoyaltyMemberAdmin.loyalty_sections`
in order, e.g. from `loyalty/admin/tiers.py`:

    LoyaltyMemberAdmin.loyalty_sections.insert(1, tier_section)   # right after the balance

Each section costs a fixed number of queries (one or two), whatever the member's history, so the
page stays fast for a member with years of postings (asserted in
tests/loyalty/test_admin_member.py).

"Adjust points" calls `loyalty.services.adjustments.adjustment_request`, which posts at once or,
for an agent over a limit, keeps the adjustment as a request for a Supervisor; the message says
which happened.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Case, F, Subquery, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import denied, service_error_message
from config.errors import ServiceError
from loyalty.admin.base import action_page, member_change_url
from loyalty.forms import AdjustPointsForm
from loyalty.models import AdjustmentRequest, Order, Tier
from loyalty.selectors.ledger import member_postings
from loyalty.selectors.members import EXPIRING_WINDOW, member_points
from loyalty.selectors.program import program_settings
from loyalty.services.adjustments import (
    PERM_APPROVE,
    PERM_LIMITED,
    PERM_UNLIMITED,
    adjusted_today,
    adjustment_request,
)
from members.actors import Actor
from members.admin import MemberAdmin, MemberPanel, MemberTool
from members.models import Member

RECENT_POSTINGS = 20
RECENT_ORDERS = 10
OPEN_REQUESTS = 20
EXPIRING_DATES_SHOWN = 5

MemberSection = Callable[[HttpRequest, Member], MemberPanel | None]


def _changelist(model_name: str, member: Member, **filters: str) -> str:
    query = "&".join([f"member__id__exact={member.pk}", *(f"{k}={v}" for k, v in filters.items())])
    return f"{reverse(f'admin:loyalty_{model_name}_changelist')}?{query}"


def balance_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    """Available, pending, expiring in the next 90 days, lifetime earned (2 queries)."""
    user = request.user
    if not (user.has_perm("loyalty.view_account") or user.has_perm("loyalty.view_posting")):
        return None
    points = member_points(member=member)
    expiring = points["expiring"]
    return MemberPanel(
        title=_("Points"),
        template="admin/loyalty/member/balance.html",
        context={
            **points,
            "expiring_total": sum(row["points"] for row in expiring),
            "expiring_dates": expiring[:EXPIRING_DATES_SHOWN],
            "expiring_more": len(expiring) > EXPIRING_DATES_SHOWN,
            "expiring_days": EXPIRING_WINDOW.days,
        },
    )


def postings_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    """The latest postings, with a link to all of them in the ledger (1 query)."""
    if not request.user.has_perm("loyalty.view_posting"):
        return None
    rows = list(member_postings(member_id=member.pk)[: RECENT_POSTINGS + 1])
    return MemberPanel(
        title=_("Recent postings"),
        template="admin/loyalty/member/postings.html",
        context={
            "postings": rows[:RECENT_POSTINGS],
            "has_more": len(rows) > RECENT_POSTINGS,
            "list_url": _changelist("posting", member),
        },
    )


def orders_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    """The latest orders, with a link to all of them (1 query)."""
    if not request.user.has_perm("loyalty.view_order"):
        return None
    rows = list(
        Order.objects.filter(member_id=member.pk).order_by("-placed_at", "-id")[: RECENT_ORDERS + 1]
    )
    return MemberPanel(
        title=_("Recent orders"),
        template="admin/loyalty/member/orders.html",
        context={
            "orders": rows[:RECENT_ORDERS],
            "has_more": len(rows) > RECENT_ORDERS,
            "list_url": _changelist("order", member),
        },
    )


def requests_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    """Adjustment requests still waiting for a Supervisor (1 query; hidden when none)."""
    user = request.user
    if not (
        user.has_perm("loyalty.view_adjustmentrequest")
        or user.has_perm(PERM_APPROVE)
        or user.has_perm(PERM_LIMITED)
    ):
        return None
    rows = list(
        AdjustmentRequest.objects.filter(
            member_id=member.pk, status=AdjustmentRequest.Status.PENDING
        ).order_by("-requested_at", "-id")[: OPEN_REQUESTS + 1]
    )
    if not rows:
        return None
    return MemberPanel(
        title=_("Open adjustment requests"),
        template="admin/loyalty/member/requests.html",
        context={
            "requests": rows[:OPEN_REQUESTS],
            "has_more": len(rows) > OPEN_REQUESTS,
            "can_decide": user.has_perm(PERM_APPROVE),
            "list_url": _changelist("adjustmentrequest", member, status__exact="pending"),
        },
    )


admin.site.unregister(Member)


@admin.register(Member)
class LoyaltyMemberAdmin(MemberAdmin):
    # Rendered in this order, above the audit trail. Append or insert to add a block.
    loyalty_sections: list[MemberSection] = [
        balance_section,
        postings_section,
        orders_section,
        requests_section,
    ]

    # The list: who, their tier today and their available points (two joined columns, annotated
    # in `get_queryset`: the page costs the same queries for 50 rows as for 5).
    list_display = (*MemberAdmin.list_display[:3], "tier_column", "balance_column", "status")
    # Columns the apps above add to the list (a name → expression annotated in `get_queryset`,
    # one join each: `segments` adds the RFM group).
    list_annotations: dict = {}

    def get_queryset(self, request):
        today = timezone.localdate()
        effective_tier = Case(
            # An override is complete or absent (a database constraint): its date says it all.
            When(tier_state__override_until__gte=today, then=F("tier_state__override_tier__name")),
            default=F("tier_state__tier__name"),
        )
        # No tier state yet (never evaluated): the entry tier (a constant subquery).
        entry_tier = Subquery(Tier.objects.filter(rank=0).values("name")[:1])
        return (
            super()
            .get_queryset(request)
            .annotate(
                tier_name=Coalesce(effective_tier, entry_tier),
                points_available=F("account__available"),
                **self.list_annotations,
            )
        )

    @admin.display(description=_("tier"))
    def tier_column(self, member: Member) -> str:
        return member.tier_name or "-"

    @admin.display(description=_("points available"), ordering="account__available")
    def balance_column(self, member: Member) -> str:
        return number_format(member.points_available or 0, force_grouping=True)

    def get_member_panels(self, request, member: Member) -> list[MemberPanel]:
        loyalty = [
            panel
            for section in self.loyalty_sections
            if (panel := section(request, member)) is not None
        ]
        return [*loyalty, *super().get_member_panels(request, member)]

    def get_member_tools(self, request, member: Member) -> list[MemberTool]:
        tools = list(super().get_member_tools(request, member))
        if not member.is_erased and self.has_adjust_permission(request):
            url = reverse("admin:members_member_adjust_points", args=[member.pk])
            tools.insert(0, MemberTool(label=_("Adjust points"), url=url))
        return tools

    def has_adjust_permission(self, request) -> bool:
        return request.user.has_perm(PERM_UNLIMITED) or request.user.has_perm(PERM_LIMITED)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/adjust-points/",
                self.admin_site.admin_view(self.adjust_points_view),
                name="members_member_adjust_points",
            ),
            *super().get_urls(),
        ]

    def adjust_points_view(self, request, object_id):
        if not self.has_adjust_permission(request):
            raise denied(PERM_UNLIMITED, PERM_LIMITED)
        member, redirect = self._member_or_redirect(request, object_id)
        if redirect:
            return redirect
        form = AdjustPointsForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = adjustment_request(
                    member=member,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    actor=Actor.staff(request.user),
                    idempotency_key=form.idempotency_key,
                )
            except ServiceError as exc:
                # Shown on the form, which keeps what was typed (and its one-time token).
                self.message_user(request, service_error_message(exc), messages.ERROR)
            else:
                if outcome.posted:
                    posting = outcome.posting
                    self.message_user(
                        request,
                        gettext("Posted %(points)s points to %(member)s (posting #%(posting)s).")
                        % {
                            "points": f"{posting.points:+d}",
                            "member": member.external_id,
                            "posting": posting.pk,
                        },
                        messages.SUCCESS,
                    )
                else:
                    held = outcome.request
                    self.message_user(
                        request,
                        gettext(
                            "Not posted yet: %(points)s points is %(held_because)s. Adjustment "
                            "request #%(number)s was created and waits for a Supervisor's "
                            "approval."
                        )
                        % {
                            "points": f"{held.points:+d}",
                            "held_because": held.held_because,
                            "number": held.pk,
                        },
                        messages.WARNING,
                    )
                return HttpResponseRedirect(member_change_url(member.pk))
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Adjust points of %(member)s") % {"member": member.external_id},
            intro=(
                _(
                    "Credit (positive) or debit (negative) the member's points, with a reason. "
                    "A debit cannot take the balance below zero."
                )
            ),
            summary=self._adjust_summary(request, member),
            submit_label=_("Adjust points"),
            back_url=member_change_url(member.pk),
            back_label=str(member),
        )

    def _adjust_summary(self, request, member: Member) -> list[tuple[str, object]]:
        points = member_points(member=member)
        summary: list[tuple[str, object]] = [
            (gettext("Available"), points["available"]),
            (gettext("Pending"), points["pending"]),
        ]
        if request.user.has_perm(PERM_UNLIMITED):
            summary.append((gettext("Your limits"), gettext("none")))
        else:
            settings = program_settings()
            used = adjusted_today(user_id=request.user.pk)
            summary += [
                (gettext("Your limit per adjustment"), settings.service_adjustment_limit),
                (
                    gettext("Your daily limit"),
                    gettext(
                        "%(limit)s (%(used)s used today); above a limit the adjustment waits for "
                        "a Supervisor's approval"
                    )
                    % {"limit": settings.service_daily_limit, "used": used},
                ),
            ]
        return summary
