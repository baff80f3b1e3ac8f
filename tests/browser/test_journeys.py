"""Staff journeys in Chromium: what each role does every week, checked by what they see.

Every journey ends with no console error on any page it opened (the `console` fixture).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.services.refresh import rollups_rebuild
from campaigns.models import Campaign
from campaigns.services.manage import campaign_save
from loyalty.demo import demo_tiers_ensure
from loyalty.models import AdjustmentRequest, Posting, Tier
from loyalty.services.orders import order_record
from members.actors import Actor
from members.roles import CUSTOMER_SERVICE, MARKETING, SUPERVISOR
from members.services import member_enrol

pytestmark = pytest.mark.django_db(transaction=True)


def _member(external_id: str, first: str, last: str, *, spend: str | None = None):
    actor = Actor.system("tests")
    member = member_enrol(
        external_id=external_id,
        email=f"{first}.{last}@example.com".lower(),
        first_name=first,
        last_name=last,
        actor=actor,
        # enrolled before the order below (an order placed before enrolment needs retro credit)
        enrolled_at=timezone.now() - dt.timedelta(days=400),
    )
    if spend is not None:
        placed = timezone.now() - dt.timedelta(days=40)
        order_record(
            order_id=f"O-{external_id}",
            member=member,
            placed_at=placed,
            currency="GBP",
            total=Decimal(spend),
            actor=actor,
            now=placed,
        )
    return member


def test_marketing_edits_a_tier_and_publishes_after_the_what_if(staff, login, live_server, console):
    demo_tiers_ensure()
    _member("C-1", "Ada", "Lovelace", spend="300.00")
    silver = Tier.objects.get(code="silver")
    page = login(staff(MARKETING))

    page.goto(f"{live_server.url}/admin/loyalty/tier/{silver.pk}/change/")
    page.fill("#id_threshold", "400.00")
    page.click("input[name=_save]")

    expect(page.locator("h1")).to_contain_text("What publishing Silver would do")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".messagelist")).to_contain_text("Silver")
    silver.refresh_from_db()
    assert silver.threshold == Decimal("400.00")
    assert console == []


def test_marketing_creates_a_campaign_with_weekdays_and_sees_the_stacking_warning(
    staff, login, live_server, console
):
    campaign_save(
        campaign=Campaign(
            code="double-fridays",
            name="Double points Fridays",
            kind="multiplier",
            multiplier=Decimal("2.00"),
            weekdays=[5],
            starts_at=timezone.now() - dt.timedelta(days=30),
        ),
        actor=Actor.system("tests"),
    )
    page = login(staff(MARKETING))

    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_code", "weekend")
    page.fill("#id_name", "Weekend double")
    page.select_option("#id_kind", "multiplier")
    # Only the chosen kind's fields show.
    expect(page.locator("#id_weekdays")).to_be_visible()
    expect(page.locator("#id_referrer_points")).to_be_hidden()
    expect(page.locator("#id_action")).to_be_hidden()
    page.get_by_label("Friday").check()
    page.get_by_label("Saturday").check()
    # Categories are chips: Enter or a comma ends one, × removes one, a pasted list splits,
    # and what is still being typed is kept when the form is sent.
    categories = page.get_by_label("Categories")
    categories.fill("Gifts")
    categories.press("Enter")
    categories.type("Toys,")
    categories.fill("Home, Garden")
    chips = page.locator(".field-categories .tag-chip")
    expect(chips).to_have_text(["Gifts×", "Toys×", "Home×", "Garden×"])
    page.get_by_role("button", name="Remove Toys").click()
    categories.press("Backspace")  # the empty box's Backspace takes the last chip back
    expect(chips).to_have_text(["Gifts×", "Home×"])
    # A category no order item can carry is refused by the server, on the field.
    categories.fill("G" * 65)
    page.click("input[name=_save]")
    expect(page.locator(".field-categories .errorlist")).to_have_text(
        f"Categories: “{'G' * 65}” has 65 characters; an order item's category has at most 64, "
        "so it could never match."
    )
    page.get_by_role("button", name=f"Remove {'G' * 65}").click()
    categories.fill("Kitchen")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist .warning")).to_have_text(
        "Campaigns stack: “Double points Fridays” (×2.00, Friday) can apply to the same orders "
        "as this one. Their bonuses add up, so such an order earns ×3.00 its base points, not "
        "×2.00."
    )
    campaign = Campaign.objects.get(code="weekend")
    assert (campaign.weekdays, campaign.categories) == ([5, 6], ["Gifts", "Home", "Kitchen"])
    # The saved campaign's page shows them as chips again.
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    expect(chips).to_have_text(["Gifts×", "Home×", "Kitchen×"])
    assert console == []


def test_customer_service_finds_a_member_by_surname_and_adjusts_within_and_above_the_limit(
    staff, login, live_server, console
):
    demo_tiers_ensure()
    _member("C-1", "Ada", "Lovelace", spend="120.00")
    _member("C-2", "Grace", "Hopper", spend="80.00")
    page = login(staff(CUSTOMER_SERVICE, "agent"))

    page.locator("#content-main .model-member th a").click()
    page.fill("#searchbar", "Lovelace")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ada Lovelace")
    expect(rows.first.locator("td.field-tier_column")).to_have_text("Member")
    rows.first.get_by_role("link", name="C-1").click()
    expect(page.locator("h2").first).to_contain_text("C-1 · Ada Lovelace")

    steps = (
        (200, "late delivery", "Posted +200 points to C-1"),
        (1500, "lost parcel", "Not posted yet: +1500 points is over the per-adjustment"),
    )
    for points, reason, told in steps:
        page.get_by_role("link", name="Adjust points").click()
        page.fill("#id_points", str(points))
        page.fill("#id_reason", reason)
        page.get_by_role("button", name="Adjust").click()
        # Back on the member's page, told what happened.
        expect(page.locator(".messagelist")).to_contain_text(told)
    assert Posting.objects.filter(kind="adjust", points=200).count() == 1
    held = AdjustmentRequest.objects.get()
    assert (held.points, held.status, held.requested_by_label) == (1500, "pending", "agent")
    assert console == []


def test_a_supervisor_sees_the_pending_count_and_approves(staff, login, live_server, console):
    from loyalty.services.adjustments import adjustment_request

    ada = _member("C-1", "Ada", "Lovelace", spend="120.00")
    agent = staff(CUSTOMER_SERVICE, "agent")
    adjustment_request(member=ada, points=1500, reason="lost parcel", actor=Actor.staff(agent))
    page = login(staff(SUPERVISOR))

    badge = page.locator("#dashboard-link .badge-alert")
    expect(badge).to_have_text("1")
    page.get_by_role("link", name="Adjustment requests to decide").first.click()
    row = page.locator("#result_list tbody tr")
    expect(row).to_contain_text("C-1 · Ada Lovelace")
    row.locator("th a, td a").first.click()
    page.get_by_role("link", name="Approve").click()
    page.fill("#id_note", "receipt checked")
    page.get_by_role("button", name="Approve").click()

    expect(page.locator(".messagelist")).to_contain_text("approved: +1500 points posted to C-1")
    assert AdjustmentRequest.objects.get().status == "approved"
    expect(page.locator("#nav-reports .badge")).to_have_text("0")
    assert console == []


def test_the_dashboard_renders_from_the_sidebar(staff, login, live_server, console):
    demo_tiers_ensure()
    _member("C-1", "Ada", "Lovelace", spend="120.00")
    rollups_rebuild()
    page = login(staff(MARKETING))

    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    page.locator("#nav-sidebar").get_by_role("link", name="Program dashboard").click()

    expect(page.locator("h1")).to_contain_text("dashboard")
    expect(page.locator("#content-main")).to_contain_text("Members by tier")
    # The weekly chart is drawn (Chart.js from our static files) with its table beneath.
    expect(page.locator("#points-chart[data-rendered=true]")).to_be_visible()
    drawn = page.evaluate(
        "() => { const c = document.getElementById('points-chart');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; } return false; }"
    )
    assert drawn
    expect(page.locator("#points-chart-table tbody tr").first).to_be_visible()
    assert console == []


def test_a_refused_page_says_which_role_it_needs(staff, login, live_server, console):
    page = login(staff(CUSTOMER_SERVICE, "agent"))

    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")

    expect(page.locator("#missing")).to_have_text("This page needs the Marketing role.")
    page.get_by_role("link", name="Admin home").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    # The 403 itself is the one expected console line ("Failed to load resource").
    assert [e for e in console if "403" not in e] == []
