"""The words of a translation's title and keywords, indexed apart on PostgreSQL (`kb.search`):
a request ranks first the documents whose title or keywords share a term, found through this
GIN index over the A and B weights of the stored `tsvector`, instead of ranking every document
that shares a common word. SQLite's FTS5 table needs nothing new."""

from __future__ import annotations

from typing import Any

from django.db import migrations

FORWARD = "CREATE INDEX kb_search_pg_head ON kb_search_pg USING gin (ts_filter(document, '{a,b}'))"
BACKWARD = "DROP INDEX IF EXISTS kb_search_pg_head"


def _on_postgresql(statement: str) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("kb", "0003_suggestion_version_index")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
