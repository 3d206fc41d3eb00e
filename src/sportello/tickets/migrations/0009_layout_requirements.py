"""A layout's `required` flag becomes who must fill the field and when: agents (`to_solve`, or
`always`) and the customer (`required_from_customer`). A field required before was required of
agents on every change (and refused mail that could not fill it): it becomes `always` — agents
keep meeting it, the customer's mail no longer fails on it."""

from django.db import migrations, models


def _forwards(apps, schema_editor):
    LayoutField = apps.get_model("tickets", "LayoutField")
    LayoutField.objects.filter(was_required=True).update(required="always")


def _backwards(apps, schema_editor):
    LayoutField = apps.get_model("tickets", "LayoutField")
    LayoutField.objects.filter(required__in=["always", "to_solve"]).update(was_required=True)


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0008_message_subject"),
    ]

    operations = [
        migrations.RenameField(model_name="layoutfield", old_name="required", new_name="was_required"),
        migrations.AddField(
            model_name="layoutfield",
            name="required",
            field=models.CharField(
                choices=[
                    ("none", "Optional"),
                    ("to_solve", "Required to solve"),
                    ("always", "Required on every change"),
                ],
                default="none",
                max_length=10,
            ),
        ),
        migrations.RunPython(_forwards, _backwards),
        migrations.RemoveField(model_name="layoutfield", name="was_required"),
        migrations.AddField(
            model_name="layoutfield",
            name="required_from_customer",
            field=models.BooleanField(default=False),
        ),
    ]
