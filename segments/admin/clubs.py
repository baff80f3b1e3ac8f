"""Clubs in the admin: Marketing defines them (code, name, perks, optional join rules) through
`club_save`. A club's members are listed (the club list's count links to them); staff who may
(Marketing, Customer service, Supervisors) add a member to a club and take one out here, through
`club_join` / `club_leave` like the API's `PUT` / `DELETE /api/v1/members/{id}/clubs/{code}`:
the club's door rules apply, and each change is in the audit trail under the staff user."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.admin_tools import DeclaredFiltersOnly
from members.actors import Actor
from segments.conditions import conditions_validate
from segments.models import Club, ClubMembership
from segments.services.clubs import club_join, club_join_refusal, club_leave, club_save


class ClubForm(forms.ModelForm):
    join_rules = forms.JSONField(
        label=_("join rules"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 90}),
        help_text=_("Optional: a condition tree a member must meet to join (empty: anyone)."),
    )

    class Meta:
        model = Club
        fields = ("code", "name", "description", "perks", "join_rules", "is_active")

    def clean_join_rules(self):
        rules = self.cleaned_data.get("join_rules") or {}
        if not rules:
            return {}
        try:
            return conditions_validate(rules)
        except ValidationError as error:
            raise forms.ValidationError(error.messages[0], code="invalid_condition") from None


@admin.register(Club)
class ClubAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    form = ClubForm
    list_display = ("name", "code", "is_active", "members")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    list_select_related = False
    filter_horizontal = ("perks",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description=_("members"), ordering="member_count")
    def members(self, club: Club) -> str:
        url = reverse("admin:segments_clubmembership_changelist")
        return format_html(
            '<a href="{}?club__id__exact={}">{}</a>', url, club.pk, club.member_count
        )

    def save_model(self, request, obj, form, change):
        """Nothing here: `save_related` saves the club and its perks in one service call."""

    def save_related(self, request, form, formsets, change):
        form.instance = club_save(
            club=form.instance,
            perks=form.cleaned_data.get("perks"),
            actor=Actor.staff(request.user),
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # closed (is_active off), never deleted: memberships point at it


class ClubMembershipForm(forms.ModelForm):
    """Add a member to a club: the club's door (open, rules met) is checked here, so a refusal
    shows beside the form; the service checks again when it writes."""

    class Meta:
        model = ClubMembership
        fields = ("club", "member")

    def clean(self):
        data = super().clean()
        member, club = data.get("member"), data.get("club")
        if member is not None and club is not None:
            if member.is_erased:
                raise forms.ValidationError(_("This member's data has been erased."))
            refusal = club_join_refusal(member=member, club=club)
            if refusal is not None:
                raise forms.ValidationError(refusal.message, code=refusal.code)
        return data


@admin.register(ClubMembership)
class ClubMembershipAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    form = ClubMembershipForm
    list_display = ("club", "member", "joined_at")
    list_filter = ("club", "joined_at")
    search_fields = ("member__external_id",)
    list_select_related = ("club", "member")
    raw_id_fields = ("member", "club")
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a membership is joined or left, never edited

    def save_model(self, request, obj, form, change):
        membership, _ = club_join(member=obj.member, club=obj.club, actor=Actor.staff(request.user))
        obj.pk = membership.pk
        obj.joined_at = membership.joined_at

    def delete_model(self, request, obj):
        club_leave(member=obj.member, club=obj.club, actor=Actor.staff(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.staff(request.user)
        for membership in queryset.select_related("member", "club").order_by("pk"):
            club_leave(member=membership.member, club=membership.club, actor=actor)
