"""The admin's front door: login lockout (django-axes), the Content-Security-Policy, and the API
docs served from our own static files."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from http import HTTPStatus
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user(username="clerk", password="right-horse-7", is_staff=True)


def _login(client: Client, password: str, *, ip: str = "203.0.113.7"):
    return client.post(
        LOGIN,
        {"username": "clerk", "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def _logged_in(response) -> bool:
    return response.status_code == HTTPStatus.FOUND and response["Location"] == "/admin/"


@pytest.mark.django_db
def test_after_n_failures_even_the_right_password_is_refused(settings, staff):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()

    failures = [_login(client, "wrong").status_code for _ in range(3)]
    refused = _login(client, "right-horse-7")

    assert failures == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert b"Too many failed logins" in refused.content
    assert "_auth_user_id" not in client.session
    # audited: who tried, from where, how often
    attempt = AccessAttempt.objects.get()
    # the refused right password counts as one more failure (and starts the cool-off again)
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "clerk",
        "203.0.113.7",
        4,
    )
    assert AccessFailureLog.objects.filter(username="clerk").count() == 4
    # the lockout is for this username from this address: the same user elsewhere logs in
    assert _logged_in(_login(Client(), "right-horse-7", ip="198.51.100.9"))


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off(settings, staff):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        _login(client, "wrong")
    assert _login(client, "right-horse-7").status_code == HTTPStatus.TOO_MANY_REQUESTS

    # when: the cool-off has passed since the last failure
    AccessAttempt.objects.update(
        attempt_time=dt.datetime.now(tz=dt.UTC) - settings.AXES_COOLOFF_TIME - dt.timedelta(1)
    )

    assert _logged_in(_login(client, "right-horse-7"))


@pytest.mark.django_db
def test_a_superuser_unlocks_through_axes_admin(settings, staff, admin_client):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        _login(client, "wrong")
    attempt = AccessAttempt.objects.get()

    # when: a superuser deletes the access attempt in the admin (the unlock)
    url = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert admin_client.get(url).status_code == HTTPStatus.OK
    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert _logged_in(_login(client, "right-horse-7"))


@pytest.mark.django_db
def test_staff_without_superuser_cannot_unlock(settings, staff):
    staff_client = Client()
    staff_client.force_login(staff)

    response = staff_client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == HTTPStatus.FORBIDDEN


# --- Content-Security-Policy -------------------------------------------------------------------


class _Inline(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, inline <style>, on* handlers, and
    every URL a <script>/<link>/<img> loads."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.loads: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        handlers = [name for name in attrs if name.startswith("on")]
        self.inline.extend(f"{tag} {name}" for name in handlers)
        if tag == "script":
            if attrs.get("src"):
                self.loads.append(attrs["src"])
            else:
                self._in_script = True
        if tag == "style":
            self.inline.append("style element")
        if tag == "link" and attrs.get("href"):
            self.loads.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "a" and (attrs.get("href") or "").startswith("javascript:"):
            self.inline.append("javascript: link")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(f"inline script: {data.strip()[:40]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def _page(html: bytes) -> _Inline:
    parser = _Inline()
    parser.feed(html.decode())
    return parser


POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}


def _policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in header.split(";"))
    return dict(directives)


@pytest.mark.django_db
def test_admin_pages_carry_the_policy_and_nothing_it_would_block(admin_client, member):
    login = Client().get("/admin/login/")
    assert _policy(login["Content-Security-Policy"]) == POLICY
    assert _page(login.content).inline == []
    pages = [
        "/admin/",
        reverse("admin:members_member_changelist"),
        reverse("admin:members_member_change", args=[member.pk]),
        reverse("admin:members_member_erase", args=[member.pk]),
        reverse("admin:loyalty_posting_changelist"),
        reverse("admin:loyalty_tier_add"),
        reverse("admin:loyalty_importrun_import"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == HTTPStatus.OK, url
        assert _policy(response["Content-Security-Policy"]) == POLICY, url
        page = _page(response.content)
        assert page.inline == [], url
        assert [u for u in page.loads if not u.startswith("/") or u.startswith("//")] == [], url


def test_none_of_our_templates_has_inline_code():
    folder = Path(__file__).resolve().parents[2] / "templates"
    templates = sorted(folder.rglob("*.html"))
    assert len(templates) > 20
    for template in templates:
        source = template.read_text()
        assert "<style" not in source, template
        assert not re.search(r"\son[a-z]+=", source), template
        assert "<script>" not in source, template


# --- API docs ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_docs_load_only_our_own_static_files(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == HTTPStatus.OK
    assert _policy(response["Content-Security-Policy"]) == POLICY
    page = _page(response.content)
    assert page.inline == []
    assert page.loads == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/static/backoffice/swagger.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/api/v1/docs/?script=",
    ]
    assert b"http://" not in response.content
    assert b"https://" not in response.content


@pytest.mark.django_db
def test_the_api_docs_start_up_script_is_served_by_us(client):
    response = client.get("/api/v1/docs/?script=")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("application/javascript")
    assert b"/api/v1/schema/" in response.content


def test_the_sidecar_files_are_there():
    from django.contrib.staticfiles import finders

    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}"), name
