"""Full-text search on PostgreSQL: store the two documents a search looks at, not their parts.

Migration 0003 kept four weighted `tsvector` columns (subject, fields, public messages,
internal notes) and indexed two *expressions* that concatenate them. Every search then
concatenated the four vectors again for every matching row in order to rank it, which made
frequent words cost seconds. This migration replaces them with the two concatenations as real
columns, each with its own GIN index:

- `doc_public`: subject (A) || text fields (C) || public messages (B) — what customers search;
- `doc_all`: `doc_public` || internal notes (B) — what agents search.

Real columns also give the planner statistics on the lexemes (ANALYZE collects them for
`tsvector` columns), so it can tell a rare word (use the GIN index) from a frequent one (walk
the tickets by recency). SQLite is unchanged (FTS5).

Keep the names and expressions in step with `sportello/tickets/search.py`.
"""

from django.db import migrations

TS_CONFIG = "sportello_search"
DOC_TABLE = "tickets_search_document"
IN_ORDER = "sportello_search_in_order"


def _vec(column: str, weight: str) -> str:
    return f"setweight(to_tsvector('{TS_CONFIG}', {column}), '{weight}')"


PG_FORWARD = [
    f"""
    ALTER TABLE {DOC_TABLE}
        ADD COLUMN doc_public tsvector NOT NULL DEFAULT ''::tsvector,
        ADD COLUMN doc_all tsvector NOT NULL DEFAULT ''::tsvector
    """,
    # From the stored parts: no text is parsed again.
    """
    UPDATE tickets_search_document SET
        doc_public = vec_subject || vec_fields || vec_public,
        doc_all = vec_subject || vec_fields || vec_public || vec_internal
    """,
    "DROP INDEX IF EXISTS tickets_search_public_gin",
    "DROP INDEX IF EXISTS tickets_search_all_gin",
    f"""
    ALTER TABLE {DOC_TABLE}
        DROP COLUMN vec_subject, DROP COLUMN vec_fields, DROP COLUMN vec_public, DROP COLUMN vec_internal
    """,
    f"CREATE INDEX tickets_search_doc_public_gin ON {DOC_TABLE} USING gin (doc_public)",
    f"CREATE INDEX tickets_search_doc_all_gin ON {DOC_TABLE} USING gin (doc_all)",
    # A search reads its window slice by slice and stops when it is full; that only works when
    # the slices run one after the other. Naming this parallel-unsafe function in the query keeps
    # the planner from running the slices side by side (a Parallel Append).
    f"""
    CREATE FUNCTION {IN_ORDER}() RETURNS boolean
        LANGUAGE plpgsql STABLE PARALLEL UNSAFE AS $$ BEGIN RETURN true; END $$
    """,
]
PG_BACKWARD = [
    f"DROP FUNCTION IF EXISTS {IN_ORDER}()",
    "DROP INDEX IF EXISTS tickets_search_doc_public_gin",
    "DROP INDEX IF EXISTS tickets_search_doc_all_gin",
    f"""
    ALTER TABLE {DOC_TABLE}
        ADD COLUMN vec_subject tsvector NOT NULL DEFAULT ''::tsvector,
        ADD COLUMN vec_fields tsvector NOT NULL DEFAULT ''::tsvector,
        ADD COLUMN vec_public tsvector NOT NULL DEFAULT ''::tsvector,
        ADD COLUMN vec_internal tsvector NOT NULL DEFAULT ''::tsvector
    """,
    f"""
    UPDATE tickets_search_document SET
        vec_subject = {_vec("subject", "A")},
        vec_fields = {_vec("fields_text", "C")},
        vec_public = {_vec("public_text", "B")},
        vec_internal = {_vec("internal_text", "B")}
    """,  # noqa: S608 - fixed SQL
    f"ALTER TABLE {DOC_TABLE} DROP COLUMN doc_public, DROP COLUMN doc_all",
    f"""
    CREATE INDEX tickets_search_public_gin ON {DOC_TABLE}
        USING gin ((vec_subject || vec_fields || vec_public))
    """,
    f"""
    CREATE INDEX tickets_search_all_gin ON {DOC_TABLE}
        USING gin ((vec_subject || vec_fields || vec_public || vec_internal))
    """,
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in PG_FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in PG_BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0004_fewer_duplicate_indexes")]

    operations = [migrations.RunPython(forward, backward)]
