"""The admin's authorization matrix and smoke test (#16, #17): every admin URL × every principal.

URLs come from `admin.site._registry` (changelist, add, change, history, delete, and every custom
view a `ModelAdmin.get_urls()` adds) plus the site's own pages, so a new admin is covered at once;
`MODELS` and `CUSTOM` below restate `docs/architecture.md` ("Roles") and the apps' `roles.py`
as a table, and an admin or a custom view without a row fails loudly. Each principal (the four
role groups, a superuser, a staff user in no group, an anonymous visitor) GETs and POSTs (an
empty form: nothing valid is submitted) every URL:

- anonymous: a redirect to the login page, always;
- allowed: 200 on GET; 200 (the form again, with its errors) or 302 on POST;
- not allowed: 403;
- never a 500 (the test client re-raises server errors, so one fails the test).

Deletes run last (a POST to a delete page deletes). One test per principal, each on a fresh
`admin_world()` (one object of every admin's model, built through the services).
"""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty.admin.import_progress import progress_token
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, ROLES, SUPERVISOR
from tests.hardening.admin_world import admin_world
from tests.loyalty.staff import staff_user

ROLE_CODES = {MARKETING: "M", CUSTOMER_SERVICE: "CS", SUPERVISOR: "S", OPERATOR: "O"}
PRINCIPALS = [*ROLE_CODES.values(), "SU", "STAFF", "ANON"]

# model label: (view, add, change, delete): who may, by role code. SU: superuser. "View" means
# the changelist, the change page read-only and the history; "change" the change page's POST.
# docs/architecture.md: nobody adds, changes or deletes ledger rows, orders, refunds, import runs,
# tier states or the tier history; members are never deleted and only superusers add them.
MODELS: dict[str, tuple[str, str, str, str]] = {
    "auth.Group": ("SU", "SU", "SU", "SU"),
    "auth.User": ("SU", "SU", "SU", "SU"),
    "rest_framework_api_key.APIKey": ("SU", "SU", "SU", "SU"),
    "members.AuditEntry": ("S O SU", "", "", ""),
    "members.Member": ("M CS S O SU", "SU", "CS S SU", ""),
    "loyalty.AdjustmentRequest": ("CS S SU", "", "", ""),
    "loyalty.ImportRun": ("O SU", "", "", ""),
    "loyalty.ImportProfile": ("O SU", "O SU", "O SU", "O SU"),
    "loyalty.Posting": ("M CS S O SU", "", "", ""),
    "loyalty.Lot": ("CS S SU", "", "", ""),
    "loyalty.Debt": ("CS S SU", "", "", ""),
    "loyalty.Account": ("M CS S O SU", "", "", ""),
    "loyalty.Order": ("M CS S O SU", "", "", ""),
    "loyalty.Refund": ("M CS S O SU", "", "", ""),
    "loyalty.ProgramSettings": ("M SU", "", "M SU", ""),
    "loyalty.ExchangeRate": ("M SU", "M SU", "M SU", "M SU"),
    "loyalty.Perk": ("M CS S O SU", "M SU", "M SU", "M SU"),
    "loyalty.Tier": ("M CS S O SU", "M SU", "M SU", "M SU"),
    "loyalty.MemberTier": ("M CS S O SU", "", "", ""),
    "loyalty.TierChange": ("M CS S O SU", "", "", ""),
    "rewards.Reward": ("M CS S O SU", "M SU", "M SU", "M SU"),
    "rewards.StockMovement": ("M CS S O SU", "", "", ""),
    "rewards.Redemption": ("M CS S O SU", "", "", ""),
    "campaigns.Campaign": ("M CS S O SU", "M SU", "M SU", ""),
    "campaigns.CampaignAward": ("M CS S O SU", "", "", ""),
    "campaigns.Referral": ("M CS S O SU", "", "", ""),
    # Feedback is written by the storefront only; Operators do not read it.
    "feedback.Feedback": ("M CS S SU", "", "", ""),
    # The job queue (PostgreSQL only): Operators watch it (retrying is an action of the list).
    "procrastinate.ProcrastinateJob": ("O SU", "", "", ""),
}

# Custom admin views (URL name without "admin:"): who may open and submit them.
CUSTOM: dict[str, str] = {
    "auth_user_password_change": "SU",
    "loyalty_adjustmentrequest_approve": "S SU",
    "loyalty_adjustmentrequest_reject": "S SU",
    "loyalty_importrun_import": "O SU",
    "loyalty_importrun_errors": "O SU",
    "loyalty_importrun_progress": "O SU",
    "loyalty_importrun_progress_status": "O SU",
    "loyalty_posting_reverse": "S SU",
    "loyalty_posting_export": "O SU",
    "members_member_adjust_points": "CS S SU",
    "members_member_status": "CS S SU",
    "members_member_erase": "S SU",
    "members_member_export": "O SU",
    "loyalty_membertier_override": "M S SU",
    "loyalty_membertier_override_end": "M S SU",
    "rewards_reward_stock": "M SU",
    "rewards_redemption_cancel": "CS S SU",
    "rewards_redemption_export": "O SU",
    "campaigns_campaign_preview": "M CS S O SU",
    "campaigns_campaign_results": "M CS S O SU",
}

# Pages that answer an allowed GET with a redirect: the program settings are one record (the list
# opens it); a rejection is a POST from the request's page, which a GET is sent back to.
GET_REDIRECTS = {"loyalty.ProgramSettings changelist", "loyalty_adjustmentrequest_reject"}

# The site's own pages: every staff user may open them.
SITE = {
    "admin:index": "M CS S O SU STAFF",
    "admin-dashboard": "M CS S O SU",
    "admin-jobs": "O SU",  # loyalty.run_jobs
}

STANDARD = ("changelist", "add", "history", "delete", "change")


def _who(codes: str) -> set[str]:
    return set(codes.split())


def _custom_urls(model_admin, obj) -> list[tuple[str, str]]:
    """(name, URL) of the admin's own views, with the world's object for a path argument."""
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
    urls = []
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None)
        if not name or name in {f"{info}_{s}" for s in STANDARD}:
            continue
        arguments = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
        url = reverse(f"admin:{name}", kwargs={a: _argument(a, obj) for a in arguments})
        urls.append((name, url))
    return urls


def _argument(name: str, obj) -> str:
    """A custom view's path argument: the object's key, or an import's progress token."""
    if name == "token":
        return progress_token(checksum="0" * 64, name="w.csv", since=timezone.now(), job_id=None)
    return quote(obj.pk)


def _checks(world: dict) -> list[tuple[str, str, str, set[str]]]:
    """(what, method, URL, who may) for every admin URL; deletes last."""
    checks, deletes = [], []
    for url_name, who in SITE.items():
        url = reverse(url_name)
        checks += [(url_name, "GET", url, _who(who)), (url_name, "POST", url, _who(who))]
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        assert label in MODELS, f"{label} has an admin but no row in MODELS: add one"
        assert label in world, f"{label} has an admin but admin_world() makes no object of it"
        view, add, change, delete = (_who(c) for c in MODELS[label])
        obj = world[label]
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        see = view | change
        pk = quote(obj.pk)
        checks += [
            (f"{label} changelist", "GET", reverse(f"{info}_changelist"), see),
            (f"{label} changelist", "POST", reverse(f"{info}_changelist"), see),
            (f"{label} add", "GET", reverse(f"{info}_add"), add),
            (f"{label} add", "POST", reverse(f"{info}_add"), add),
            (f"{label} change", "GET", reverse(f"{info}_change", args=[pk]), see),
            (f"{label} change", "POST", reverse(f"{info}_change", args=[pk]), change),
            (f"{label} history", "GET", reverse(f"{info}_history", args=[pk]), see),
        ]
        for name, url in _custom_urls(model_admin, obj):
            assert name in CUSTOM, f"custom admin view {name} has no row in CUSTOM: add one"
            checks += [
                (name, "GET", url, _who(CUSTOM[name])),
                (name, "POST", url, _who(CUSTOM[name])),
            ]
        delete_url = reverse(f"{info}_delete", args=[pk])
        deletes += [
            (f"{label} delete", "GET", delete_url, delete),
            (f"{label} delete", "POST", delete_url, delete),
        ]
    return checks + deletes


def _client(principal: str) -> Client:
    client = Client()
    if principal == "ANON":
        return client
    role = next((r for r, code in ROLE_CODES.items() if code == principal), None)
    user = staff_user(role, f"matrix-{principal.lower()}", superuser=principal == "SU")
    client.force_login(user)
    return client


def _outcome(principal: str, what: str, method: str, allowed: bool, response) -> str | None:
    """What is wrong with the response, or None."""
    status = response.status_code
    if principal == "ANON":
        location = response.get("Location", "")
        ok = status == HTTPStatus.FOUND and location.startswith(reverse("admin:login"))
        return None if ok else f"{status} {location}, not a redirect to the login page"
    if not allowed:
        return None if status == HTTPStatus.FORBIDDEN else f"{status}, not 403"
    if method == "GET" and what not in GET_REDIRECTS:
        return None if status == HTTPStatus.OK else f"{status}, not 200"
    return None if status in (HTTPStatus.OK, HTTPStatus.FOUND) else f"{status}, not 200/302"


def test_every_role_has_a_principal():
    assert set(ROLE_CODES) == set(ROLES), "a role was added: give it a code and table columns"


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_admin_url_answers_as_the_roles_say(db, principal, settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = str(tmp_path)
    world = admin_world()
    client = _client(principal)
    wrong = []
    for what, method, url, who in _checks(world):
        allowed = principal in who
        response = client.get(url) if method == "GET" else client.post(url, {})
        problem = _outcome(principal, what, method, allowed, response)
        if problem:
            verdict = "allowed" if allowed else "denied"
            wrong.append(f"{principal} {method} {url} ({what}, {verdict}): {problem}")
    assert wrong == [], "\n".join(wrong)
