"""Admin for the birthday gifts: which reward a "birthday gift" perk gives (Marketing; audited
through `rewards.services.perk_gifts`). Read by everyone who reads the catalogue."""

from __future__ import annotations

from django.contrib import admin

from members.actors import Actor
from rewards.models import PerkGift
from rewards.services.perk_gifts import perk_gift_delete, perk_gift_save


@admin.register(PerkGift)
class PerkGiftAdmin(admin.ModelAdmin):
    list_display = ("perk", "reward", "created_at")
    list_filter = ("reward",)
    search_fields = ("perk__code", "perk__name", "reward__code", "reward__name")
    list_select_related = ("perk", "reward")
    autocomplete_fields = ("reward",)
    fields = ("perk", "reward")
    actions = None  # no bulk delete: each deletion is audited

    def save_model(self, request, obj, form, change):
        saved = perk_gift_save(
            actor=Actor.staff(request.user),
            perk=form.cleaned_data["perk"],
            reward=form.cleaned_data["reward"],
            perk_gift=PerkGift.objects.get(pk=obj.pk) if change else None,
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        perk_gift_delete(actor=Actor.staff(request.user), perk_gift=obj)
