from django.db import migrations, models
from django.utils.text import slugify


def fill_team_slugs(apps, schema_editor):
    """Existing teams get the slug `team_create` would give them, oldest first."""
    Team = apps.get_model("accounts", "Team")
    taken: set[str] = set()
    for team in Team.objects.select_related("department").order_by("id"):
        team.slug = unique_slug(team.name, team.department.slug, taken)
        taken.add(team.slug)
        team.save(update_fields=["slug"])


def unique_slug(name, department_slug, taken):
    base = slugify(name)[:50] or "team"
    for candidate in (base, f"{department_slug}-{base}"[:50]):
        if candidate not in taken:
            return candidate
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_sign_in_throttle"),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="slug",
            field=models.SlugField(max_length=60, null=True, db_index=False),
        ),
        migrations.RunPython(fill_team_slugs, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="team",
            name="slug",
            field=models.SlugField(max_length=60, unique=True),
        ),
    ]
