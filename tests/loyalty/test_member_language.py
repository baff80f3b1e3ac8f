"""The member's language: `locale` on the member (API and admin), else the program's; the
member's sentences (the summary's `progress.explanation`) are written in it, whoever reads them.

Ladder (`loyalty.demo`): Member 0, Silver 250, Gold 500, Platinum 1000. T0 = 2026-01-05 10:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.urls import reverse

from config.errors import ServiceError
from loyalty.demo import demo_tiers_ensure
from loyalty.selectors.tiers import member_tier_summary
from members.services import member_update
from tests.loyalty.conftest import T0
from tests.loyalty.tiers_helpers import settings_set

DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def test_a_chinese_member_reads_chinese_money_and_dates(ladder, member, record_order, system_actor):
    # given: a CNY program and a member who reads Chinese
    settings_set(currency="CNY")
    member = member_update(member=member, actor=system_actor, locale="zh-hans")
    record_order(member, "O-1", "100.00", placed_at=T0, currency="CNY")

    progress = member_tier_summary(member, as_of=T0 + 10 * DAY)["progress"]

    assert progress["explanation"] == "在 2027年1月4日 前再消费 ¥150.00 即可升级为 Silver。"


def test_two_chinese_sentences_run_together(ladder, member, record_order, system_actor):
    settings_set(currency="CNY")
    member = member_update(member=member, actor=system_actor, locale="zh-hans")
    record_order(member, "O-1", "500.00", placed_at=T0, currency="CNY")
    record_order(member, "O-2", "320.00", placed_at=T0 + 30 * DAY, currency="CNY")

    progress = member_tier_summary(member, as_of=T0 + 60 * DAY)["progress"]

    assert progress["explanation"] == (
        "在 2027年1月4日 前再消费 ¥180.00 即可升级为 Platinum。"
        "您的 Gold 等级有效期至 2027年2月4日。"
    )
    assert progress["qualifying_spend"] == "820.00"


def test_a_member_without_a_locale_gets_the_programs_language(ladder, member):
    settings_set(locale="zh-hans")

    progress = member_tier_summary(member)["progress"]

    assert progress["explanation"] == "在 365 天内消费 £250.00 即可升级为 Silver。"


def test_the_members_own_language_wins_over_the_programs(ladder, member, system_actor):
    settings_set(locale="zh-hans")
    member = member_update(member=member, actor=system_actor, locale="en")

    progress = member_tier_summary(member)["progress"]

    assert progress["explanation"] == "Spend £250.00 within 365 days to reach Silver."


def test_put_sets_the_locale_and_the_summary_returns_it(api_client, ladder):
    # when: the storefront enrols a member in Chinese (with an English Accept-Language)
    response = api_client.put(
        "/api/v1/members/C-ZH",
        {"email": "li@example.com", "locale": "zh-hans"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    # then: the member's sentences are Chinese, the error-free API answer is otherwise unchanged
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["locale"] == "zh-hans"
    assert body["progress"]["explanation"] == "在 365 天内消费 £250.00 即可升级为 Silver。"

    # when: cleared, the program's language (English) applies again
    body = api_client.put("/api/v1/members/C-ZH", {"locale": ""}, format="json").json()
    assert (body["locale"], body["progress"]["explanation"]) == (
        "en",
        "Spend £250.00 within 365 days to reach Silver.",
    )


def test_put_refuses_an_unknown_locale(api_client):
    response = api_client.put(
        "/api/v1/members/C-ZH", {"email": "li@example.com", "locale": "fr"}, format="json"
    )

    body = response.json()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert body["code"] == "validation_error"
    assert [e["field"] for e in body["errors"]] == ["locale"]


def test_the_service_accepts_django_spellings_and_refuses_others(member, system_actor):
    assert member_update(member=member, actor=system_actor, locale="zh_Hans").locale == "zh-hans"
    with pytest.raises(ServiceError) as refused:
        member_update(member=member, actor=system_actor, locale="klingon")
    assert (refused.value.code, refused.value.errors[0]["field"]) == ("validation_error", "locale")


def test_the_admin_custom_view_and_the_service_messages_in_chinese(admin_client, member):
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}
    url = reverse("admin:members_member_adjust_points", args=[member.pk])

    # a custom view: the adjust-points form
    response = admin_client.get(url, **zh)
    page = response.content.decode()
    assert "调整 C-1001 的积分" in page
    assert "为会员增加（正数）或扣减（负数）积分，并填写原因。" in page
    token = str(response.context["form"]["token"].value())

    # a service's refusal, shown to staff: a debit below zero
    response = admin_client.post(
        url, {"token": token, "points": "-5", "reason": "test"}, follow=True, **zh
    )
    page = response.content.decode()
    assert "积分不足：需要 5，可用 0。 (insufficient_points)" in page


def test_the_member_page_labels_and_panels_in_chinese(admin_client, member):
    page = admin_client.get(
        reverse("admin:members_member_change", args=[member.pk]), HTTP_ACCEPT_LANGUAGE="zh-Hans"
    ).content.decode()

    for text in ("联系方式", "外部 ID", "电子邮箱", "操作记录", "积分", "调整积分", "冻结", "语言"):
        assert text in page
