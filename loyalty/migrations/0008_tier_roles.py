"""Tiers and perks: Marketing edits them; every role sees them; Marketing and Supervisor override.

Additive (like 0005 and 0007): it grants these permissions and leaves every other loyalty
permission of the groups as earlier role migrations set them. Members' tier states and the tier
history are written by the services only (no add/change/delete for anyone); Customer service sees
tiers but cannot change them.
"""

from django.db import migrations

_VIEW = ["view_tier", "view_perk", "view_membertier", "view_tierchange"]
_EDIT = [f"{action}_{model}" for model in ("tier", "perk") for action in ("add", "change", "delete")]

GRANTS = {
    "Marketing": [*_VIEW, *_EDIT, "override_tier"],
    "Customer service": _VIEW,
    "Supervisor": [*_VIEW, "override_tier"],
    "Operator": _VIEW,
}


def forwards(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("loyalty"), verbosity=0, apps=apps, using=db)
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    for role, codenames in GRANTS.items():
        permissions = permission_model.objects.using(db).filter(
            content_type__app_label="loyalty", codename__in=codenames
        )
        if permissions.count() != len(codenames):
            raise LookupError(f"loyalty is missing some of {codenames}")
        group, _ = group_model.objects.using(db).get_or_create(name=role)
        group.permissions.add(*permissions)


def backwards(apps, schema_editor):
    db = schema_editor.connection.alias
    group_model = apps.get_model("auth", "Group")
    for group in group_model.objects.using(db).filter(name__in=GRANTS):
        group.permissions.remove(
            *group.permissions.filter(
                content_type__app_label="loyalty", codename__in=GRANTS[group.name]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0007_import_roles"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
