"""The admin smoke test (#17): every registered admin's changelist, add and change page, opened
as a superuser and as each role, in English and in Chinese, with the navigation sidebar.

Who may open what comes from the same table as the matrix (`admin_table`, restating
`docs/architecture.md`). A page one may open answers 200 and shows what it is for: the list links
to the world's object, the change page names it, the add page has a form; a page one may not
open answers 403. The admin's home page lists exactly the models the role may see. A server
error fails the test (the test client re-raises it).
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import escape

from tests.hardening.admin_table import MODELS, PRINCIPALS, who
from tests.hardening.admin_urls import registered
from tests.hardening.conftest import principal_client

STAFF_PRINCIPALS = [p for p in PRINCIPALS if p != "ANON"]
LANGUAGES = {"en": "en", "zh-hans": "zh-hans"}


def _visible(principal: str) -> set[str]:
    """Model labels the table lets the principal see (any of its four columns)."""
    return {label for label, columns in MODELS.items() if principal in who(" ".join(columns))}


def _pages(model, obj, principal: str):
    view, add, change, _ = (who(c) for c in MODELS[model._meta.label])
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    change_url = reverse(f"{info}_change", args=[quote(obj.pk)])
    yield "changelist", reverse(f"{info}_changelist"), principal in view | change, change_url
    yield "add", reverse(f"{info}_add"), principal in add, "<form"
    yield "change", change_url, principal in view | change, escape(str(obj))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("principal", STAFF_PRINCIPALS)
def test_every_admin_page_opens_as_the_roles_say(world, db, principal, language):
    client = principal_client(principal, HTTP_ACCEPT_LANGUAGE=LANGUAGES[language])
    wrong = []
    for model, _, obj in registered(world):
        label = model._meta.label
        for page, url, allowed, shows in _pages(model, obj, principal):
            response = client.get(url, follow=True)  # the settings' list opens the one record
            status = response.status_code
            if not allowed:
                if status != HTTPStatus.FORBIDDEN:
                    wrong.append(f"{label} {page} {url}: {status}, not 403")
            elif status != HTTPStatus.OK:
                wrong.append(f"{label} {page} {url}: {status}, not 200")
            elif shows not in response.text:
                wrong.append(f"{label} {page} {url}: 200 without {shows!r}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("principal", STAFF_PRINCIPALS)
def test_the_home_page_lists_the_models_the_role_may_see(world, db, principal):
    client = principal_client(principal)
    response = client.get(reverse("admin:index"))
    assert response.status_code == HTTPStatus.OK
    listed = {
        f"{app['app_label']}.{entry['object_name']}"
        for app in response.context["app_list"]
        for entry in app["models"]
    }
    registered_labels = {model._meta.label for model, _, _ in registered(world)}
    assert listed == _visible(principal) & registered_labels
