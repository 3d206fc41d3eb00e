"""The PostgreSQL full-text rows (`kb_search_pg`) no longer hold a foreign key to their
translation: a foreign key from a table Django does not know made the translations' table
impossible to empty with TRUNCATE (`flush`, a test database's reset). A trigger deletes a
translation's row with it instead, as SQLite's does for its FTS5 table (0002); what a TRUNCATE
leaves behind is never returned (queries join the translations) and `sportello kb reindex`
drops it."""

from __future__ import annotations

from typing import Any

from django.db import migrations

FORWARD = [
    "ALTER TABLE kb_search_pg DROP CONSTRAINT IF EXISTS kb_search_pg_translation_id_fkey",
    "CREATE OR REPLACE FUNCTION kb_search_pg_forget() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN DELETE FROM kb_search_pg WHERE translation_id = OLD.id; RETURN OLD; END $$",
    "CREATE TRIGGER kb_search_pg_delete AFTER DELETE ON kb_articletranslation "
    "FOR EACH ROW EXECUTE FUNCTION kb_search_pg_forget()",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS kb_search_pg_delete ON kb_articletranslation",
    "DROP FUNCTION IF EXISTS kb_search_pg_forget()",
    "DELETE FROM kb_search_pg WHERE translation_id NOT IN (SELECT id FROM kb_articletranslation)",
    "ALTER TABLE kb_search_pg ADD CONSTRAINT kb_search_pg_translation_id_fkey FOREIGN KEY (translation_id) "
    "REFERENCES kb_articletranslation (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
]


def _on_postgresql(statements: list[str]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("kb", "0004_search_head_index")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
