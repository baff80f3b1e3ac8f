"""The staff roles: the groups the migrations create hold exactly what the matrix says.

`<app>.roles` declares, per app, what each role may do (`ROLE_PERMISSIONS`) and what no role gets
(`NO_ROLE`). These tests walk every permission of our apps, so a model or custom permission added
without deciding who gets it, or a matrix change without a migration, fails here. The spec-level
tests at the bottom restate `../shared/spec/rules.md` ("Who may do what") independently of the
matrix.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission, User
from django.db import connection

from members.roles import (
    CUSTOMER_SERVICE,
    MARKETING,
    OPERATOR,
    ROLES,
    SUPERVISOR,
    role_permissions_sync,
)

OUR_APPS = (
    "idempotency",
    "members",
    "loyalty",
    "memberships",
    "feedback",
    "segments",
    "rewards",
    "campaigns",
    "messaging",
    "analytics",
    "webhooks",
)
LEDGER_MODELS = ("posting", "lot", "lotallocation", "debt", "account")


def _roles_module(app_label: str):
    if importlib.util.find_spec(f"{app_label}.roles") is None:
        return None
    return importlib.import_module(f"{app_label}.roles")


def _matrix() -> dict[str, set[tuple[str, str]]]:
    """Role -> {(app_label, codename)} over all our apps, from their `roles` modules."""
    matrix: dict[str, set[tuple[str, str]]] = {role: set() for role in ROLES}
    for app_label in OUR_APPS:
        module = _roles_module(app_label)
        if module is None:
            continue
        for role, codenames in module.ROLE_PERMISSIONS.items():
            matrix[role] |= {(app_label, codename) for codename in codenames}
    return matrix


def _existing_permissions() -> set[tuple[str, str]]:
    return set(
        Permission.objects.filter(content_type__app_label__in=OUR_APPS).values_list(
            "content_type__app_label", "codename"
        )
    )


def _group_permissions(role: str) -> set[tuple[str, str]]:
    return set(
        Group.objects.get(name=role)
        .permissions.filter(content_type__app_label__in=OUR_APPS)
        .values_list("content_type__app_label", "codename")
    )


def _role_user(role: str, username: str = "agent") -> User:
    user = User.objects.create_user(username=username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # a fresh instance: no cached permissions


@pytest.mark.django_db
def test_the_four_groups_exist():
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(ROLES)


@pytest.mark.django_db
def test_every_permission_of_our_apps_is_classified():
    # given every permission our apps' models declare
    existing = _existing_permissions()
    granted = set().union(*_matrix().values())
    withheld = {
        (app_label, codename)
        for app_label in OUR_APPS
        if (module := _roles_module(app_label)) is not None
        for codename in module.NO_ROLE
    }

    # then each is either given to some role or deliberately withheld, never neither nor both
    assert existing - granted - withheld == set()
    assert granted & withheld == set()
    # and the matrix names no permission that does not exist
    assert (granted | withheld) - existing == set()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_group_holds_exactly_the_matrix(role):
    # Every permission of our apps: the group has it if and only if the matrix says so.
    expected = _matrix()[role]
    for permission in sorted(_existing_permissions()):
        assert (permission in _group_permissions(role)) == (permission in expected), permission


@pytest.mark.django_db
def test_nobody_may_edit_the_ledger():
    forbidden = Permission.objects.filter(
        content_type__app_label="loyalty",
        content_type__model__in=LEDGER_MODELS,
        codename__regex=r"^(add|change|delete)_",
    )

    assert forbidden.count() == 3 * len(LEDGER_MODELS)
    assert Group.objects.filter(permissions__in=forbidden).count() == 0


@pytest.mark.django_db
def test_customer_service_reads_members_edits_contacts_adjusts_within_limits():
    user = _role_user(CUSTOMER_SERVICE)

    assert user.has_perms(["members.view_member", "members.change_member", "loyalty.adjust_points"])
    assert user.has_perm("loyalty.view_posting")
    assert not user.has_perm("loyalty.adjust_points_unlimited")
    assert not user.has_perm("loyalty.change_programsettings")
    assert not user.has_perm("loyalty.change_exchangerate")
    assert not user.has_perm("members.erase_member")
    assert not user.has_perm("loyalty.reverse_posting")


@pytest.mark.django_db
def test_supervisor_may_do_what_customer_service_may_and_more():
    customer_service = _group_permissions(CUSTOMER_SERVICE)
    supervisor = _group_permissions(SUPERVISOR)

    assert customer_service <= supervisor
    assert supervisor - customer_service >= {
        ("loyalty", "adjust_points_unlimited"),
        ("loyalty", "approve_adjustment"),
        ("loyalty", "reverse_posting"),
        ("members", "erase_member"),
    }


@pytest.mark.django_db
def test_marketing_edits_program_rules_and_reads_members_but_touches_no_points():
    user = _role_user(MARKETING)

    assert user.has_perms(
        [
            "loyalty.change_programsettings",
            "loyalty.add_exchangerate",
            "loyalty.change_exchangerate",
            "members.view_member",
            "loyalty.view_order",
            "loyalty.view_posting",
        ]
    )
    assert not user.has_perm("members.change_member")
    assert not user.has_perm("loyalty.adjust_points")
    assert not user.has_perm("loyalty.import_orders")


@pytest.mark.django_db
def test_operator_imports_exports_and_runs_jobs_only():
    user = _role_user(OPERATOR)

    assert user.has_perms(
        [
            "loyalty.import_orders",
            "loyalty.run_jobs",
            "loyalty.export_posting",
            "members.export_member",
        ]
    )
    assert not user.has_perm("members.change_member")
    assert not user.has_perm("loyalty.adjust_points")
    assert not user.has_perm("loyalty.change_programsettings")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("codename", "holders"),
    [
        ("erase_member", {SUPERVISOR}),
        ("reverse_posting", {SUPERVISOR}),
        ("approve_adjustment", {SUPERVISOR}),
        ("import_orders", {OPERATOR}),
        ("run_jobs", {OPERATOR}),
        ("export_member", {OPERATOR}),
        ("export_posting", {OPERATOR}),
        ("change_programsettings", {MARKETING}),
        ("adjust_points", {CUSTOMER_SERVICE, SUPERVISOR}),
        ("change_reward", {MARKETING}),
        ("cancel_redemption", {CUSTOMER_SERVICE, SUPERVISOR}),
        ("export_redemption", {OPERATOR}),
    ],
)
def test_sensitive_permissions_belong_to_the_right_roles(codename, holders):
    groups = Group.objects.filter(permissions__codename=codename)

    assert set(groups.values_list("name", flat=True)) == holders


@pytest.mark.django_db
def test_sync_makes_a_role_exact_within_one_app_and_leaves_other_apps_alone():
    # given Operator also holds a stray members permission
    operator = Group.objects.get(name=OPERATOR)
    operator.permissions.add(Permission.objects.get(codename="delete_member"))
    loyalty_before = _group_permissions(OPERATOR) - {("members", "delete_member")}
    loyalty_before = {p for p in loyalty_before if p[0] == "loyalty"}
    schema_editor = SimpleNamespace(connection=connection)

    # when the members matrix is synced again
    role_permissions_sync(
        apps, schema_editor, app_label="members", role_permissions={OPERATOR: ["view_member"]}
    )

    # then Operator's members permissions are exactly the new list; loyalty's are untouched
    after = _group_permissions(OPERATOR)
    assert {p for p in after if p[0] == "members"} == {("members", "view_member")}
    assert {p for p in after if p[0] == "loyalty"} == loyalty_before


@pytest.mark.django_db
def test_sync_refuses_a_codename_the_app_does_not_have():
    schema_editor = SimpleNamespace(connection=connection)

    with pytest.raises(LookupError, match="adjust_points"):
        role_permissions_sync(
            apps,
            schema_editor,
            app_label="members",
            role_permissions={OPERATOR: ["adjust_points"]},
        )
