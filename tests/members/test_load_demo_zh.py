"""`manage.py load_demo --locale zh` (`DEMO_LOCALE=zh make run`): the Chinese demo.

A CNY program whose members read Chinese, the JD-style ladder, rewards and campaigns in Chinese,
orders that put members in every paid tier; idempotent like the English demo.
"""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.models import Campaign
from loyalty.models import MemberTier, Order, Tier
from loyalty.selectors.members import member_summary
from loyalty.selectors.program import program_settings
from members.models import Member
from rewards.models import Reward


def _load_zh() -> str:
    out = StringIO()
    call_command("load_demo", "--force", "--locale", "zh", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_chinese_demo_is_a_cny_program_with_a_jd_style_ladder():
    _load_zh()

    settings = program_settings()
    assert (settings.currency, settings.locale) == ("CNY", "zh-hans")
    assert [(t.name, str(t.threshold)) for t in Tier.objects.order_by("rank")] == [
        ("普通会员", "0.00"),
        ("银卡", "2000.00"),
        ("金卡", "5000.00"),
        ("钻石", "10000.00"),
    ]
    members = Member.objects.filter(external_id__startswith="JD-")
    assert members.count() == 40
    assert set(members.values_list("locale", flat=True)) == {"zh-hans"}
    assert str(Member.objects.get(external_id="JD-0004")) == "JD-0004 · 吴涛"
    held = Counter(MemberTier.objects.values_list("tier__name", flat=True))
    assert held == {"银卡": 10, "金卡": 10, "钻石": 5}
    assert Reward.objects.get(code="CNY5_OFF").name == "¥5 无门槛优惠券"
    assert Campaign.objects.get(code="member-day-18").day_of_month == 18


@pytest.mark.django_db
def test_a_chinese_demo_member_is_told_their_progress_in_chinese():
    _load_zh()

    summary = member_summary(Member.objects.get(external_id="JD-0004"))

    assert summary["locale"] == "zh-hans"
    assert summary["tier"]["name"] == "银卡"
    explanation = summary["progress"]["explanation"]
    assert explanation.startswith("在 ")
    assert "前再消费 ¥1,000.00 即可升级为 金卡。您的 银卡 等级有效期至 " in explanation


@pytest.mark.django_db
def test_the_chinese_demo_twice_creates_nothing_twice():
    _load_zh()
    counts = (Member.objects.count(), Order.objects.count(), Reward.objects.count())

    output = _load_zh()

    assert (Member.objects.count(), Order.objects.count(), Reward.objects.count()) == counts
    assert "Demo members (zh): 40 (0 new)." in output
    assert "Demo orders (zh): 0 new." in output
