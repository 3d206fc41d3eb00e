"""The shipped "Recently solved" view lists the tickets solved in the last week (it listed every
solved ticket). A desk that changed the view's condition keeps its own."""

from typing import Any

from django.db import migrations

OLD = {"field": "ticket.status_category", "op": "in", "value": ["solved", "closed"]}
NEW = {
    "all": [
        {"field": "ticket.status_category", "op": "in", "value": ["solved", "closed"]},
        {"field": "ticket.solved_at", "op": "gte", "value": "$days_ago:7"},
    ]
}


def bound(apps: Any, schema_editor: Any) -> None:
    SavedView = apps.get_model("queues", "SavedView")
    for view in SavedView.objects.filter(key="recently-solved"):
        if view.condition == OLD:
            view.condition = NEW
            view.save(update_fields=["condition"])


def unbound(apps: Any, schema_editor: Any) -> None:
    SavedView = apps.get_model("queues", "SavedView")
    for view in SavedView.objects.filter(key="recently-solved"):
        if view.condition == NEW:
            view.condition = OLD
            view.save(update_fields=["condition"])


class Migration(migrations.Migration):
    dependencies = [("queues", "0001_saved_views")]

    operations = [migrations.RunPython(bound, unbound)]
