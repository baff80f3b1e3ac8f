"""Staff roles: the four groups and what each may do with this app's models.

The matrix is declarative. Every app that has models keeps its own `<app>/roles.py` with
`ROLE_PERMISSIONS` (role name -> permission codenames of that app) and `NO_ROLE` (codenames no
role gets: superusers only). A data migration in the same app snapshots both (a literal copy, so
the migration keeps meaning what it meant when later code changes) and calls
`role_permissions_sync`, which makes each role's permissions *within that app* exactly the
snapshot. The test `tests/members/test_roles.py` checks that every permission of our apps is
classified (granted to some role or listed in `NO_ROLE`) and that the database matches the
matrix, so a model or permission added without a roles migration fails the suite.

Rules (`docs/architecture.md`, "Roles"): Marketing edits program rules and reads members and
reports; Customer service reads members, edits contact details and adjusts points within limits;
Supervisor may do what customer service may without limits, reverses postings and erases
members; Operator imports, exports and runs jobs. Nobody edits ledger rows. Groups give
permissions only: a user also needs `is_staff` to log in to the admin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MARKETING = "Marketing"
CUSTOMER_SERVICE = "Customer service"
SUPERVISOR = "Supervisor"
OPERATOR = "Operator"
ROLES = (MARKETING, CUSTOMER_SERVICE, SUPERVISOR, OPERATOR)

# Customer service reads members and edits contact details; suspending and reactivating a member
# is also a change of the member (audited, with a reason).
_SERVICE = ["view_member", "change_member"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: ["view_member"],
    CUSTOMER_SERVICE: _SERVICE,
    SUPERVISOR: [*_SERVICE, "erase_member", "view_auditentry"],
    OPERATOR: ["view_member", "export_member", "view_auditentry"],
}

# The job queue (Procrastinate's models, app label `procrastinate`): Operators watch it and retry
# or cancel jobs (`change_procrastinatejob` is what `jobs.admin` asks for those actions). Nobody
# edits jobs otherwise. Snapshotted by members/migrations/0004_job_roles.py.
JOB_ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATOR: [
        "view_procrastinatejob",
        "change_procrastinatejob",
        "view_procrastinateevent",
        "view_procrastinateworker",
        "view_procrastinateperiodicdefer",
    ],
}

# Members are enrolled by the storefront (API) and never deleted (erasure keeps the row); the
# audit log is append-only.
NO_ROLE = [
    "add_member",
    "delete_member",
    "add_auditentry",
    "change_auditentry",
    "delete_auditentry",
]


def role_permissions_sync(
    apps,
    schema_editor,
    *,
    app_label: str,
    role_permissions: Mapping[str, Sequence[str]],
) -> None:
    """Make each role's permissions within `app_label` exactly `role_permissions[role]`.

    For data migrations: it uses only the historical `apps` registry and the auth and
    contenttypes models, whose shape does not change, so old migrations keep working. Django
    creates permissions after `migrate`, so this creates the app's content types and permissions
    first. Groups are created when missing; permissions of other apps are left alone. A codename
    the app does not have is an error, not a silent no-op.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    # `create_permissions` looks the app up again in the historical `apps` by label.
    create_permissions(global_apps.get_app_config(app_label), verbosity=0, apps=apps, using=db)

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    app_permissions = {
        p.codename: p
        for p in permission_model.objects.using(db).filter(content_type__app_label=app_label)
    }
    for role, codenames in role_permissions.items():
        unknown = sorted(set(codenames) - set(app_permissions))
        if unknown:
            raise LookupError(f"{app_label} has no permission(s) {unknown} (role {role!r})")
        group, _ = group_model.objects.using(db).get_or_create(name=role)
        wanted = {app_permissions[c].pk for c in codenames}
        current = set(
            group.permissions.filter(content_type__app_label=app_label).values_list("pk", flat=True)
        )
        group.permissions.remove(*(current - wanted))
        group.permissions.add(*(wanted - current))


def role_permissions_revoke(apps, schema_editor, *, app_label: str) -> None:
    """Reverse of `role_permissions_sync`: take the app's permissions away from every role."""
    db = schema_editor.connection.alias
    group_model = apps.get_model("auth", "Group")
    for group in group_model.objects.using(db).filter(name__in=ROLES):
        group.permissions.remove(*group.permissions.filter(content_type__app_label=app_label))
