"""The template editor in a real browser: a refused template shows the line and the reason; a
saved one is previewed, rendered for a chosen member."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from members.actors import Actor
from members.roles import MARKETING
from members.services import member_enrol
from messaging.models import MessageTemplate

pytestmark = pytest.mark.django_db(transaction=True)


def test_marketing_edits_a_template_and_previews_it_for_a_member(
    staff, login, live_server, console
):
    member_enrol(
        external_id="C-1", email="ada@example.com", first_name="Ada", actor=Actor.system("t")
    )
    template = MessageTemplate.objects.get(kind="points_expiring", locale="en")
    page = login(staff(MARKETING))
    page.goto(f"{live_server.url}/admin/messaging/messagetemplate/{template.pk}/change/")

    # an unknown variable is refused with its line
    page.fill("#id_subject", "{{ first_name }}: {{ pointz }} points")
    page.click("input[name=_continue]")
    expect(page.locator(".errorlist")).to_contain_text("Line 1: unknown variable “pointz”.")

    # a good one is saved (version 2) and previewed for Ada
    page.fill("#id_subject", "{{ first_name }}: {{ points }} points expire {{ expiry_date }}")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_be_visible()
    page.fill("#id_preview_member", "C-1")
    page.get_by_role("button", name="Preview", exact=True).click()

    expect(page.locator("[data-preview=subject]")).to_have_text(
        "Ada: 1,250 points expire 31 Jan 2027"
    )
    expect(page.locator("[data-preview=text]")).to_contain_text(
        "1,250 of your Loyalty Club points expire on 31 Jan 2027, in 30 days."
    )
    assert MessageTemplate.objects.get(pk=template.pk).version == 2
    assert console == []
