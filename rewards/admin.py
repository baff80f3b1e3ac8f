"""Admin of the reward catalogue (Marketing) and of redemptions (read-only; cancel for service).

- Rewards: the list shows the stock left and the redemptions of the last 30 days, annotated in
  `get_queryset` (one query for the page, not one per row). Adding, changing and deleting call
  `rewards.services` (`reward_create`, `reward_update`, `reward_delete`), which audit every change;
  stock changes only through the "Stock…" view (`reward_stock_adjust` / `reward_stock_set`, with a
  reason, recorded as a stock movement). A reward that was ever redeemed cannot be deleted: it is
  switched off instead.
- Redemptions and stock movements are read-only for everyone. Users with
  `rewards.cancel_redemption` (Customer service, Supervisor) get a "Cancel…" view on an issued
  redemption, with a reason: `redemption_cancel` gives the points and the stock back, once.
  Users with `rewards.export_redemption` (Operator) may export the (filtered) list to CSV or
  XLSX (`members.exports.ExportAdminMixin`), every cell escaped against spreadsheet formulas.
- The member's page gets a "Redemptions" block (the latest ones, with "Cancel…" links) through
  the section list `loyalty.admin.members.LoyaltyMemberAdmin.loyalty_sections`.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import column, denied, service_error_message
from config.errors import ServiceError
from loyalty.admin.base import ReadOnlyAdmin, action_page, member_link
from loyalty.admin.members import LoyaltyMemberAdmin
from members.actors import Actor
from members.admin import MemberPanel
from members.exports import ExportAdminMixin
from members.models import Member
from rewards import services
from rewards.forms import CancelRedemptionForm, RewardForm, StockForm
from rewards.models import Redemption, RedemptionStatus, Reward, StockMovement
from rewards.resources import RedemptionResource
from rewards.selectors import redemptions_for_member
from rewards.services.catalogue import EDITABLE_FIELDS

PERM_CANCEL = "rewards.cancel_redemption"
RECENT_WINDOW = dt.timedelta(days=30)
STOCK_MOVEMENTS_SHOWN = 20
MEMBER_REDEMPTIONS_SHOWN = 10


def _reward_url(reward_id: int) -> str:
    return reverse("admin:rewards_reward_change", args=[reward_id])


def _redemption_url(redemption_id) -> str:
    return reverse("admin:rewards_redemption_change", args=[redemption_id])


def _cancel_url(redemption_id) -> str:
    return reverse("admin:rewards_redemption_cancel", args=[redemption_id])


class _ServiceErrorsAsMessages:
    """Form validation catches the usual errors; a service error left is shown, never a 500."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:
            self.message_user(request, service_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as exc:
            self.message_user(request, service_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(_reward_url(unquote(object_id)))


@admin.register(Reward)
class RewardAdmin(_ServiceErrorsAsMessages, admin.ModelAdmin):
    form = RewardForm
    change_form_template = "admin/rewards/reward/change_form.html"
    list_display = (
        "code",
        "name",
        "kind",
        "points_cost",
        "value",
        "stock_left",
        "redeemed_30_days",
        "min_tier",
        "window_column",
    )
    list_filter = ("is_active", "kind", "min_tier")
    search_fields = ("code", "name", "sku")
    list_select_related = ("min_tier",)
    ordering = ("code",)
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "kind", "is_active")}),
        (_("What it costs and gives"), {"fields": ("points_cost", "value", "sku")}),
        (
            _("Points as discount"),
            {"fields": ("min_points", "min_share", "max_share")},
        ),
        (
            _("Who and when"),
            {
                "fields": (
                    "min_tier",
                    "segment",
                    "category",
                    "per_member_limit",
                    "active_from",
                    "active_to",
                    "coupon_valid_days",
                )
            },
        ),
        (_("Stock"), {"fields": ("stock", "stock_history")}),
    )

    def get_queryset(self, request):
        since = timezone.now() - RECENT_WINDOW
        return (
            super()
            .get_queryset(request)
            .annotate(
                recent_redemptions=Count(
                    "redemptions",
                    filter=Q(redemptions__created_at__gte=since)
                    & ~Q(redemptions__status=RedemptionStatus.CANCELLED),
                )
            )
        )

    @admin.display(description=_("available"), ordering="is_active")
    def window_column(self, reward: Reward) -> str:
        if not reward.is_active:
            return _("switched off")
        if reward.active_from is None and reward.active_to is None:
            return _("always")
        start = date_format(timezone.localtime(reward.active_from)) if reward.active_from else ""
        end = date_format(timezone.localtime(reward.active_to)) if reward.active_to else ""
        return f"{start} – {end}".strip()

    @admin.display(description=_("stock left"), ordering="stock")
    def stock_left(self, reward: Reward) -> str:
        return gettext("unlimited") if reward.stock is None else str(reward.stock)

    @admin.display(description=_("redeemed (30 days)"), ordering="recent_redemptions")
    def redeemed_30_days(self, reward: Reward) -> int:
        return reward.recent_redemptions

    @admin.display(description=_("recent stock movements"))
    def stock_history(self, reward: Reward) -> str:
        if reward.pk is None:
            return "-"
        rows = list(
            StockMovement.objects.filter(reward=reward).order_by("-at", "-id")[
                :STOCK_MOVEMENTS_SHOWN
            ]
        )
        if not rows:
            return gettext("No stock movements.")
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            gettext("When"),
            gettext("Change"),
            gettext("Stock after"),
            gettext("Who"),
            gettext("Why"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        f"{m.at:%Y-%m-%d %H:%M}",
                        f"{m.delta:+d}",
                        "unlimited" if m.stock_after is None else m.stock_after,
                        m.actor_label,
                        m.reason,
                    )
                    for m in rows
                ),
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        # Stock is set when the reward is added; afterwards it moves only through "Stock…". The
        # code is the storefront's and the config file's key: it never changes.
        return ("stock_history",) if obj is None else ("code", "stock", "stock_history")

    def save_model(self, request, obj, form, change):
        actor = Actor.staff(request.user)
        if not change:
            fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
            saved = services.reward_create(
                code=form.cleaned_data["code"],
                stock=form.cleaned_data.get("stock"),
                actor=actor,
                **fields,
            )
            obj.pk = saved.pk
            obj._state.adding = False
            return
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS
        }
        services.reward_update(reward=Reward.objects.get(pk=obj.pk), actor=actor, **changes)
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.reward_delete(reward=obj, actor=Actor.staff(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.staff(request.user)
        for reward in queryset:
            try:
                services.reward_delete(reward=reward, actor=actor)
            except ServiceError as exc:
                self.message_user(request, service_error_message(exc), messages.ERROR)

    # --- stock (Marketing: change_reward) --------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/stock/",
                self.admin_site.admin_view(self.stock_view),
                name="rewards_reward_stock",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_change_permission(request):
            extra_context["stock_url"] = reverse(
                "admin:rewards_reward_stock", args=[unquote(object_id)]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def stock_view(self, request, object_id):
        if not self.has_change_permission(request):
            raise denied("rewards.change_reward")
        reward = self.get_object(request, unquote(object_id))
        if reward is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back_url = _reward_url(reward.pk)
        form = StockForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data, actor = form.cleaned_data, Actor.staff(request.user)
            try:
                if data["action"] == StockForm.ADJUST:
                    services.reward_stock_adjust(
                        reward=reward, delta=data["amount"], reason=data["reason"], actor=actor
                    )
                else:
                    services.reward_stock_set(
                        reward=reward,
                        stock=data["amount"] if data["action"] == StockForm.SET else None,
                        reason=data["reason"],
                        actor=actor,
                    )
            except ServiceError as exc:
                self.message_user(request, service_error_message(exc), messages.ERROR)
            else:
                left = gettext("unlimited") if reward.stock is None else reward.stock
                self.message_user(
                    request,
                    gettext("Stock of %(reward)s is now %(left)s.")
                    % {"reward": reward.code, "left": left},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(back_url)
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Stock of %(reward)s") % {"reward": reward.code},
            intro=(
                _(
                    "Every change is recorded with who made it and why. Stock never goes below "
                    "zero; coupons already issued are not affected."
                )
            ),
            summary=[
                (gettext("Reward"), reward),
                (
                    gettext("Stock left"),
                    gettext("unlimited") if reward.stock is None else reward.stock,
                ),
            ],
            submit_label=_("Change stock"),
            back_url=back_url,
            back_label=str(reward),
        )


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = (
        column("at", _("when")),
        "reward",
        "kind",
        column("delta", _("change")),
        "stock_after",
        column("actor_label", _("by"), sortable=False),
        "reason",
    )
    list_filter = ("kind", "at")
    search_fields = ("reward__code",)
    list_select_related = ("reward",)
    raw_id_fields = ("reward", "redemption", "actor_user", "actor_api_key")
    ordering = ("-at", "-id")


@admin.register(Redemption)
class RedemptionAdmin(ExportAdminMixin, ReadOnlyAdmin):
    # Export (CSV, XLSX; formulas escaped) for holders of `rewards.export_redemption` (Operator).
    change_form_template = "admin/rewards/redemption/change_form.html"
    resource_classes = [RedemptionResource]
    list_display = (
        "coupon_code",
        "member_column",
        "reward",
        "status",
        "points_spent",
        "value",
        "created_at",
        "expires_at",
        "used_order_id",
        "gift_cause",
    )
    list_filter = ("status", "kind", "created_at")
    search_fields = ("coupon_code",)  # the search itself is `get_search_results`
    search_help_text = _("Exact match: a coupon code, a member's external id, or an order id.")
    list_select_related = ("member", "reward")
    raw_id_fields = (
        "member",
        "reward",
        "spend_posting",
        "return_posting",
        "actor_user",
        "actor_api_key",
    )
    ordering = ("-created_at",)
    sortable_by = ("created_at", "expires_at")
    fieldsets = (
        (None, {"fields": ("coupon_code", "status", "member", "reward", "kind", "sku")}),
        (_("Value"), {"fields": ("points_spent", "value", "currency", "order_total")}),
        (
            _("Lifecycle"),
            {
                "fields": (
                    "created_at",
                    "expires_at",
                    "used_at",
                    "used_order_id",
                    "cancelled_at",
                    "cancel_reason",
                    "expired_at",
                )
            },
        ),
        (_("Ledger"), {"fields": ("spend_posting", "return_posting", "gift_cause")}),
        (_("Who"), {"fields": ("actor_kind", "actor_label")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    @admin.display(description=_("member"), ordering="member_id")
    def member_column(self, redemption: Redemption) -> str:
        return member_link(redemption.member_id, redemption.member.external_id)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return (
            queryset.filter(
                Q(coupon_code=term.upper())
                | Q(member__in=Member.objects.filter(external_id=term).values("pk"))
                | Q(used_order_id=term)
            ),
            False,
        )

    # --- cancel (Customer service, Supervisor) ---------------------------------------------

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm(PERM_CANCEL)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="rewards_redemption_cancel",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        redemption = self.get_object(request, unquote(object_id))
        if (
            redemption is not None
            and redemption.status == RedemptionStatus.ISSUED
            and self.has_cancel_permission(request)
        ):
            extra_context["cancel_url"] = _cancel_url(redemption.pk)
        return super().change_view(request, object_id, form_url, extra_context)

    def cancel_view(self, request, object_id):
        if not self.has_cancel_permission(request):
            raise denied(PERM_CANCEL)
        redemption = self.get_object(request, unquote(object_id))
        if redemption is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back_url = _redemption_url(redemption.pk)
        form = CancelRedemptionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.redemption_cancel(
                    redemption=redemption,
                    reason=form.cleaned_data["reason"],
                    actor=Actor.staff(request.user),
                )
            except ServiceError as exc:
                self.message_user(request, service_error_message(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "Coupon %(coupon)s cancelled: %(points)s points returned to %(member)s."
                    )
                    % {
                        "coupon": redemption.coupon_code,
                        "points": redemption.points_spent,
                        "member": redemption.member.external_id,
                    },
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(back_url)
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Cancel coupon %(coupon)s") % {"coupon": redemption.coupon_code},
            intro=(
                _(
                    "The member gets the points back (with the expiry they had) and the reward its "
                    "unit of stock. A used, cancelled or expired coupon cannot be cancelled."
                )
            ),
            summary=[
                (gettext("Member"), redemption.member),
                (gettext("Reward"), redemption.reward),
                (gettext("Points"), redemption.points_spent),
                (gettext("Status"), redemption.get_status_display()),
                (
                    gettext("Issued"),
                    gettext("%(when)s by %(requester)s")
                    % {
                        "when": f"{redemption.created_at:%Y-%m-%d %H:%M}",
                        "requester": redemption.actor_label,
                    },
                ),
                (gettext("Expires"), f"{redemption.expires_at:%Y-%m-%d %H:%M}"),
            ],
            submit_label=_("Cancel coupon"),
            back_url=back_url,
            back_label=redemption.coupon_code,
            danger=True,
        )


# --- the member's page ---------------------------------------------------------------------


def redemptions_section(request: HttpRequest, member: Member) -> MemberPanel | None:
    """The member's latest redemptions, with "Cancel…" for issued ones (1 query)."""
    if not request.user.has_perm("rewards.view_redemption"):
        return None
    rows = list(redemptions_for_member(member_id=member.pk)[: MEMBER_REDEMPTIONS_SHOWN + 1])
    can_cancel = request.user.has_perm(PERM_CANCEL)
    now = timezone.now()
    return MemberPanel(
        title=_("Redemptions"),
        template="admin/rewards/member/redemptions.html",
        context={
            "rows": [
                {
                    "redemption": r,
                    "url": _redemption_url(r.pk),
                    "cancel_url": _cancel_url(r.pk)
                    if can_cancel and r.status == RedemptionStatus.ISSUED and r.expires_at > now
                    else None,
                }
                for r in rows[:MEMBER_REDEMPTIONS_SHOWN]
            ],
            "has_more": len(rows) > MEMBER_REDEMPTIONS_SHOWN,
            "list_url": f"{reverse('admin:rewards_redemption_changelist')}"
            f"?member__id__exact={member.pk}",
        },
    )


if redemptions_section not in LoyaltyMemberAdmin.loyalty_sections:
    LoyaltyMemberAdmin.loyalty_sections.append(redemptions_section)

# The member page's "Suggested rewards" panel (`rewards.admin_suggestions`) and which reward a
# "birthday gift" perk gives (`rewards.admin_gifts`).
from rewards import admin_gifts, admin_suggestions  # noqa: E402, F401
