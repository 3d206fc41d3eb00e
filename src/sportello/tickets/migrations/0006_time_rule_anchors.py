from typing import Any

from django.db import migrations, models
from django.db.models import F


def backfill(apps: Any, schema_editor: Any) -> None:
    # Existing tickets: their last activity is their last update; the other anchors start at the
    # next change that sets them.
    Ticket = apps.get_model("tickets", "Ticket")
    Ticket.objects.update(last_activity_at=F("updated_at"))


class Migration(migrations.Migration):
    dependencies = [("tickets", "0005_search_combined_vectors")]

    operations = [
        migrations.AddField(
            model_name="ticket", name="status_entered_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="ticket",
            name="status_category_entered_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="ticket", name="assigned_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="ticket",
            name="last_customer_message_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="ticket", name="last_agent_reply_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="ticket", name="last_activity_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
