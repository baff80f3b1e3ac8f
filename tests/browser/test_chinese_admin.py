"""The whole admin in Simplified Chinese, in Chromium, on the Chinese demo program.

A staff user picks 简体中文 in the header and walks the pages staff use every week: home, members
(list, search by surname, a member's page), tiers, campaigns, rewards, the import, the
dashboard, the jobs page, webhooks, feedback and adjustment requests. On each page they read
Chinese, no English sentence or label of ours, and the console stays clean.

"English of ours" is any run of two or more Latin words, or a capitalised Latin word, in the
header, the sidebar and the content. What may stay Latin (docs/i18n.md, "What stays"): codes and
records (ledger descriptions such as "Order JD-O-0001-1", campaign and tier codes), the names
of languages in the switcher, third-party names a package does not mark for translation (the API
key model's), and a few words inside Chinese sentences (Web, Webhook, Mac, Control, Command).
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

PHRASE = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,})+|\b[A-Z][a-z]{2,}\b")
# Latin words a Chinese page may show, and why.
ALLOWED = {
    "English",  # the language switcher names each language in itself
    "API keys",  # django-rest-framework-api-key's model name, not marked for translation
    "Web",  # "Web 进程": the web process
    "Webhook",  # the product's name for it, kept in Chinese text
    "Control",  # Django's own zh-Hans: 按住 Control 键或 Mac 上的 Command 键
    "Command",
    "Mac",
    "Europe",  # the program's time zone, Europe/London
    "London",
    "Gone",  # "410 Gone", an HTTP status
    "Order",  # ledger records, kept as written ("Order JD-O-0001-1")
    "Shopify",  # a brand: the import's "Shopify 订单导出" format
}
PAGES = {
    "home": "/admin/",
    "members": "/admin/members/member/",
    "tiers": "/admin/loyalty/tier/",
    "campaigns": "/admin/campaigns/campaign/",
    "new campaign": "/admin/campaigns/campaign/add/",
    "rewards": "/admin/rewards/reward/",
    "new reward": "/admin/rewards/reward/add/",
    "import": "/admin/loyalty/importrun/import/",
    "import runs": "/admin/loyalty/importrun/",
    "dashboard": "/admin/dashboard/",
    "jobs": "/admin/jobs/",
    "webhook endpoints": "/admin/webhooks/endpoint/",
    "new webhook endpoint": "/admin/webhooks/endpoint/add/",
    "feedback": "/admin/feedback/feedback/",
    "adjustment requests": "/admin/loyalty/adjustmentrequest/",
    "program settings": "/admin/loyalty/programsettings/",
}


def english(page) -> list[str]:
    # What staff read, without code they type as it is (a command, a file's column names).
    text = page.evaluate(
        """() => ["#header", "#nav-sidebar", "#content"].map((id) => {
            const region = document.querySelector(id);
            if (region === null) return "";  // the home page has no sidebar
            const copy = region.cloneNode(true);
            copy.querySelectorAll("code, kbd").forEach((el) => el.remove());
            document.body.appendChild(copy);  // innerText needs it laid out
            const text = copy.innerText;
            copy.remove();
            return text;
        }).join(" ")"""
    )
    return sorted(
        {m for m in PHRASE.findall(text) if m not in ALLOWED and not m.startswith("Order ")}
    )


@pytest.fixture
def chinese_demo(role_groups):
    call_command("load_demo", locale="zh", force=True, stdout=io.StringIO())


def test_a_chinese_speaking_operator_sees_the_whole_admin_in_chinese(
    chinese_demo, staff, login, live_server, console
):
    page = login(staff(None, "wang"))

    # The language is the staff user's choice, made once in the header.
    page.locator("#language-switcher").get_by_role("button", name="简体中文").click()
    expect(page.locator("#site-name")).to_have_text("会员积分管理后台")
    expect(page.locator("#dashboard-link")).to_contain_text("积分计划看板")

    found: dict[str, list[str]] = {}
    for name, path in PAGES.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        found[name] = english(page)
        if name == "new campaign":
            # Django's many-to-many selector (its script's words come from our catalog too) and
            # the categories' chips.
            expect(page.locator(".field-tiers")).to_contain_text("全选会员等级")
            page.select_option("#id_kind", "multiplier")
            expect(page.get_by_placeholder("输入一个类目后按回车")).to_be_visible()
        if name == "dashboard":
            expect(page.locator("#points-chart[data-rendered=true]")).to_be_visible()

    # Members: search by surname, open one, read their page.
    page.goto(f"{live_server.url}/admin/members/member/")
    expect(page.locator("#searchbar + input + .help, #changelist-search .help")).to_contain_text(
        "如“王”或“王刚”"
    )
    page.fill("#searchbar", "王刚")
    page.press("#searchbar", "Enter")
    first = page.locator("#result_list tbody tr").first
    expect(first).to_contain_text("王刚")
    first.locator("th a").click()
    expect(page.locator("#content h1")).to_have_text("修改 会员")
    expect(page.get_by_role("link", name="调整积分")).to_be_visible()
    found["member page"] = english(page)
    page.get_by_role("link", name="调整积分").click()
    found["adjust points"] = english(page)
    # A tier's page.
    page.goto(f"{live_server.url}/admin/loyalty/tier/")
    page.get_by_role("link", name="银卡").click()
    expect(page.locator("#content")).to_contain_text("门槛")
    found["tier page"] = english(page)

    assert {name: words for name, words in found.items() if words} == {}
    assert console == []
