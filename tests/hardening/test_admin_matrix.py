"""The admin's authorization matrix (#16): every admin URL × every principal, GET and POST.

URLs come from the URL configuration (`admin_urls.admin_checks`); who may use each comes from
`admin_table`, which restates `docs/architecture.md` ("Roles"). Each principal (the four role
groups, a superuser, a staff user in no group, an anonymous visitor) sends every request; a POST
carries an empty form (nothing valid is submitted), an action POST selects the world's object:

- anonymous: a redirect to the login page, always;
- allowed: 200 on GET (a few pages redirect: `GET_REDIRECTS`); 200 (the form again, with its
  errors) or 302 on POST; an allowed action runs (a redirect without "No action selected.",
  or the delete confirmation page); 405 for the method a one-method view does not take;
- not allowed: 403; an app's index answers 404 (Django shows no app one sees nothing of); a
  refused action is not offered, so it does not run;
- never a 500 (the test client re-raises server errors, so one fails the test).
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse

from members.roles import ROLES
from tests.hardening.admin_table import PRINCIPALS, ROLE_CODES
from tests.hardening.admin_urls import Check, admin_checks
from tests.hardening.conftest import principal_client

NO_ACTION = "No action selected."


def _action_ran(response) -> bool:
    if response.status_code == HTTPStatus.FOUND:
        return NO_ACTION not in [str(m) for m in get_messages(response.wsgi_request)]
    names = getattr(response, "template_name", None) or []
    return response.status_code == HTTPStatus.OK and any(
        "delete_selected_confirmation" in name for name in names
    )


def _problem(principal: str, check: Check, response) -> str | None:
    """What is wrong with the response, or None."""
    status = response.status_code
    if principal == "ANON":
        location = response.get("Location", "")
        ok = status == HTTPStatus.FOUND and location.startswith(reverse("admin:login"))
        return None if ok else f"{status} {location}, not a redirect to the login page"
    allowed = principal in check.allowed
    if check.kind == "action":
        if allowed:
            return None if _action_ran(response) else f"{status}: the action did not run"
        refused = status == HTTPStatus.FORBIDDEN or not _action_ran(response)
        return None if refused and status != HTTPStatus.INTERNAL_SERVER_ERROR else f"{status} ran"
    if not allowed:
        denied = HTTPStatus.NOT_FOUND if check.kind == "app" else HTTPStatus.FORBIDDEN
        return None if status == denied else f"{status}, not {denied.value}"
    if check.wrong_method:
        return None if status == HTTPStatus.METHOD_NOT_ALLOWED else f"{status}, not 405"
    if check.method == "GET" and not check.redirects:
        return None if status == HTTPStatus.OK else f"{status}, not 200"
    return None if status in (HTTPStatus.OK, HTTPStatus.FOUND) else f"{status}, not 200/302"


def test_every_role_has_a_principal():
    assert set(ROLE_CODES) == set(ROLES), "a role was added: give it a code and table columns"


@pytest.fixture
def no_sidebar(monkeypatch):
    """The navigation sidebar (the same on every page, about half of each page's rendering) is
    left out here: this test is about who gets in; `test_admin_smoke.py` renders it, per role."""
    monkeypatch.setattr(admin.site, "enable_nav_sidebar", False)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_admin_url_answers_as_the_roles_say(world, db, no_sidebar, principal, method):
    client = principal_client(principal)
    wrong = []
    for check in (c for c in admin_checks(world) if c.method == method):
        if check.method == "GET":
            response = client.get(check.url)
        else:
            response = client.post(check.url, check.data)
        problem = _problem(principal, check, response)
        if problem:
            verdict = "allowed" if principal in check.allowed else "denied"
            wrong.append(
                f"{principal} {check.method} {check.url} ({check.what}, {verdict}): {problem}"
            )
    assert wrong == [], "\n".join(wrong)
