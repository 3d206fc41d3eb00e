"""A narrow index behind the suggestion cache's version check (`kb.suggest._version`): the
latest change time, the embedding model and the count of translations are read from it instead
of a scan of the translations' rows (their texts and vectors), on both databases."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("kb", "0002_search")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX kb_translation_version ON kb_articletranslation (updated_at, embedding_model)",
            "DROP INDEX kb_translation_version",
        )
    ]
