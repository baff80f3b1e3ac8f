"""Operators see import runs and manage import profiles.

Additive on purpose (like 0005): it grants these permissions to the Operator group and leaves
every other loyalty permission of the groups as earlier role migrations set them. Import runs have
no add/change/delete for anyone: the import writes them.
"""

from django.db import migrations

CODENAMES = (
    "view_importrun",
    "view_importprofile",
    "add_importprofile",
    "change_importprofile",
    "delete_importprofile",
)
ROLES = ("Operator",)


def forwards(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("loyalty"), verbosity=0, apps=apps, using=db)
    permissions = (
        apps.get_model("auth", "Permission")
        .objects.using(db)
        .filter(content_type__app_label="loyalty", codename__in=CODENAMES)
    )
    if permissions.count() != len(CODENAMES):
        raise LookupError(f"loyalty is missing some of {CODENAMES}")
    group_model = apps.get_model("auth", "Group")
    for role in ROLES:
        group, _ = group_model.objects.using(db).get_or_create(name=role)
        group.permissions.add(*permissions)


def backwards(apps, schema_editor):
    db = schema_editor.connection.alias
    group_model = apps.get_model("auth", "Group")
    for group in group_model.objects.using(db).filter(name__in=ROLES):
        group.permissions.remove(
            *group.permissions.filter(content_type__app_label="loyalty", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0006_import_runs_and_profiles"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
