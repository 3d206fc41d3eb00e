"""SQLite: a new search document enters the full-text index by a trigger, in the statement that
inserts it (one statement less per new ticket). Updates keep their explicit order: the FTS5
index is told first, while the document row still holds the old text it must remove."""

from django.db import migrations

DOC_TABLE = "tickets_search_document"
FTS_TABLE = "tickets_search_fts"
TRIGGER = "tickets_search_document_fts_insert"

FORWARD = f"""
CREATE TRIGGER {TRIGGER} AFTER INSERT ON {DOC_TABLE} BEGIN
    INSERT INTO {FTS_TABLE} (rowid, subject, public_text, internal_text, fields_text)
    VALUES (new.ticket_id, new.subject, new.public_text, new.internal_text, new.fields_text);
END
"""
BACKWARD = f"DROP TRIGGER IF EXISTS {TRIGGER}"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0014_open_index_ids")]

    operations = [migrations.RunPython(forward, backward)]
