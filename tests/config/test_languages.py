"""The admin and the API in English and Simplified Chinese; money and dates in each.

The language comes from the staff user's choice (Django's language cookie, set by the header's
switcher), else Accept-Language; the API's `code` stays English whatever the language.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.conf import settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from config.languages import date_text, money_text

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}


@pytest.fixture
def member(make_member):
    return make_member(external_id="C-ZH-1")


def test_the_admin_home_speaks_chinese_to_a_chinese_browser(admin_client):
    response = admin_client.get(reverse("admin:index"), **ZH)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Language"] == "zh-hans"
    page = response.content.decode()
    assert "会员积分管理后台" in page  # our site header
    assert "积分计划看板" in page  # our dashboard link
    assert "积分计划管理" in page  # our index title
    assert "Program dashboard" not in page


def test_the_admin_home_stays_english_by_default(admin_client):
    response = admin_client.get(reverse("admin:index"))

    page = response.content.decode()
    assert response["Content-Language"] == "en"
    assert "Program dashboard" in page
    assert "积分计划看板" not in page


def test_the_dashboard_in_chinese(admin_client):
    response = admin_client.get(reverse("admin-dashboard"), **ZH)

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    for text in ("各等级会员", "统计期内的积分", "未使用积分（当前）", "复购率", "近 30 天"):
        assert text in page


def test_the_member_page_in_chinese(admin_client, member):
    response = admin_client.get(reverse("admin:members_member_change", args=[member.pk]), **ZH)

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    for text in ("累计获得", "还没有订单。", "还没有积分流水。"):
        assert text in page


def test_the_staff_users_choice_outranks_the_browser(admin_client):
    # when: the header's switcher posts the choice
    response = admin_client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("admin:index")}
    )

    # then: the language cookie holds it, and an English browser gets Chinese
    assert response.status_code == HTTPStatus.FOUND
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "积分计划看板" in page
    assert 'name="language" value="en"' in page  # the way back to English


def test_api_error_titles_in_chinese_codes_in_english(api_client):
    response = api_client.get("/api/v1/members/NOBODY", **ZH)

    assert response.status_code == HTTPStatus.NOT_FOUND
    body = response.json()
    assert (body["code"], body["title"], body["status"]) == ("member_not_found", "未找到", 404)


def test_api_error_titles_in_english_by_default(api_client):
    body = api_client.get("/api/v1/members/NOBODY").json()

    assert (body["code"], body["title"]) == ("member_not_found", "Not Found")


def test_api_validation_error_title_in_chinese(api_client):
    response = api_client.put("/api/v1/members/C-1", {"email": 5}, format="json", **ZH)

    body = response.json()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert (body["code"], body["title"]) == ("validation_error", "请求无效")


def test_the_servers_admin_language_for_staff_who_chose_none(admin_client, api_client, settings):
    # given: `make run LANGUAGE=zh-hans`
    settings.ADMIN_LANGUAGE = "zh-hans"

    # then: an English browser gets the admin in Chinese, the API stays with Accept-Language
    page = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "积分计划看板" in page
    body = api_client.get("/api/v1/members/NOBODY", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["title"] == "Not Found"

    # when: the staff user picks English in the header, that wins
    admin_client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Program dashboard" in page


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("zh-hans", "1234.5", "CNY", "¥1,234.50"),
        ("zh-hans", "1234567", "CNY", "¥1,234,567.00"),
        ("zh-hans", "-5", "CNY", "-¥5.00"),
        ("zh-hans", "180", "GBP", "£180.00"),
        ("en", "1234.5", "GBP", "£1,234.50"),
        ("en", "1234.5", "CNY", "¥1,234.50"),
        ("en", "0.5", "EUR", "€0.50"),
        ("en", "1234.5", "CHF", "1,234.50 CHF"),
        ("zh-hans", "1234.5", "CHF", "1,234.50 CHF"),
    ],
)
def test_money_in_each_language(language, amount, currency, expected):
    with translation.override(language):
        assert money_text(Decimal(amount), currency) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "2026年12月4日"), ("en", "4 Dec 2026"), ("zh-Hans", "2026年12月4日")],
)
def test_dates_in_each_language(language, expected):
    with translation.override(language):
        assert date_text(dt.date(2026, 12, 4)) == expected


def test_numbers_in_admin_templates_are_grouped_in_chinese():
    template = Template("{% load humanize %}{{ n|intcomma }} {{ d|date:'DATE_FORMAT' }}")
    context = Context({"n": 1234567, "d": dt.date(2026, 12, 4)})

    with translation.override("zh-hans"):
        assert template.render(context) == "1,234,567 2026年12月4日"
    with translation.override("en"):
        assert template.render(context) == "1,234,567 4 Dec 2026"
