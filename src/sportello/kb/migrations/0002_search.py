"""Full-text search of translations (SQLite FTS5 table, or PostgreSQL `unaccent` with one text
search configuration per language and a tsvector table with a GIN index) and the suggestion
events behind the deflection figures."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE kb_search_fts USING fts5("
    "title, keywords, body, tokenize = 'unicode61 remove_diacritics 2')",
    # The row of a deleted translation goes with it.
    "CREATE TRIGGER kb_search_fts_delete AFTER DELETE ON kb_articletranslation "
    "BEGIN DELETE FROM kb_search_fts WHERE rowid = old.id; END",
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS kb_search_fts_delete", "DROP TABLE IF EXISTS kb_search_fts"]

_PG_CONFIGS = {"sportello_en": "english", "sportello_es": "spanish", "sportello_it": "italian", "sportello_simple": "simple"}

PG_FORWARD = ["CREATE EXTENSION IF NOT EXISTS unaccent"]
for _name, _base in _PG_CONFIGS.items():
    _stem = "simple" if _base == "simple" else f"{_base}_stem"
    PG_FORWARD += [
        f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {_name}",
        f"CREATE TEXT SEARCH CONFIGURATION {_name} (COPY = pg_catalog.{_base})",
        # Accents folded before the language's own stemmer (and its stop words).
        f"ALTER TEXT SEARCH CONFIGURATION {_name} ALTER MAPPING FOR hword, hword_part, word "
        f"WITH unaccent, {_stem}",
    ]
PG_FORWARD += [
    "CREATE TABLE kb_search_pg ("
    " translation_id integer PRIMARY KEY REFERENCES kb_articletranslation (id)"
    " ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,"
    " document tsvector NOT NULL)",
    "CREATE INDEX kb_search_pg_document ON kb_search_pg USING gin (document)",
]
PG_BACKWARD = ["DROP TABLE IF EXISTS kb_search_pg"] + [
    f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name}" for name in _PG_CONFIGS
]


def _run(statements_by_vendor: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0001_initial"),
        ("accounts", "0005_agent_invited_at"),
        ("contacts", "0004_merged_contacts_and_imports"),
        ("tickets", "0016_layout_customer_access"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD}),
        ),
        migrations.CreateModel(
            name='SuggestionEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('shown', 'Suggestions shown'), ('opened', 'Suggestion opened'), ('solved', 'Marked as solving the problem'), ('submitted', 'Request submitted')], max_length=10)),
                ('audience', models.CharField(choices=[('customer', 'Customer'), ('agent', 'Agent')], max_length=10)),
                ('session', models.CharField(blank=True, default='', max_length=64)),
                ('language', models.CharField(blank=True, default='', max_length=10)),
                ('query', models.CharField(blank=True, default='', max_length=500)),
                ('article_ids', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField()),
                ('article', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='kb.article')),
                ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='contacts.contact')),
                ('department', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.department')),
                ('shown', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='followups', to='kb.suggestionevent')),
                ('ticket', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tickets.ticket')),
            ],
            options={
                'ordering': ['created_at', 'id'],
                'indexes': [models.Index(fields=['kind', 'created_at'], name='kb_suggestion_kind'), models.Index(fields=['session', 'kind'], name='kb_suggestion_session')],
                'constraints': [models.UniqueConstraint(models.F('shown'), models.F('article'), models.F('kind'), condition=models.Q(('kind__in', ['opened', 'solved'])), name='kb_suggestion_followup_once')],
            },
        ),
    ]
