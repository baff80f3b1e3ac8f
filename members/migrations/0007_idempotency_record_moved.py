# The idempotency records now belong to the bottom-layer `idempotency` app (its own table,
# idempotency_record). The stored answers still within their 24 hours are copied across, then
# this app's table goes, with the content type and permissions Django made for it.

from django.db import migrations


def records_copy(apps, schema_editor):
    old = apps.get_model("members", "IdempotencyRecord")
    new = apps.get_model("idempotency", "IdempotencyRecord")
    fields = ("api_key_id", "key", "endpoint", "fingerprint", "response_status", "response_body")
    batch = []
    for record in old.objects.order_by("pk").iterator(chunk_size=2000):
        batch.append(new(created_at=record.created_at, **{f: getattr(record, f) for f in fields}))
        if len(batch) == 2000:
            new.objects.bulk_create(batch)
            batch = []
    new.objects.bulk_create(batch)


def stale_content_type_delete(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="members", model="idempotencyrecord").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0006_cache_table"),
        ("idempotency", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(records_copy, migrations.RunPython.noop),
        migrations.DeleteModel(name="IdempotencyRecord"),
        migrations.RunPython(stale_content_type_delete, migrations.RunPython.noop),
    ]
