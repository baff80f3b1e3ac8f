"""Read-only admin of the ledger (postings, lots, debts, accounts) and of orders and refunds.

Nobody adds, changes or deletes these rows through the admin, superusers included
(`ReadOnlyAdmin`): postings are append-only, lots, debts and balances follow from them, and orders
and refunds come from the storefront or the import. The one staff operation here is reversing a
posting (Supervisors, `loyalty.reverse_posting`): a custom view from the posting's page that calls
`loyalty.services.points.posting_reverse`; its errors come back as admin messages, never a 500.

The tables are big: lists use the planner's estimate instead of counting (`show_full_result_count`
off, `EstimatedCountPaginator`), join what they show (`list_select_related`), sort by indexed
columns only, and search with exact, indexed lookups (a member's external id, an idempotency key,
an order id, a posting number) instead of `LIKE '%…%'` scans.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import IdColumn, column, denied, service_error_message
from config.errors import ServiceError
from loyalty.admin.base import ReadOnlyAdmin, action_page, member_link
from loyalty.exports import PostingResource
from loyalty.forms import ReversePostingForm
from loyalty.models import Account, Debt, Lot, Order, Posting, Refund
from loyalty.models.ledger import PostingKind
from loyalty.services.points import posting_reverse
from members.actors import Actor
from members.exports import ExportAdminMixin
from members.models import Member

PERM_REVERSE = "loyalty.reverse_posting"
NOT_REVERSIBLE_KINDS = (PostingKind.REVERSAL, PostingKind.EXPIRE)
ALLOCATIONS_SHOWN = 20


def _members_with_external_id(term: str):
    return Member.objects.filter(external_id=term).values("pk")


def _posting_url(posting_id: int) -> str:
    return reverse("admin:loyalty_posting_change", args=[posting_id])


def _order_url(order_pk: int) -> str:
    return reverse("admin:loyalty_order_change", args=[order_pk])


class _MemberColumn:
    @admin.display(description=_("member"), ordering="member_id")
    def member_column(self, obj) -> str:
        return member_link(obj.member_id, obj.member.external_id)


@admin.register(Posting)
class PostingAdmin(IdColumn, ExportAdminMixin, _MemberColumn, ReadOnlyAdmin):
    # Export (CSV, XLSX; formulas escaped) for holders of `loyalty.export_posting` (Operator).
    resource_classes = [PostingResource]
    change_form_template = "admin/loyalty/posting/change_form.html"
    list_display = (
        "number",
        "member_column",
        "kind",
        "points",
        column("effective_at", _("counts from"), sortable=False),
        column("created_at", _("posted")),
        column("actor_label", _("by"), sortable=False),
        "reason",
        "order_column",
    )
    list_display_links = ("number",)
    list_filter = ("kind", "actor_kind", "created_at")
    search_fields = ("idempotency_key",)  # the search itself is `get_search_results`
    search_help_text = _(
        "Exact match: a member's external id, an idempotency key, a storefront order id, "
        "or a posting number."
    )
    list_select_related = ("member", "order")
    raw_id_fields = ("member", "order", "refund", "reverses", "actor_user", "actor_api_key")
    ordering = ("-id",)
    sortable_by = ("number", "created_at")
    fieldsets = (
        (None, {"fields": ("member", "kind", "points", "description", "reason")}),
        (_("When"), {"fields": ("effective_at", "created_at", "available_at", "expires_at")}),
        (_("Who"), {"fields": ("actor_kind", "actor_label")}),
        (
            _("Where from"),
            {
                "fields": (
                    "order",
                    "refund",
                    "source_type",
                    "source_id",
                    "campaign_code",
                    "reward_code",
                    "idempotency_key",
                )
            },
        ),
        (_("Reversal"), {"fields": ("reverses", "reversed_by_link")}),
        (_("Lots"), {"fields": ("lot_state", "allocations_list")}),
    )
    readonly_fields = (
        "member",
        "kind",
        "points",
        "description",
        "reason",
        "effective_at",
        "created_at",
        "available_at",
        "expires_at",
        "actor_kind",
        "actor_label",
        "order",
        "refund",
        "source_type",
        "source_id",
        "campaign_code",
        "reward_code",
        "idempotency_key",
        "reverses",
        "reversed_by_link",
        "lot_state",
        "allocations_list",
    )

    @admin.display(description=_("order"))
    def order_column(self, posting: Posting) -> str:
        if posting.order_id is None:
            return "-"
        return format_html('<a href="{}">{}</a>', _order_url(posting.order_id), posting.order)

    @admin.display(description=_("reversed by"))
    def reversed_by_link(self, posting: Posting) -> str:
        try:
            reversal = posting.reversed_by
        except ObjectDoesNotExist:
            return "-"
        return format_html(
            '<a href="{}">#{}</a> ({}, {})',
            _posting_url(reversal.pk),
            reversal.pk,
            reversal.actor_label,
            reversal.reason,
        )

    @admin.display(description=_("lot (what is left of this credit)"))
    def lot_state(self, posting: Posting) -> str:
        try:
            lot = posting.lot
        except ObjectDoesNotExist:
            return "-"
        values = {"remaining": lot.remaining, "points": lot.points}
        if lot.expires_at:
            values["expires"] = f"{lot.expires_at:%Y-%m-%d %H:%M}"
            text = (
                gettext("%(remaining)s of %(points)s left, available, expires %(expires)s")
                if lot.matured
                else gettext("%(remaining)s of %(points)s left, pending, expires %(expires)s")
            )
        else:
            text = (
                gettext("%(remaining)s of %(points)s left, available")
                if lot.matured
                else gettext("%(remaining)s of %(points)s left, pending")
            )
        return text % values

    @admin.display(description=_("taken from lots"))
    def allocations_list(self, posting: Posting) -> str:
        allocations = list(
            posting.allocations.order_by("id").values_list("lot_id", "points")[:ALLOCATIONS_SHOWN]
        )
        if not allocations:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li>{} <a href="{}">{}</a></li>',
                (
                    (
                        gettext("%(points)s from") % {"points": points},
                        _posting_url(lot_id),
                        gettext("posting #%(number)s") % {"number": lot_id},
                    )
                    for lot_id, points in allocations
                ),
            ),
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = (
            Q(member__in=_members_with_external_id(term))
            | Q(idempotency_key=term)
            | Q(order__in=Order.objects.filter(order_id=term).values("pk"))
        )
        number = term.removeprefix("#")
        if number.isdigit() and len(number) < 19:
            condition |= Q(pk=int(number))
        return queryset.filter(condition), False

    # --- reversing (Supervisors) -----------------------------------------------------------

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm(PERM_REVERSE)

    @staticmethod
    def is_reversible(posting: Posting) -> bool:
        return (
            posting.kind not in NOT_REVERSIBLE_KINDS
            and not Posting.objects.filter(reverses=posting).exists()
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/reverse/",
                self.admin_site.admin_view(self.reverse_view),
                name="loyalty_posting_reverse",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        posting = self.get_object(request, unquote(object_id))
        if (
            posting is not None
            and self.has_reverse_permission(request)
            and self.is_reversible(posting)
        ):
            extra_context["reverse_url"] = reverse(
                "admin:loyalty_posting_reverse", args=[posting.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def reverse_view(self, request, object_id):
        if not (self.has_reverse_permission(request) and self.has_view_permission(request)):
            raise denied(PERM_REVERSE)
        posting = self.get_object(request, unquote(object_id))
        if posting is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back_url = _posting_url(posting.pk)
        form = ReversePostingForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                reversal = posting_reverse(
                    posting=posting,
                    reason=form.cleaned_data["reason"],
                    actor=Actor.staff(request.user),
                )
            except ServiceError as exc:
                self.message_user(request, service_error_message(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "Posting #%(posting)s reversed by posting #%(reversal)s "
                        "(%(points)s points)."
                    )
                    % {
                        "posting": posting.pk,
                        "reversal": reversal.pk,
                        "points": f"{reversal.points:+d}",
                    },
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(back_url)
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Reverse posting #%(number)s") % {"number": posting.pk},
            intro=(
                _(
                    "A reversal is a new posting of the opposite amount; the original stays. "
                    "A credit is taken back from what is left of its own points first, then from "
                    "the member's other available points."
                )
            ),
            summary=[
                (gettext("Member"), posting.member),
                (gettext("Kind"), posting.get_kind_display()),
                (gettext("Points"), f"{posting.points:+d}"),
                (
                    gettext("Posted"),
                    gettext("%(when)s by %(requester)s")
                    % {
                        "when": f"{posting.created_at:%Y-%m-%d %H:%M}",
                        "requester": posting.actor_label,
                    },
                ),
                (gettext("Reason"), posting.reason or posting.description),
            ],
            back_url=back_url,
            back_label=gettext("Posting #%(number)s") % {"number": posting.pk},
            danger=True,
        )


@admin.register(Lot)
class LotAdmin(_MemberColumn, ReadOnlyAdmin):
    list_display = (
        "posting_column",
        "member_column",
        "points",
        "remaining",
        "matured",
        "available_at",
        "expires_at",
    )
    list_filter = ("matured", "expires_at", "available_at")
    search_fields = ("member__external_id",)
    search_help_text = _("Exact match: a member's external id, or a posting number.")
    list_select_related = ("member",)
    raw_id_fields = ("posting", "member")
    ordering = ("-posting_id",)
    sortable_by = ("posting_column", "expires_at", "available_at")

    @admin.display(description=_("posting"), ordering="posting_id")
    def posting_column(self, lot: Lot) -> str:
        return str(lot.posting_id)  # an id, not an amount: no thousands separator

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().removeprefix("#")
        if not term:
            return queryset, False
        condition = Q(member__in=_members_with_external_id(term))
        if term.isdigit() and len(term) < 19:
            condition |= Q(pk=int(term))
        return queryset.filter(condition), False


class OpenDebtFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("settled", _("Settled"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(remaining__gt=0)
        if self.value() == "settled":
            return queryset.filter(remaining=0)
        return queryset


@admin.register(Debt)
class DebtAdmin(_MemberColumn, ReadOnlyAdmin):
    list_display = ("posting_id", "member_column", "points", "remaining")
    list_filter = (OpenDebtFilter,)
    search_fields = ("member__external_id",)
    search_help_text = _("Exact match: a member's external id.")
    list_select_related = ("member",)
    raw_id_fields = ("posting", "member")
    ordering = ("-posting_id",)
    sortable_by = ("posting_id",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member__in=_members_with_external_id(term)), False


class BalanceFilter(admin.SimpleListFilter):
    title = _("available balance")
    parameter_name = "balance"

    def lookups(self, request, model_admin):
        return [
            ("negative", _("Negative (owes points)")),
            ("zero", _("Zero")),
            ("positive", _("Positive")),
        ]

    def queryset(self, request, queryset):
        lookups = {
            "negative": Q(available__lt=0),
            "zero": Q(available=0),
            "positive": Q(available__gt=0),
        }
        condition = lookups.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


@admin.register(Account)
class AccountAdmin(_MemberColumn, ReadOnlyAdmin):
    list_display = ("member_column", "available", "pending", "lifetime_earned", "updated_at")
    list_filter = (BalanceFilter,)
    search_fields = ("member__external_id",)
    search_help_text = _("Exact match: a member's external id.")
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    ordering = ("-member_id",)
    sortable_by = ("member_id",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member__in=_members_with_external_id(term)), False


class RefundInline(admin.TabularInline):
    model = Refund
    fields = ("refund_id", "amount", "refunded_at", "points_reversed", "shortfall")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(_MemberColumn, ReadOnlyAdmin):
    list_display = (
        "order_id",
        "member_column",
        column("placed_at", _("placed")),
        "total_column",
        column("eligible_amount", _("eligible")),
        column("refunded_amount", _("refunded")),
        "points_earned_column",
        "points_reversed",
        "source",
    )
    list_filter = ("source", "currency", "placed_at")
    search_fields = ("order_id",)
    search_help_text = _("Exact match: a storefront order id or a member's external id.")
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    ordering = ("-placed_at", "-id")
    sortable_by = ("placed_at",)
    inlines = (RefundInline,)
    exclude = ("fingerprint",)

    @admin.display(description=_("points earned"))
    def points_earned_column(self, order: Order) -> int:
        return order.points_earned

    @admin.display(description=_("total"))
    def total_column(self, order: Order) -> str:
        return f"{number_format(order.total, 2, force_grouping=True)} {order.currency}"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.opts.fields if f.name != "fingerprint"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(order_id=term) | Q(member__in=_members_with_external_id(term))
        return queryset.filter(condition), False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = (
        "refund_id",
        "order_column",
        "member_column",
        "amount",
        "refunded_at",
        "points_reversed",
        "shortfall",
    )
    list_filter = ("refunded_at",)
    search_fields = ("refund_id",)
    search_help_text = _("Exact match: a refund id or its storefront order id.")
    list_select_related = ("order__member",)
    raw_id_fields = ("order",)
    ordering = ("-refunded_at", "-id")
    sortable_by = ("refunded_at",)
    exclude = ("fingerprint",)

    @admin.display(description=_("order"))
    def order_column(self, refund: Refund) -> str:
        return format_html('<a href="{}">{}</a>', _order_url(refund.order_id), refund.order)

    @admin.display(description=_("member"))
    def member_column(self, refund: Refund) -> str:
        return member_link(refund.order.member_id, refund.order.member.external_id)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.opts.fields if f.name != "fingerprint"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(refund_id=term) | Q(
            order__in=Order.objects.filter(order_id=term).values("pk")
        )
        return queryset.filter(condition), False
