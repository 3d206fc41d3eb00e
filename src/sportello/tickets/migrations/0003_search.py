"""Full-text search: the search document table plus its per-backend index.

PostgreSQL: the `unaccent` extension when it can be created (it is a trusted extension, so a
database owner can), a text search configuration `sportello_search` (a copy of `simple` with
`unaccent` in front when available), four weighted `tsvector` columns and two GIN expression
indexes (public text; public text and internal notes).
SQLite: an external-content FTS5 table over the document table, `unicode61 remove_diacritics 2`.

Existing tickets are indexed here; new changes are indexed by the pipeline (`tickets.search`).
Keep the names in step with `sportello/tickets/search.py`.
"""

import django.db.models.deletion
from django.db import migrations, models

TS_CONFIG = "sportello_search"
FTS_TABLE = "tickets_search_fts"
DOC_TABLE = "tickets_search_document"
MESSAGE_CHARS_MAX = 150_000
MESSAGE_PART_MAX = 50_000
FIELDS_CHARS_MAX = 10_000
MARKS = {0xE000: " ", 0xE001: " "}

PG_FORWARD = [
    """
    DO $$
    BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE USING MESSAGE = 'unaccent is not available, search will not fold accents: ' || SQLERRM;
    END
    $$
    """,
    f"CREATE TEXT SEARCH CONFIGURATION {TS_CONFIG} (COPY = pg_catalog.simple)",
    f"""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'unaccent') THEN
            ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG}
                ALTER MAPPING FOR word, hword, hword_part, numword, numhword, hword_numpart
                WITH unaccent, simple;
        END IF;
    END
    $$
    """,
    f"""
    ALTER TABLE {DOC_TABLE}
        ADD COLUMN vec_subject tsvector NOT NULL DEFAULT ''::tsvector,
        ADD COLUMN vec_fields tsvector NOT NULL DEFAULT ''::tsvector,
        ADD COLUMN vec_public tsvector NOT NULL DEFAULT ''::tsvector,
        ADD COLUMN vec_internal tsvector NOT NULL DEFAULT ''::tsvector
    """,
    f"""
    CREATE INDEX tickets_search_public_gin ON {DOC_TABLE}
        USING gin ((vec_subject || vec_fields || vec_public))
    """,
    f"""
    CREATE INDEX tickets_search_all_gin ON {DOC_TABLE}
        USING gin ((vec_subject || vec_fields || vec_public || vec_internal))
    """,
]
PG_BACKFILL = f"""
    UPDATE {DOC_TABLE} SET
        vec_subject = setweight(to_tsvector('{TS_CONFIG}', subject), 'A'),
        vec_fields = setweight(to_tsvector('{TS_CONFIG}', fields_text), 'C'),
        vec_public = setweight(to_tsvector('{TS_CONFIG}', public_text), 'B'),
        vec_internal = setweight(to_tsvector('{TS_CONFIG}', internal_text), 'B')
"""
PG_BACKWARD = [
    "DROP INDEX IF EXISTS tickets_search_all_gin",
    "DROP INDEX IF EXISTS tickets_search_public_gin",
    f"""
    ALTER TABLE {DOC_TABLE}
        DROP COLUMN IF EXISTS vec_subject, DROP COLUMN IF EXISTS vec_fields,
        DROP COLUMN IF EXISTS vec_public, DROP COLUMN IF EXISTS vec_internal
    """,
    f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {TS_CONFIG}",
]
SQLITE_FORWARD = [
    f"""
    CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        subject, public_text, internal_text, fields_text,
        content='{DOC_TABLE}', content_rowid='ticket_id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    )
    """,
]
SQLITE_BACKFILL = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"
SQLITE_BACKWARD = [f"DROP TABLE IF EXISTS {FTS_TABLE}"]


def _clip(text, limit):
    return text.translate(MARKS)[:limit]


def _message_part(body, used):
    # As `tickets.search._message_part` at the time of this migration.
    room = min(MESSAGE_PART_MAX, MESSAGE_CHARS_MAX - used) - 2
    text = body[:room] if room > 0 else ""
    if len(body) > len(text) and text:
        text = text[: max(text.rfind(" "), text.rfind("\n"), 0)]
    return text.translate(MARKS) + "\n\n" if text.strip() else ""


def build_documents(apps, schema_editor):
    """One document per existing ticket, from its subject, messages and text custom fields."""
    Ticket = apps.get_model("tickets", "Ticket")
    Message = apps.get_model("tickets", "Message")
    CustomField = apps.get_model("tickets", "CustomField")
    Document = apps.get_model("tickets", "TicketSearchDocument")
    db = schema_editor.connection.alias
    text_keys = set(
        CustomField.objects.using(db).filter(type__in=["text", "long_text"]).values_list("key", flat=True)
    )
    batch = []
    for ticket in Ticket.objects.using(db).only("pk", "subject", "custom_fields").iterator(chunk_size=500):
        values = ticket.custom_fields or {}
        fields = "\n".join(
            str(values[k]) for k in sorted(values) if k in text_keys and isinstance(values[k], str)
        )
        doc = Document(
            ticket_id=ticket.pk,
            subject=_clip(ticket.subject, 1000),
            fields_text=_clip(fields, FIELDS_CHARS_MAX),
        )
        public, internal, used = [], [], 0
        for is_public, body in (
            Message.objects.using(db)
            .filter(ticket_id=ticket.pk)
            .order_by("created_at", "id")
            .values_list("public", "body_text")
        ):
            part = _message_part(body, used)
            used += len(part)
            if part:
                (public if is_public else internal).append(part)
        doc.public_text, doc.internal_text, doc.message_chars = "".join(public), "".join(internal), used
        batch.append(doc)
        if len(batch) >= 500:
            Document.objects.using(db).bulk_create(batch)
            batch = []
    Document.objects.using(db).bulk_create(batch)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for sql in PG_FORWARD:
            schema_editor.execute(sql)
    elif vendor == "sqlite":
        for sql in SQLITE_FORWARD:
            schema_editor.execute(sql)
    build_documents(apps, schema_editor)
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKFILL)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKFILL)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_default_statuses")]

    operations = [
        migrations.CreateModel(
            name="TicketSearchDocument",
            fields=[
                (
                    "ticket",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="tickets.ticket",
                    ),
                ),
                ("subject", models.TextField(blank=True, default="")),
                ("public_text", models.TextField(blank=True, default="")),
                ("internal_text", models.TextField(blank=True, default="")),
                ("fields_text", models.TextField(blank=True, default="")),
                ("message_chars", models.PositiveIntegerField(default=0)),
            ],
            options={"db_table": "tickets_search_document"},
        ),
        migrations.RunPython(forward, backward),
    ]
