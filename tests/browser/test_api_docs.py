"""The API docs page in Chromium: Swagger UI drawn from our own static files, under the CSP.

`/api/v1/docs/` is public (the admin's "View site" points there). The page must render the
storefront API's operations with no request leaving this server (Swagger UI comes from
drf-spectacular-sidecar, pinned) and no console error: a CSP refusal (an inline script, a CDN)
is reported by Chromium as a console error, so an intact policy and a working page go together.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_render_swagger_ui_from_our_own_files(page, live_server, console):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    response = page.goto(f"{live_server.url}/api/v1/docs/")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.replace("style-src-attr 'unsafe-inline'", "")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Loyalty Back Office — Storefront API"
    )
    # The operations are listed, grouped by tag, with their method and path.
    orders = page.locator(".opblock-post").filter(has_text="/api/v1/orders/").first
    expect(orders).to_be_visible()
    expect(page.locator(".opblock-get").filter(has_text="/api/v1/members/").first).to_be_visible()
    assert page.locator(".opblock").count() >= 10
    # An operation opens with its parameters and the "Try it out" button.
    orders.locator(".opblock-summary").click()
    expect(orders.get_by_role("button", name="Try it out")).to_be_visible()
    # Everything came from this server: no CDN, no other origin.
    origin = urlsplit(live_server.url).netloc
    assert {urlsplit(url).netloc for url in requested if url.startswith("http")} == {origin}
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in requested)
    assert console == []
