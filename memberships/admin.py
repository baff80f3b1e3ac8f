"""Admin of paid membership: plans (Marketing), memberships with their history, a supervisor's
refund.

- Plans: adding and changing call `plan_save` (audited); nobody deletes a plan (a sold plan is
  made inactive instead).
- Memberships are read-only for everyone; the page shows the periods, the payments and refunds,
  and the perks reported used (read-only inlines). Holders of `memberships.refund_membership`
  (Supervisor) get "Refund…": the plan's rule by default, or another amount (at most the
  payment), always with a reason (`membership_refund`).
- The member's page gets a "Paid membership" block (the member's memberships, latest first)
  through `loyalty.admin.members.LoyaltyMemberAdmin.loyalty_sections`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import column, denied, service_error_message
from config.errors import ServiceError
from loyalty.admin.base import ReadOnlyAdmin, action_page, member_link
from loyalty.admin.members import LoyaltyMemberAdmin
from members.actors import Actor
from members.admin import MemberPanel
from members.models import Member
from memberships import services
from memberships.models import (
    Membership,
    MembershipCharge,
    MembershipPeriod,
    MembershipStatus,
    PerkUsage,
    Plan,
)
from memberships.services.plans import PLAN_FIELDS

PERM_REFUND = "memberships.refund_membership"
MEMBER_MEMBERSHIPS_SHOWN = 10


def _membership_url(membership_id: int) -> str:
    return reverse("admin:memberships_membership_change", args=[membership_id])


def _refund_url(membership_id: int) -> str:
    return reverse("admin:memberships_membership_refund", args=[membership_id])


# --- plans -----------------------------------------------------------------------------------


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = (*PLAN_FIELDS, "perks")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanForm
    list_display = (
        "code",
        "name",
        "price",
        "currency",
        "period_months",
        "trial_days",
        "earn_multiplier",
        "refund_rule",
        "active",
    )
    list_filter = ("active", "refund_rule")
    search_fields = ("code", "name")
    list_select_related = ()
    filter_horizontal = ("perks",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a sold plan stays: make it inactive

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:
            self.message_user(request, service_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in PLAN_FIELDS if name in form.cleaned_data}
        if change:
            data["code"] = obj.code
        saved = services.plan_save(
            actor=Actor.staff(request.user),
            plan=Plan.objects.get(pk=obj.pk) if change else None,
            perks=list(form.cleaned_data["perks"]),
            **data,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # `plan_save` set the perks (and audited them)


# --- memberships ---------------------------------------------------------------------------


class _HistoryInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PeriodInline(_HistoryInline):
    model = MembershipPeriod
    fields = readonly_fields = ("number", "kind", "starts_at", "ends_at", "payment")


class ChargeInline(_HistoryInline):
    model = MembershipCharge
    fields = readonly_fields = (
        "period_number",
        "kind",
        "amount",
        "currency",
        "payment_reference",
        "reason",
        "created_at",
        "actor_label",
    )


class PerkUsageInline(_HistoryInline):
    model = PerkUsage
    fields = readonly_fields = ("period_number", "perk", "order_id", "used_at", "actor_label")


class RefundForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        label=_("Reason"),
        help_text=_("Why (kept with the refund)."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        label=_("Amount"),
        help_text=_("Leave empty to refund what the plan's refund rule gives back."),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(gettext("Give a reason."))
        return reason


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    change_form_template = "admin/memberships/membership/change_form.html"
    list_display = (
        "id",
        "member_column",
        "plan",
        "status",
        "started_at",
        "current_period_end",
        column("ends_at", _("perks end")),
    )
    list_filter = ("status", "plan")
    search_fields = ("member__external_id",)
    search_help_text = _("Exact match: a member's external id.")
    list_select_related = ("member", "plan")
    raw_id_fields = ("member", "actor_user", "actor_api_key")
    ordering = ("-started_at", "-id")
    inlines = (PeriodInline, ChargeInline, PerkUsageInline)
    fields = readonly_fields = (
        "member",
        "plan",
        "status",
        "started_at",
        "current_period_start",
        "current_period_end",
        "grace_until",
        "cancelled_at",
        "ends_at",
        "ended_at",
        "actor_label",
    )

    @admin.display(description=_("member"), ordering="member_id")
    def member_column(self, membership: Membership) -> str:
        return member_link(membership.member_id, membership.member.external_id)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        members = Member.objects.filter(external_id=term).values("pk")
        return queryset.filter(member__in=members), False

    # --- refund (Supervisor) ------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="memberships_membership_refund",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        membership = self.get_object(request, unquote(object_id))
        if (
            membership is not None
            and membership.status in (MembershipStatus.ACTIVE, MembershipStatus.CANCELLED)
            and request.user.has_perm(PERM_REFUND)
        ):
            extra_context["refund_url"] = _refund_url(membership.pk)
        return super().change_view(request, object_id, form_url, extra_context)

    def refund_view(self, request, object_id):
        if not request.user.has_perm(PERM_REFUND):
            raise denied(PERM_REFUND)
        membership = self.get_object(request, unquote(object_id))
        if membership is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back_url = _membership_url(membership.pk)
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                refund = services.membership_refund(
                    membership=membership,
                    reason=form.cleaned_data["reason"],
                    amount=form.cleaned_data["amount"],
                    actor=Actor.staff(request.user),
                )
            except ServiceError as exc:
                self.message_user(request, service_error_message(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Refunded %(amount)s %(currency)s; the membership has ended.")
                    % {"amount": -refund.amount, "currency": refund.currency},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(back_url)
        quote = services.membership_refund_quote(membership=membership, now=timezone.now())
        rule_says = (
            f"{quote.amount} {membership.plan.currency}" if quote.amount > 0 else quote.message()
        )
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Refund membership %(id)s") % {"id": membership.pk},
            intro=_(
                "Refunds the latest paid period and ends the membership at once. The money goes "
                "back through the shop's payment provider; this records it."
            ),
            summary=[
                (gettext("Member"), membership.member),
                (gettext("Plan"), membership.plan),
                (gettext("Status"), membership.get_status_display()),
                (gettext("The refund rule gives"), rule_says),
            ],
            submit_label=_("Refund"),
            back_url=back_url,
            back_label=str(membership),
            danger=True,
        )


# --- the member's page ---------------------------------------------------------------------


def memberships_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    """The member's paid memberships, latest first (1 query)."""
    if not request.user.has_perm("memberships.view_membership"):
        return None
    rows = list(
        Membership.objects.filter(member=member)
        .select_related("plan")
        .order_by("-started_at", "-pk")[: MEMBER_MEMBERSHIPS_SHOWN + 1]
    )
    return MemberPanel(
        title=_("Paid membership"),
        template="admin/memberships/member/memberships.html",
        context={
            "rows": [
                {"membership": m, "url": _membership_url(m.pk)}
                for m in rows[:MEMBER_MEMBERSHIPS_SHOWN]
            ],
            "has_more": len(rows) > MEMBER_MEMBERSHIPS_SHOWN,
            "list_url": f"{reverse('admin:memberships_membership_changelist')}"
            f"?member__id__exact={member.pk}",
        },
    )


if memberships_section not in LoyaltyMemberAdmin.loyalty_sections:
    LoyaltyMemberAdmin.loyalty_sections.append(memberships_section)
