from django.db import migrations

DEFAULTS = [
    ("new", "New", "new", 10),
    ("open", "Open", "open", 20),
    ("pending", "Pending", "pending", 30),
    ("on_hold", "On hold", "on_hold", 40),
    ("solved", "Solved", "solved", 50),
    ("closed", "Closed", "closed", 60),
]


def create_defaults(apps, schema_editor):
    Status = apps.get_model("tickets", "Status")
    for key, name, category, position in DEFAULTS:
        Status.objects.get_or_create(
            key=key, defaults={"name": name, "category": category, "position": position, "is_default": True}
        )
    Sequence = apps.get_model("core", "Sequence")
    Sequence.objects.get_or_create(name="ticket", defaults={"value": 0})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial"), ("core", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
