"""Admin of tiers and perks (Marketing), members' tier states, the tier history and overrides.

- Tiers are listed by rank with their perks (chosen with `filter_horizontal`); perks have their
  own list. Saving and deleting go through `loyalty.services.tier_config` (audited); the form
  checks the ladder rules first, so a bad edit shows on its field.
- **What-if before publishing**: adding a tier, or changing a tier's threshold, multiplier or
  rank, first shows what the change would do on today's data (`tier_what_if`: members per tier
  before and after, moves up and down, the yearly points cost of tier bonuses) and saves only
  when the user confirms on that page.
- Roles: Marketing adds, changes and deletes tiers and perks; Customer service, Supervisor and
  Operator see them read-only (their groups hold only the `view_` permissions).
- Member tier states and the history are read-only lists. A staff override is a custom view
  (`admin:loyalty_membertier_override`, `<member id>/override/`) calling `tier_override`; the
  member's page shows a "Tier" block (progress bar, the member's explanation, recent changes)
  with links to it, for users holding `loyalty.override_tier`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import column, denied, service_error_message
from config.errors import ServiceError
from loyalty.admin.base import ReadOnlyAdmin, action_page, member_change_url, member_link
from loyalty.admin.members import LoyaltyMemberAdmin
from loyalty.models import MemberTier, Perk, Tier, TierChange
from loyalty.models.program import TierMetric
from loyalty.selectors.tier_whatif import LadderTier, ladder_with, tier_what_if
from loyalty.selectors.tiers import member_tier_summary
from loyalty.services.tier_config import (
    perk_delete,
    perk_save,
    tier_delete,
    tier_save,
    tier_validate,
)
from loyalty.services.tiers import tier_override, tier_override_end
from members.actors import Actor
from members.admin import MemberPanel
from members.models import Member

PERM_OVERRIDE = "loyalty.override_tier"
WHAT_IF_FIELDS = {"threshold", "multiplier", "rank"}
RECENT_CHANGES = 5


def _errors_to_form(form: forms.Form, exc: ServiceError) -> None:
    for error in exc.errors or [{"field": None, "message": exc.message}]:
        field = error.get("field")
        form.add_error(field if field in form.fields else None, error["message"])


class _ServiceErrorsAsMessages:
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
            return HttpResponseRedirect(request.get_full_path())


# --- perks -----------------------------------------------------------------------------------


class PerkForm(forms.ModelForm):
    class Meta:
        model = Perk
        fields = ("code", "name", "kind", "value", "description")

    def clean(self):
        data = super().clean()
        if data.get("kind") == Perk.Kind.DISCOUNT_PERCENT and not (
            data.get("value") is not None and 0 < data["value"] <= 100
        ):
            self.add_error("value", gettext("A percentage above 0 and at most 100."))
        return data


@admin.register(Perk)
class PerkAdmin(_ServiceErrorsAsMessages, admin.ModelAdmin):
    form = PerkForm
    list_display = ("name", "code", "kind", "value", "granted_by")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    list_select_related = False
    ordering = ("name",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("tiers", queryset=Tier.objects.order_by("rank")))
        )

    @admin.display(description=_("Granted by"))
    def granted_by(self, perk: Perk) -> str:
        return ", ".join(t.name for t in perk.tiers.all()) or "—"

    def save_model(self, request, obj, form, change):
        saved = perk_save(
            actor=Actor.staff(request.user),
            perk=Perk.objects.get(pk=obj.pk) if change else None,
            **{name: form.cleaned_data[name] for name in PerkForm.Meta.fields},
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        perk_delete(perk=obj, actor=Actor.staff(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.staff(request.user)
        for perk in queryset:
            perk_delete(perk=perk, actor=actor)


# --- tiers -----------------------------------------------------------------------------------


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ("code", "name", "rank", "threshold", "multiplier", "perks", "description")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        saved = Tier.objects.get(pk=self.instance.pk) if self.instance.pk else None
        try:
            tier_validate(tier=saved, data={k: data.get(k) for k in self.Meta.fields})
        except ServiceError as exc:
            _errors_to_form(self, exc)
        return data


@admin.register(Tier)
class TierAdmin(_ServiceErrorsAsMessages, admin.ModelAdmin):
    form = TierForm
    list_display = ("rank", "name", "code", "threshold", "multiplier", "perk_list")
    list_display_links = ("name",)
    list_filter = ("perks",)
    search_fields = ("code", "name")
    list_select_related = False
    ordering = ("rank",)
    filter_horizontal = ("perks",)
    fieldsets = (
        (None, {"fields": ("name", "code", "rank", "description")}),
        (
            _("Qualification and earning"),
            {
                "fields": ("threshold", "multiplier"),
                "description": _(
                    "Changing these (or the rank) first shows what the change would do on "
                    "today's data; nothing is saved until you confirm."
                ),
            },
        ),
        (_("Perks"), {"fields": ("perks",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("perks")

    @admin.display(description=_("Perks"))
    def perk_list(self, tier: Tier) -> str:
        return ", ".join(p.name for p in tier.perks.all()) or "—"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_whatif_confirmed" not in request.POST:
            response = self._what_if_page(request, object_id)
            if response is not None:
                return response
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _what_if_page(self, request, object_id):
        """The what-if page for a valid edit of threshold, multiplier or rank; else None."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and obj is None:
            return None
        allowed = (
            self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        )
        if not allowed:
            return None  # the normal view refuses it
        form_class = self.get_form(request, obj, change=obj is not None)
        form = form_class(request.POST, request.FILES, instance=obj)
        if not form.is_valid():
            return None  # the normal view shows the errors
        if obj is not None and not WHAT_IF_FIELDS & set(form.changed_data):
            return None
        data = form.cleaned_data
        change = LadderTier(
            tier_id=obj.pk if obj else None,
            code=data["code"],
            name=data["name"],
            rank=data["rank"],
            threshold=data["threshold"],
            multiplier=data["multiplier"],
        )
        result = tier_what_if(proposed=ladder_with(change))
        hidden = [
            (name, value)
            for name, values in request.POST.lists()
            if name != "csrfmiddlewaretoken"
            for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("What publishing %(tier)s would do") % {"tier": data["name"]},
            "tier_name": data["name"],
            "original": obj,
            "adding": obj is None,
            "result": result,
            "hidden": hidden,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/loyalty/tier/whatif.html", context)

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in TierForm.Meta.fields}
        saved = tier_save(
            actor=Actor.staff(request.user),
            tier=Tier.objects.get(pk=obj.pk) if change else None,
            perks=list(fields.pop("perks")),
            **fields,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # `tier_save` set the perks (and audited them); nothing else is related.
        pass

    def delete_model(self, request, obj):
        tier_delete(tier=obj, actor=Actor.staff(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.staff(request.user)
        for tier in queryset.order_by("-rank"):
            tier_delete(tier=tier, actor=actor)


# --- members' tiers, history, overrides ------------------------------------------------------


class TierOverrideForm(forms.Form):
    tier = forms.ModelChoiceField(
        queryset=Tier.objects.order_by("rank"), empty_label=None, label=_("Tier")
    )
    until = forms.DateField(
        help_text=_(
            "Last day of the override (inclusive). The member's earned tier applies again "
            "the day after."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
        label=_("Until"),
    )
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}), label=_("Reason")
    )

    def clean_until(self):
        until = self.cleaned_data["until"]
        if until < timezone.localdate():
            raise forms.ValidationError(gettext("The override must end today or later."))
        return until


class TierOverrideEndForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}), label=_("Reason")
    )


def override_url(member_id: int) -> str:
    return reverse("admin:loyalty_membertier_override", args=[member_id])


@admin.register(MemberTier)
class MemberTierAdmin(ReadOnlyAdmin):
    list_display = (
        "member_col",
        "tier",
        "since",
        "qualified_at",
        "override_tier",
        "override_until",
    )
    list_filter = ("tier", "override_tier")
    search_fields = ("=member__external_id", "=member__email")
    list_select_related = ("member", "tier", "override_tier")
    raw_id_fields = ("member",)
    ordering = ("-since",)

    @admin.display(description=_("Member"), ordering="member_id")
    def member_col(self, row: MemberTier) -> str:
        return member_link(row.member_id, str(row.member))

    def get_urls(self):
        return [
            path(
                "<path:member_id>/override/",
                self.admin_site.admin_view(self.override_view),
                name="loyalty_membertier_override",
            ),
            path(
                "<path:member_id>/override/end/",
                self.admin_site.admin_view(self.override_end_view),
                name="loyalty_membertier_override_end",
            ),
            *super().get_urls(),
        ]

    def _member(self, request, member_id) -> Member:
        if not request.user.has_perm(PERM_OVERRIDE):
            raise denied(PERM_OVERRIDE)
        try:
            member = Member.objects.filter(pk=unquote(member_id)).first()
        except (ValueError, ValidationError):
            raise Http404("No member has this id.") from None  # a malformed id, e.g. "abc"
        if member is None:
            raise Http404("No member has this id.")
        if member.is_erased:
            raise denied(PERM_OVERRIDE)
        return member

    def override_view(self, request, member_id):
        member = self._member(request, member_id)
        current = MemberTier.objects.filter(member=member).select_related("override_tier").first()
        initial = {}
        if current and current.override_tier_id:
            initial = {"tier": current.override_tier, "until": current.override_until}
        form = TierOverrideForm(request.POST if request.method == "POST" else None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                tier_override(
                    member=member,
                    actor=Actor.staff(request.user),
                    **form.cleaned_data,
                )
            except ServiceError as exc:
                _errors_to_form(form, exc)
            else:
                data = form.cleaned_data
                self.message_user(
                    request,
                    gettext("%(member)s holds %(tier)s until %(until)s.")
                    % {
                        "member": member.external_id,
                        "tier": data["tier"].name,
                        "until": f"{data['until']:%Y-%m-%d}",
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(member_change_url(member.pk))
        summary = member_tier_summary(member)["tier"] or {}
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Override the tier of %(member)s") % {"member": member.external_id},
            intro=_(
                "The member holds the chosen tier until the date, whatever they spend; then "
                "their spend decides again. The reason is kept in the tier history and the audit "
                "log."
            ),
            summary=[
                (gettext("Tier now"), summary.get("name", "—")),
                (gettext("Override until"), summary.get("override_until") or "—"),
            ],
            submit_label=_("Override the tier"),
            back_url=member_change_url(member.pk),
            back_label=str(member),
        )

    def override_end_view(self, request, member_id):
        member = self._member(request, member_id)
        form = TierOverrideEndForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            tier_override_end(
                member=member, reason=form.cleaned_data["reason"], actor=Actor.staff(request.user)
            )
            self.message_user(
                request,
                gettext("The override of %(member)s has ended.") % {"member": member.external_id},
            )
            return HttpResponseRedirect(member_change_url(member.pk))
        return action_page(
            self,
            request,
            form=form,
            title=gettext("End the tier override of %(member)s") % {"member": member.external_id},
            intro=_("The member holds the tier their spend has earned again, from now."),
            submit_label=_("End the override"),
            danger=True,
            back_url=member_change_url(member.pk),
            back_label=str(member),
        )


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "member_col",
        "kind",
        "from_tier",
        "to_tier",
        "qualifying_spend",
        "qualifying_value",
        column("actor_label", _("by"), sortable=False),
        "note",
    )
    list_filter = ("kind", "to_tier", "at")
    search_fields = ("=member__external_id",)
    list_select_related = ("member", "from_tier", "to_tier")
    raw_id_fields = ("member",)
    date_hierarchy = "at"

    @admin.display(description=_("Member"), ordering="member_id")
    def member_col(self, change: TierChange) -> str:
        return member_link(change.member_id, str(change.member))


# --- the member's page -----------------------------------------------------------------------


def _progress_shown(progress: dict) -> dict:
    """The progress in the ladder's unit for the page: money for spend, counts otherwise."""
    money = progress["metric"] == TierMetric.SPEND
    suffix = "" if money else "_value"
    label = {
        TierMetric.SPEND: _("Qualifying spend"),
        TierMetric.ORDERS: _("Orders"),
        TierMetric.GROWTH: _("Growth value"),
    }[progress["metric"]]
    figure = progress["qualifying_spend"] if money else progress.get("qualifying_value")
    shown = {
        "figure_label": label,
        "figure": f"{figure} {progress['currency']}" if money else figure,
        "percent": 100,
    }
    if progress["next_tier"]:
        threshold = float(progress["next_tier"]["threshold" + suffix]) or 1.0
        shown["percent"] = min(int(float(figure) * 100 / threshold), 100)
        shown["next_threshold"] = progress["next_tier"]["threshold" + suffix]
        shown["next_remaining"] = progress["next_tier"]["remaining" + suffix]
    if progress["keep_tier"]:
        remaining = progress["keep_tier"]["remaining" + suffix]
        shown["keep_threshold"] = progress["keep_tier"]["threshold" + suffix]
        shown["keep_remaining"] = remaining
        shown["keep_met"] = remaining in ("0.00", 0)
    return shown


def tier_section(request, member: Member) -> MemberPanel | None:
    """The member's tier, progress bar, explanation and latest changes (a fixed few queries)."""
    if not request.user.has_perm("loyalty.view_membertier"):
        return None
    summary = member_tier_summary(member)
    if summary["tier"] is None:
        return None
    progress = summary["progress"]
    shown = _progress_shown(progress)
    changes = list(
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-at", "-id")[:RECENT_CHANGES]
    )
    can_override = request.user.has_perm(PERM_OVERRIDE) and not member.is_erased
    return MemberPanel(
        title=_("Tier"),
        template="admin/loyalty/member/tier.html",
        context={
            **summary,
            **shown,
            "changes": changes,
            "history_url": reverse("admin:loyalty_tierchange_changelist")
            + f"?member__id__exact={member.pk}",
            "override_url": override_url(member.pk) if can_override else None,
            "override_end_url": (
                reverse("admin:loyalty_membertier_override_end", args=[member.pk])
                if can_override and summary["tier"]["override_until"]
                else None
            ),
        },
    )


if tier_section not in LoyaltyMemberAdmin.loyalty_sections:
    LoyaltyMemberAdmin.loyalty_sections.insert(1, tier_section)  # right after the balance
