"""Every admin URL with who may use it, from `admin.site` and the table in `admin_table`.

`admin_checks(world)` walks the URL configuration, not a list: the admin site's own pages, the
pages of every app, and for every registered `ModelAdmin` its changelist, add, change, history
and delete pages, every custom view its `get_urls()` adds, every admin action and every
autocomplete field. Anything without a row in the table fails with a message saying which row
to add, so a new admin page cannot go untested. Deletes come last (a POST to one deletes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from loyalty.admin.import_progress import progress_token
from tests.hardening.admin_table import (
    ACTIONS,
    CUSTOM,
    GET_REDIRECTS,
    MODELS,
    NOT_REQUESTED,
    ONE_METHOD,
    SITE,
    who,
)

STANDARD = ("changelist", "add", "history", "delete", "change")


@dataclass(frozen=True)
class Check:
    """One request: `allowed` holds the principals the roles let through."""

    what: str
    method: str
    url: str
    allowed: set[str]
    kind: str = "page"  # "page", "action" (a POST to the changelist), "app" (an app's index)
    data: dict = field(default_factory=dict)

    @property
    def redirects(self) -> bool:
        return self.method == "GET" and self.what in GET_REDIRECTS

    @property
    def wrong_method(self) -> bool:
        only = ONE_METHOD.get(self.what)
        return only is not None and only != self.method


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = User(username="probe", is_superuser=True, is_staff=True, is_active=True)
    return request


def _site_checks() -> list[Check]:
    names = {p.name for p in admin.site.get_urls() if isinstance(p, URLPattern) and p.name}
    names = {f"admin:{n}" for n in names}
    # The project's own pages under /admin/ (config/urls.py).
    names |= {
        p.name
        for p in get_resolver().url_patterns
        if isinstance(p, URLPattern) and p.name and str(p.pattern).startswith("admin/")
    }
    missing = names - set(SITE) - set(NOT_REQUESTED)
    assert not missing, f"admin site pages without a row in SITE: {sorted(missing)}"
    checks = []
    for name, codes in SITE.items():
        url = reverse(name)
        checks += [Check(name, m, url, who(codes)) for m in ("GET", "POST")]
    return checks


def _app_checks() -> list[Check]:
    """An app's index lists the models one may see; Django answers 404 to whoever sees none."""
    apps: dict[str, set[str]] = {}
    for model in admin.site._registry:
        codes = " ".join(MODELS.get(model._meta.label, ()))
        apps.setdefault(model._meta.app_label, set()).update(who(codes))
    return [
        Check(f"app {label}", "GET", reverse("admin:app_list", args=[label]), codes, kind="app")
        for label, codes in apps.items()
    ]


def _argument(name: str, obj) -> str:
    """A custom view's path argument: the object's key, or an import's progress token."""
    if name == "token":
        return progress_token(checksum="0" * 64, name="w.csv", since=timezone.now(), job_id=None)
    return quote(obj.pk)


def _custom_checks(model_admin, obj) -> list[Check]:
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
    checks = []
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None)
        if not name or name in {f"{info}_{s}" for s in STANDARD}:
            continue
        assert name in CUSTOM, f"custom admin view {name} has no row in CUSTOM: add one"
        arguments = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
        url = reverse(f"admin:{name}", kwargs={a: _argument(a, obj) for a in arguments})
        checks += [Check(name, m, url, who(CUSTOM[name])) for m in ("GET", "POST")]
    return checks


def _action_checks(model_admin, label: str, obj, delete: set[str]) -> list[Check]:
    url = reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist")
    checks = []
    for name in model_admin.get_actions(_superuser_request()):
        if name == "delete_selected":
            allowed = delete
        else:
            key = f"{label} {name}"
            assert key in ACTIONS, f"admin action {key!r} has no row in ACTIONS: add one"
            allowed = who(ACTIONS[key])
        data = {"action": name, "_selected_action": [str(obj.pk)]}
        checks.append(Check(f"{label} action {name}", "POST", url, allowed, "action", data))
    return checks


def _autocomplete_checks(model_admin, label: str) -> list[Check]:
    checks = []
    for name in model_admin.get_autocomplete_fields(_superuser_request()):
        remote = model_admin.opts.get_field(name).remote_field.model._meta.label
        query = (
            f"?app_label={model_admin.opts.app_label}&model_name={model_admin.opts.model_name}"
            f"&field_name={name}&term="
        )
        allowed = who(MODELS[remote][0])
        checks.append(
            Check(
                f"{label} autocomplete {name}",
                "GET",
                reverse("admin:autocomplete") + query,
                allowed,
            )
        )
    return checks


def _model_checks(model, model_admin, obj) -> tuple[list[Check], list[Check]]:
    label = model._meta.label
    view, add, change, delete = (who(c) for c in MODELS[label])
    see = view | change
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    pk = quote(obj.pk)
    changelist = reverse(f"{info}_changelist")
    change_url = reverse(f"{info}_change", args=[pk])
    checks = [
        Check(f"{label} changelist", "GET", changelist, see),
        Check(f"{label} changelist", "POST", changelist, see),
        Check(f"{label} add", "GET", reverse(f"{info}_add"), add),
        Check(f"{label} add", "POST", reverse(f"{info}_add"), add),
        Check(f"{label} change", "GET", change_url, see),
        Check(f"{label} change", "POST", change_url, change),
        Check(f"{label} history", "GET", reverse(f"{info}_history", args=[pk]), see),
        *_custom_checks(model_admin, obj),
        *_action_checks(model_admin, label, obj, delete),
        *_autocomplete_checks(model_admin, label),
    ]
    delete_url = reverse(f"{info}_delete", args=[pk])
    deletes = [Check(f"{label} delete", m, delete_url, delete) for m in ("GET", "POST")]
    return checks, deletes


def registered(world: dict) -> list[tuple[type, admin.ModelAdmin, object]]:
    """(model, its admin, the world's object of it) for every registered admin."""
    rows = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        assert label in MODELS, f"{label} has an admin but no row in MODELS: add one"
        assert label in world, f"{label} has an admin but admin_world() makes no object of it"
        assert not hasattr(model, "get_absolute_url"), f"{label}: view_on_site needs a row"
        rows.append((model, model_admin, world[label]))
    return rows


def admin_checks(world: dict) -> list[Check]:
    """Every admin URL and method with who may use it; deletes last."""
    checks, deletes = [*_site_checks(), *_app_checks()], []
    for model, model_admin, obj in registered(world):
        model_checks, model_deletes = _model_checks(model, model_admin, obj)
        checks += model_checks
        deletes += model_deletes
    return checks + deletes
