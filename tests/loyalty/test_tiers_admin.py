"""Admin of tiers and perks (with the what-if page), tier states, history and overrides."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.models import MemberTier, Perk, Tier, TierChange
from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR
from tests.loyalty.conftest import T0
from tests.loyalty.staff import client_for, staff_user

DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def _tier_post(tier: Tier, **changes) -> dict:
    data = {
        "code": tier.code,
        "name": tier.name,
        "rank": tier.rank,
        "threshold": str(tier.threshold),
        "multiplier": str(tier.multiplier),
        "perks": [str(p.pk) for p in tier.perks.all()],
        "description": tier.description,
        "_save": "Save",
    }
    data.update(changes)
    return data


def _change_url(tier: Tier) -> str:
    return reverse("admin:loyalty_tier_change", args=[tier.pk])


@pytest.mark.parametrize(
    "name", ["loyalty_tier", "loyalty_perk", "loyalty_membertier", "loyalty_tierchange"]
)
def test_changelists_render(admin_client, ladder, member, record_order, name):
    record_order(member, "O-1", "300.00", placed_at=T0)

    response = admin_client.get(reverse(f"admin:{name}_changelist"))

    assert response.status_code == HTTPStatus.OK


def test_tiers_are_listed_by_rank_with_their_perks(admin_client, ladder):
    response = admin_client.get(reverse("admin:loyalty_tier_changelist"))

    rows = list(response.context["cl"].result_list)
    assert [t.code for t in rows] == ["member", "silver", "gold", "platinum"]
    assert response.context["cl"].model_admin.perk_list(rows[1]) == "Birthday gift, Free shipping"


def test_changing_a_threshold_shows_the_what_if_first_and_saves_on_confirmation(
    admin_client, ladder, make_member, record_order
):
    near = make_member()
    record_order(near, "O-1", "420.00", placed_at=timezone.now() - DAY, now=timezone.now())
    gold = Tier.objects.get(code="gold")
    data = _tier_post(gold, threshold="400.00")

    preview = admin_client.post(_change_url(gold), data)

    assert preview.status_code == HTTPStatus.OK
    assert preview.templates[0].name == "admin/loyalty/tier/whatif.html"
    result = preview.context["result"]
    assert [(r.code, r.members_before, r.members_after) for r in result.rows] == [
        ("member", 0, 0),
        ("silver", 1, 0),
        ("gold", 0, 1),
        ("platinum", 0, 0),
    ]
    assert (result.moves_up, result.cost_before, result.cost_after) == (1, 105, 210)
    assert Tier.objects.get(code="gold").threshold == Decimal("500.00")  # nothing saved yet
    assert ("threshold", "400.00") in preview.context["hidden"]

    confirmed = admin_client.post(_change_url(gold), {**data, "_whatif_confirmed": "1"})

    assert confirmed.status_code == HTTPStatus.FOUND
    assert Tier.objects.get(code="gold").threshold == Decimal("400.00")
    entry = AuditEntry.objects.filter(action="tier.update").latest("id")
    assert entry.changes == {"threshold": ["500.00", "400.00"]}
    assert [p.code for p in Tier.objects.get(code="gold").perks.order_by("code")] == [
        "birthday_gift",
        "early_access",
        "free_shipping",
    ]


def test_a_change_of_name_or_perks_saves_without_a_what_if(admin_client, ladder):
    gold = Tier.objects.get(code="gold")
    vip = Perk.objects.get(code="priority_support")
    perks = [str(p.pk) for p in gold.perks.all()] + [str(vip.pk)]

    response = admin_client.post(_change_url(gold), _tier_post(gold, name="Gold+", perks=perks))

    assert response.status_code == HTTPStatus.FOUND
    gold.refresh_from_db()
    assert (gold.name, gold.perks.count()) == ("Gold+", 4)
    assert AuditEntry.objects.filter(action="tier.update").latest("id").changes == {
        "name": ["Gold", "Gold+"],
        "perks": [
            "birthday_gift, early_access, free_shipping",
            "birthday_gift, early_access, free_shipping, priority_support",
        ],
    }


def test_a_threshold_breaking_the_ladder_is_refused_on_its_field(admin_client, ladder):
    gold = Tier.objects.get(code="gold")

    response = admin_client.post(_change_url(gold), _tier_post(gold, threshold="1000.00"))

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors == {
        "threshold": ["Must be below Platinum's threshold (1000.00)."]
    }
    assert Tier.objects.get(code="gold").threshold == Decimal("500.00")


def test_adding_a_tier_goes_through_the_what_if(admin_client, ladder):
    data = {
        "code": "diamond",
        "name": "Diamond",
        "rank": 4,
        "threshold": "2000.00",
        "multiplier": "2.50",
        "perks": [],
        "description": "",
        "_save": "Save",
    }
    url = reverse("admin:loyalty_tier_add")

    preview = admin_client.post(url, data)
    assert preview.context["result"].rows[-1].code == "diamond"
    assert Tier.objects.filter(code="diamond").exists() is False

    response = admin_client.post(url, {**data, "_whatif_confirmed": "1"})

    assert response.status_code == HTTPStatus.FOUND
    assert Tier.objects.get(code="diamond").multiplier == Decimal("2.50")


def test_a_tier_members_hold_cannot_be_deleted(admin_client, ladder, member, record_order):
    record_order(member, "O-1", "300.00", placed_at=T0)
    silver = Tier.objects.get(code="silver")

    admin_client.post(
        reverse("admin:loyalty_tier_delete", args=[silver.pk]), {"post": "yes"}, follow=True
    )

    assert Tier.objects.filter(code="silver").exists() is True


def test_perks_are_saved_through_the_service(admin_client, ladder):
    response = admin_client.post(
        reverse("admin:loyalty_perk_add"),
        {
            "code": "wrap",
            "name": "Gift wrap",
            "kind": "custom",
            "value": "",
            "description": "",
        },
    )

    assert response.status_code == HTTPStatus.FOUND
    assert Perk.objects.get(code="wrap").value is None
    assert (
        AuditEntry.objects.filter(
            action="perk.create", target_id=str(Perk.objects.get(code="wrap").pk)
        ).count()
        == 1
    )


def test_a_discount_perk_needs_a_percentage(admin_client, ladder):
    response = admin_client.post(
        reverse("admin:loyalty_perk_add"),
        {"code": "off", "name": "Off", "kind": "discount_percent", "value": "", "description": ""},
    )

    assert response.context["adminform"].form.errors == {
        "value": ["A percentage above 0 and at most 100."]
    }


@pytest.mark.parametrize("role", [CUSTOMER_SERVICE, SUPERVISOR, OPERATOR])
def test_other_roles_see_tiers_but_cannot_change_them(ladder, role):
    client = client_for(staff_user(role, "agent"))
    gold = Tier.objects.get(code="gold")

    assert client.get(reverse("admin:loyalty_tier_changelist")).status_code == HTTPStatus.OK
    page = client.get(_change_url(gold))
    assert (page.status_code, page.context["has_change_permission"]) == (HTTPStatus.OK, False)
    response = client.post(_change_url(gold), _tier_post(gold, threshold="400.00"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert client.get(reverse("admin:loyalty_perk_add")).status_code == HTTPStatus.FORBIDDEN
    assert Tier.objects.get(code="gold").threshold == Decimal("500.00")


def test_marketing_changes_tiers(ladder):
    client = client_for(staff_user(MARKETING, "marketer"))
    gold = Tier.objects.get(code="gold")
    data = {**_tier_post(gold, multiplier="1.60"), "_whatif_confirmed": "1"}

    response = client.post(_change_url(gold), data)

    assert response.status_code == HTTPStatus.FOUND
    assert Tier.objects.get(code="gold").multiplier == Decimal("1.60")
    assert AuditEntry.objects.filter(action="tier.update").latest("id").actor_label == "marketer"


def test_a_supervisor_overrides_a_members_tier(ladder, member):
    client = client_for(staff_user(SUPERVISOR, "boss"))
    url = reverse("admin:loyalty_membertier_override", args=[member.pk])
    until = timezone.localdate() + 30 * DAY

    assert client.get(url).status_code == HTTPStatus.OK
    response = client.post(
        url, {"tier": Tier.objects.get(code="gold").pk, "until": until, "reason": "Match"}
    )

    assert response.status_code == HTTPStatus.FOUND
    state = MemberTier.objects.get(member=member)
    assert (state.override_tier.code, state.override_until, state.override_by) == (
        "gold",
        until,
        "boss",
    )
    change = TierChange.objects.get(member=member)
    assert (change.kind, change.actor_kind, change.actor_label) == ("override", "staff", "boss")

    end = client.post(
        reverse("admin:loyalty_membertier_override_end", args=[member.pk]), {"reason": "Oops"}
    )
    assert end.status_code == HTTPStatus.FOUND
    assert MemberTier.objects.get(member=member).override_tier is None


def test_an_override_in_the_past_is_refused_on_its_field(admin_client, ladder, member):
    url = reverse("admin:loyalty_membertier_override", args=[member.pk])

    response = admin_client.post(
        url,
        {
            "tier": Tier.objects.get(code="gold").pk,
            "until": timezone.localdate() - DAY,
            "reason": "Match",
        },
    )

    assert response.context["form"].errors == {"until": ["The override must end today or later."]}
    assert MemberTier.objects.count() == 0


def test_customer_service_cannot_override(ladder, member):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))
    url = reverse("admin:loyalty_membertier_override", args=[member.pk])

    assert client.get(url).status_code == HTTPStatus.FORBIDDEN


def test_the_members_page_shows_the_tier_with_a_progress_bar(
    admin_client, ladder, member, record_order, django_assert_max_num_queries
):
    now = timezone.now()
    record_order(member, "O-1", "300.00", placed_at=now - DAY, now=now - DAY)
    url = reverse("admin:members_member_change", args=[member.pk])
    admin_client.get(url)  # warm caches

    with django_assert_max_num_queries(30):
        response = admin_client.get(url)

    panels = {p.title: p.context for p in response.context["member_panels"]}
    tier = panels["Tier"]
    assert (tier["tier"]["code"], tier["percent"]) == ("silver", 60)
    assert tier["override_url"] == reverse("admin:loyalty_membertier_override", args=[member.pk])
    content = response.content.decode()
    assert '<progress max="100" value="60"' in content
    assert tier["progress"]["explanation"] in content


def test_customer_service_sees_the_tier_block_without_the_override_link(
    ladder, member, record_order
):
    record_order(member, "O-1", "300.00", placed_at=T0)
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.get(reverse("admin:members_member_change", args=[member.pk]))

    panels = {p.title: p.context for p in response.context["member_panels"]}
    assert panels["Tier"]["override_url"] is None
