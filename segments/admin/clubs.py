"""Clubs in the admin: Marketing defines them (code, name, perks, optional join rules) through
`club_save`; the members of a club are listed read-only (members join and leave through the
API's `PUT` / `DELETE /api/v1/members/{id}/clubs/{code}`)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from config.admin_tools import DeclaredFiltersOnly
from members.actors import Actor
from segments.conditions import conditions_validate
from segments.models import Club, ClubMembership
from segments.services.clubs import club_save


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
    def members(self, club: Club) -> int:
        return club.member_count

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


@admin.register(ClubMembership)
class ClubMembershipAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    list_display = ("club", "member", "joined_at")
    list_filter = ("club", "joined_at")
    search_fields = ("member__external_id",)
    list_select_related = ("club", "member")
    raw_id_fields = ("member", "club")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
