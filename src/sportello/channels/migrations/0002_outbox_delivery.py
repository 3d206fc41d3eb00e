import uuid

from django.db import migrations, models


def fill_delivery_ids(apps, schema_editor):
    OutboxMessage = apps.get_model("channels", "OutboxMessage")
    for pk in OutboxMessage.objects.values_list("pk", flat=True).iterator():
        OutboxMessage.objects.filter(pk=pk).update(delivery_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="delivery_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(fill_delivery_ids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="outboxmessage",
            name="delivery_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="outboxmessage",
            name="lease_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="outboxmessage",
            index=models.Index(fields=["ticket", "id"], name="outbox_ticket"),
        ),
        migrations.CreateModel(
            name="WebhookSecret",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("secret", models.CharField(max_length=500)),
                ("created_at", models.DateTimeField()),
            ],
        ),
    ]
