"""Give the staff groups the loyalty app's permissions.

A literal snapshot of `loyalty.roles` at the time of writing: a later change to the roles is a new
migration, never an edit of this one. Ledger rows, orders and refunds: view only, for everyone.
"""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

_LEDGER_VIEW = ["view_posting", "view_lot", "view_lotallocation", "view_debt", "view_account"]
_ORDERS_VIEW = ["view_order", "view_refund"]
_SERVICE = [*_LEDGER_VIEW, *_ORDERS_VIEW, "adjust_points"]

ROLE_PERMISSIONS = {
    "Marketing": [
        "view_programsettings",
        "change_programsettings",
        "view_exchangerate",
        "add_exchangerate",
        "change_exchangerate",
        "delete_exchangerate",
        *_ORDERS_VIEW,
        "view_posting",
        "view_account",
    ],
    "Customer service": _SERVICE,
    "Supervisor": [*_SERVICE, "adjust_points_unlimited", "approve_adjustment", "reverse_posting"],
    "Operator": [
        "import_orders",
        "run_jobs",
        "export_posting",
        *_ORDERS_VIEW,
        "view_posting",
        "view_account",
    ],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="loyalty", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="loyalty")


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0002_order_exchange_rate_refunded_total"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
