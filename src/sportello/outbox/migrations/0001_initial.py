# The outbox's models, until now in the app `channels` (see `channels.0007`), enter this app's
# state on the tables they always had (`db_table`): no table is created, renamed or copied.
# The content types follow them (permissions and admin history keep pointing at them), and
# delivery jobs queued before the upgrade run under the jobs' new module.

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models
from django.db.models import Value
from django.db.models.functions import Concat, Substr

MODELS = ("outboxmessage", "webhooksecret", "autoreply")
OLD_JOBS, NEW_JOBS = "sportello.channels.tasks.", "sportello.outbox.jobs."


def _relabel(apps, old, new):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def move_content_types(apps, schema_editor):  # type: ignore[no-untyped-def]
    _relabel(apps, "channels", "outbox")


def move_content_types_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    _relabel(apps, "outbox", "channels")


def _repath(apps, old, new):  # type: ignore[no-untyped-def]
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    DBTaskResult.objects.filter(task_path__startswith=old).update(
        task_path=Concat(Value(new), Substr("task_path", len(old) + 1))
    )


def move_queued_jobs(apps, schema_editor):  # type: ignore[no-untyped-def]
    _repath(apps, OLD_JOBS, NEW_JOBS)


def move_queued_jobs_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    _repath(apps, NEW_JOBS, OLD_JOBS)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("channels", "0007_outbox_models_to_outbox_app"),
        ("tickets", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WebhookSecret",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=100, unique=True)),
                        ("secret", models.TextField()),
                        ("previous", models.TextField(blank=True, default="")),
                        ("previous_until", models.DateTimeField(blank=True, null=True)),
                        ("version", models.PositiveIntegerField(default=1)),
                        ("created_at", models.DateTimeField()),
                        ("rotated_at", models.DateTimeField(blank=True, null=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "rotated_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "channels_webhooksecret",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="AutoReply",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("recipient", models.EmailField(max_length=254)),
                        ("sent_at", models.DateTimeField()),
                        (
                            "ticket",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tickets.ticket",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "channels_autoreply",
                        "ordering": ["sent_at", "id"],
                        "indexes": [
                            models.Index(fields=["recipient", "sent_at"], name="autoreply_recipient")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="OutboxMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("kind", models.CharField(max_length=20)),
                        ("destination", models.CharField(blank=True, default="", max_length=300)),
                        ("change_id", models.UUIDField(blank=True, null=True)),
                        ("dedupe_key", models.CharField(max_length=200, unique=True)),
                        ("delivery_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("payload", models.JSONField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("sent", "Sent"),
                                    ("failed", "Failed"),
                                    ("parked", "Parked"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField()),
                        ("lease_until", models.DateTimeField(blank=True, null=True)),
                        ("lease_owner", models.CharField(blank=True, default="", max_length=64)),
                        ("window_start", models.DateTimeField(blank=True, null=True)),
                        ("parked_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True, default="")),
                        ("created_at", models.DateTimeField()),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "ticket",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="outbox",
                                to="tickets.ticket",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "channels_outboxmessage",
                        "ordering": ["id"],
                        "indexes": [
                            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
                            models.Index(fields=["ticket", "id"], name="outbox_ticket"),
                            models.Index(fields=["destination", "status"], name="outbox_destination"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
        migrations.RunPython(move_queued_jobs, move_queued_jobs_back),
    ]
