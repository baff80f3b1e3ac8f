"""Customer service and Supervisors see adjustment requests (`view_adjustmentrequest`).

Additive on purpose: it grants this one permission and leaves every other loyalty permission of
the groups as earlier role migrations set them (the table is created in 0004). Requests have no
add/change/delete permission at all (`default_permissions = ("view",)`): services make and decide
them; deciding is `approve_adjustment`.
"""

from django.db import migrations

CODENAME = "view_adjustmentrequest"
ROLES = ("Customer service", "Supervisor")


def forwards(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("loyalty"), verbosity=0, apps=apps, using=db)
    permission = (
        apps.get_model("auth", "Permission")
        .objects.using(db)
        .get(content_type__app_label="loyalty", codename=CODENAME)
    )
    group_model = apps.get_model("auth", "Group")
    for role in ROLES:
        group, _ = group_model.objects.using(db).get_or_create(name=role)
        group.permissions.add(permission)


def backwards(apps, schema_editor):
    db = schema_editor.connection.alias
    group_model = apps.get_model("auth", "Group")
    for group in group_model.objects.using(db).filter(name__in=ROLES):
        group.permissions.remove(
            *group.permissions.filter(content_type__app_label="loyalty", codename=CODENAME)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0004_tiers"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
