"""Full-text search over the knowledge base's translations, one query path per database.

- SQLite: an FTS5 table `kb_search_fts` (rowid = translation id; columns title, keywords, body;
  tokenizer `unicode61 remove_diacritics 2`) holding the words of each translation already
  stemmed with its language's rules and folded (`kb.text`); queries go through the same
  function and are ranked with bm25, the title weighted above the keywords above the text.
- PostgreSQL: a table `kb_search_pg` (translation id → tsvector) with a GIN index, the vector
  built with the translation's language configuration (`sportello_en`, `sportello_es`,
  `sportello_it`: the built-in stemmers behind `unaccent`; others `sportello_simple`), title
  weight A, keywords B, text C, plus the words of `kb.text` (stemmed before folding) under the
  `simple` configuration. A query is the request's `kb.text` terms OR-ed into one `tsquery`
  (each term quoted as a plain lexeme: user text is never parsed as operators), ranked with
  `ts_rank`; for suggestions (`titles_first`) first among the documents whose title or
  keywords match (their own GIN index), then, when those are too few, among every match.

Both use OR semantics, so a long request still finds the articles that share its key words,
and any text — quotes, operators, stray punctuation — is a valid query. Both rank on the
full-text table alone and join only its best rows to the translations.

The interface the rest of the app uses:
- `index_translation(translation)`: called by `kb.services` after every save of a translation;
  keeps the full-text row and the embedding (`kb.embedding`) in step;
- `search_translations(...)`: ranked hits for a query among translations in the given states;
- `forget(orphans_only=...)`: drop the full-text rows of translations that no longer exist
  (`reindex_all` starts with it), or every row (a test database emptied between journeys).
Neither table holds a foreign key to the translations: both are derived data, and queries join
them to the translations, so a row without its translation is never returned.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from . import embedding, text
from .models import Article, ArticleTranslation

FTS_TABLE = "kb_search_fts"
PG_TABLE = "kb_search_pg"
PG_CONFIGS = {"en": "sportello_en", "es": "sportello_es", "it": "sportello_it"}
PG_FALLBACK_CONFIG = "sportello_simple"
# bm25 weights of the FTS5 columns (title, keywords, body).
TITLE_WEIGHT, KEYWORDS_WEIGHT, BODY_WEIGHT = 10.0, 4.0, 1.0
MAX_QUERY_WORDS = 32
MAX_QUERY_TERMS = MAX_QUERY_WORDS * 2  # a word gives one or two terms (`kb.text`)
SQLITE_OVERFETCH = 4  # ranked rows per hit wanted, before visibility filters
SQLITE_MIN_RANKED = 200
# The title and keywords of a PostgreSQL document (weights A and B), indexed apart (0004).
PG_HEAD = "ts_filter(document, '{a,b}')"
EXCERPT_CHARS = 160


@dataclass(frozen=True, slots=True)
class SearchHit:
    translation_id: int
    article_id: int
    language: str
    title: str
    excerpt: str
    score: float


def excerpt_of(*, summary: str, body_text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line for a result: the summary, else the start of the text, cut at a word."""
    line = " ".join((summary or body_text or "").split())
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0]
    return f"{cut}…"


def pg_config(language: str) -> str:
    return PG_CONFIGS.get(language, PG_FALLBACK_CONFIG)


def index_translation(translation: ArticleTranslation) -> None:
    """Bring the search index (and the embedding) of one translation up to date."""
    vector = embedding.embed_one(
        embedding.document_text(
            title=translation.title,
            summary=translation.summary,
            keywords=translation.keywords,
            body_text=translation.body_text,
        )
    )
    data = embedding.to_bytes(vector)
    ArticleTranslation.objects.filter(pk=translation.pk).update(
        embedding=data, embedding_model=embedding.MODEL_NAME
    )
    translation.embedding = data
    translation.embedding_model = embedding.MODEL_NAME
    _index_text(translation)


def _index_text(translation: ArticleTranslation) -> None:
    body = " ".join(part for part in (translation.summary, translation.body_text) if part)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cfg = pg_config(translation.language)
            language = translation.language
            weighted = []
            params: list[Any] = [translation.pk]
            for weight, part in (("A", translation.title), ("B", translation.keywords), ("C", body)):
                # The configuration's own words (accents folded, then stemmed) and the words
                # stemmed first, then folded (`kb.text`): Snowball's Spanish rules, for one,
                # need the accents ("devoluciones" and "devolución" meet only that way).
                weighted.append(
                    f"setweight(to_tsvector(%s::regconfig, %s) || to_tsvector('simple', %s), '{weight}')"
                )
                params.extend([cfg, part, text.index_terms(part, language)])
            cursor.execute(
                f"INSERT INTO {PG_TABLE} (translation_id, document) VALUES (%s, {' || '.join(weighted)})"  # noqa: S608
                " ON CONFLICT (translation_id) DO UPDATE SET document = EXCLUDED.document",
                params,
            )
        else:
            language = translation.language
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [translation.pk])  # noqa: S608
            cursor.execute(
                f"INSERT INTO {FTS_TABLE} (rowid, title, keywords, body) VALUES (%s, %s, %s, %s)",  # noqa: S608
                [
                    translation.pk,
                    text.index_terms(translation.title, language),
                    text.index_terms(translation.keywords, language),
                    text.index_terms(body, language),
                ],
            )


def search_translations(
    *,
    query: str,
    states: Collection[str],
    language: str | None = None,
    department_id: int | None = None,
    limit: int = 20,
    titles_first: bool = False,
) -> list[SearchHit]:
    """The translations in `states` (and `language`, when given; serving `department_id`, when
    given) that match `query`, best first. The query is read in `language` when given, else in
    every supported language; a translation matches when it shares any meaningful word.
    `titles_first`: only the translations whose title or keywords share a word are ranked,
    unless they are fewer than `limit` (a bounded cost however common the words; what
    suggestions want, where the embedding brings the rest)."""
    states = list(states)
    query = query.replace("\x00", " ")  # PostgreSQL refuses NUL in text
    if not states or limit <= 0:
        return []
    languages = [language] if language else list(text.LANGUAGES)
    if connection.vendor == "postgresql":
        rows = _search_pg(query, states, language, languages, department_id, limit, titles_first)
    else:
        rows = _search_sqlite(query, states, language, languages, department_id, limit, titles_first)
    return [
        SearchHit(
            translation_id=row[0],
            article_id=row[1],
            language=row[2],
            title=row[3],
            excerpt=excerpt_of(summary=row[4], body_text=row[5]),
            score=float(row[6]),
        )
        for row in rows
    ]


def _filters(states: Sequence[str], language: str | None, department_id: int | None) -> tuple[str, list[Any]]:
    """Visibility and department, applied in the same statement as the text match."""
    departments = Article.departments.through._meta.db_table
    sql = f" AND t.state IN ({', '.join(['%s'] * len(states))}) AND a.is_archived = %s"
    params: list[Any] = [*states, False]
    if language:
        sql += " AND t.language = %s"
        params.append(language)
    if department_id is not None:
        sql += (
            f" AND (NOT EXISTS (SELECT 1 FROM {departments} d WHERE d.article_id = a.id)"  # noqa: S608
            f" OR EXISTS (SELECT 1 FROM {departments} d WHERE d.article_id = a.id AND d.department_id = %s))"
        )
        params.append(department_id)
    return sql, params


_SELECT = "SELECT t.id, t.article_id, t.language, t.title, t.summary, substr(t.body_text, 1, 400), "


def _search_sqlite(
    query: str,
    states: Sequence[str],
    language: str | None,
    languages: Sequence[str],
    department_id: int | None,
    limit: int,
    titles_first: bool,
) -> list[tuple[Any, ...]]:
    terms = text.query_terms(query, languages)[:MAX_QUERY_TERMS]
    if not terms:
        return []
    # Terms are word characters only; quoting each makes it a plain token for FTS5.
    anywhere = " OR ".join(f'"{term}"' for term in terms)
    where, params = _filters(states, language, department_id)
    translations = ArticleTranslation._meta.db_table
    articles = Article._meta.db_table
    # With `titles_first`, two tiers, as on PostgreSQL: the rows whose title or keywords share
    # a term (an FTS5 column filter), and only when they are too few, every match. Each tier ranks on the
    # full-text table alone and keeps its best `inner` rows: joining every match to its
    # translation (a long request matches most of a large knowledge base) cost more than the
    # ranking. Only when the filters then leave too few rows and the inner limit did cut some
    # matches off is the tier asked again without it.
    inner = max(limit * SQLITE_OVERFETCH, SQLITE_MIN_RANKED)
    ranked = (
        f"SELECT rowid AS id, -bm25({FTS_TABLE}, %s, %s, %s) AS score FROM {FTS_TABLE}"  # noqa: S608
        f" WHERE {FTS_TABLE} MATCH %s ORDER BY score DESC, rowid"
    )
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        head = f"{{title keywords}} : ({anywhere})"
        for match in (head, anywhere) if titles_first else (anywhere,):
            weights: list[Any] = [TITLE_WEIGHT, KEYWORDS_WEIGHT, BODY_WEIGHT, match]
            for bound in (inner, None):
                bounded = f"SELECT r.*, COUNT(*) OVER () AS ranked FROM ({ranked} LIMIT %s) r"  # noqa: S608
                source = bounded if bound else ranked
                sql = (
                    _SELECT + f"f.score FROM ({source}) f"
                    f" JOIN {translations} t ON t.id = f.id JOIN {articles} a ON a.id = t.article_id"
                    " WHERE 1 = 1" + where + " ORDER BY f.score DESC, t.id LIMIT %s"
                )
                if bound:
                    sql = sql.replace("f.score FROM", "f.score, f.ranked FROM", 1)
                cursor.execute(sql, [*weights, *([bound] if bound else []), *params, limit])
                rows = list(cursor.fetchall())
                if bound is None or len(rows) >= limit or (rows and rows[0][7] < bound):
                    break
            if len(rows) >= limit:
                break
    return [row[:7] for row in rows]


def _search_pg(
    query: str,
    states: Sequence[str],
    language: str | None,
    languages: Sequence[str],
    department_id: int | None,
    limit: int,
    titles_first: bool,
) -> list[tuple[Any, ...]]:
    # The request's terms as `kb.text` makes them (stemmed, then folded): the `simple` words of
    # every document hold the same terms. They are word characters only, so quoting each makes
    # it a plain lexeme of the query; one OR-ed query, no parsing of user text as operators.
    terms = text.query_terms(query, languages)[:MAX_QUERY_TERMS]
    if not terms:
        return []
    tsquery = " | ".join(f"'{term}'" for term in terms)
    where, params = _filters(states, language, department_id)
    translations = ArticleTranslation._meta.db_table
    articles = Article._meta.db_table
    # With `titles_first`, two tiers: the documents whose title or keywords share a term (a
    # GIN index on those words alone, migration 0004), and only when they are too few, every
    # matching document.
    # Each tier ranks on the full-text table alone and keeps its best `inner` rows before the
    # join and the filters (a common word matches most of a large knowledge base, and ranking
    # and joining every match cost more than the rest of a suggestion); only when the filters
    # then leave too few rows and the bound cut matches off is the tier asked again without it.
    inner = max(limit * SQLITE_OVERFETCH, SQLITE_MIN_RANKED)
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        anywhere = "document @@ %s::tsquery"
        for match in (f"{PG_HEAD} @@ %s::tsquery", anywhere) if titles_first else (anywhere,):
            for bound in (inner, None):
                ranked = (
                    f"SELECT translation_id AS id, ts_rank(document, %s::tsquery) AS score,"  # noqa: S608
                    f" COUNT(*) OVER () AS ranked FROM {PG_TABLE} WHERE {match}"
                    " ORDER BY score DESC, translation_id" + (" LIMIT %s" if bound else "")
                )
                # Each ranked row fetches its translation by primary key (a LATERAL the planner
                # keeps as such): a join let it hash every translation of the language instead.
                cursor.execute(
                    f"WITH r AS MATERIALIZED ({ranked}) SELECT t.*, r.score, r.ranked FROM r"  # noqa: S608
                    " CROSS JOIN LATERAL ("
                    + _SELECT.removesuffix(", ")
                    + f" FROM {translations} t JOIN {articles} a ON a.id = t.article_id"
                    " WHERE t.id = r.id" + where + " LIMIT 1) t ORDER BY r.score DESC, t.id LIMIT %s",
                    [tsquery, tsquery, *([bound] if bound else []), *params, limit],
                )
                rows = list(cursor.fetchall())
                if bound is None or len(rows) >= limit or (rows and rows[0][7] < bound):
                    break
            if len(rows) >= limit:
                break
    return [row[:7] for row in rows]


def forget(*, orphans_only: bool = True) -> None:
    """Delete the full-text rows of translations that no longer exist, or (`orphans_only=False`)
    every row."""
    table, key = (PG_TABLE, "translation_id") if connection.vendor == "postgresql" else (FTS_TABLE, "rowid")
    translations = ArticleTranslation._meta.db_table
    statement = f"DELETE FROM {table}"  # noqa: S608
    if orphans_only:
        statement += f" WHERE {key} NOT IN (SELECT id FROM {translations})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement)


def reindex_all(*, batch_size: int = 64, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the full-text rows and the embeddings of every translation (a batch of
    translations per transaction, embedded together), after dropping the rows of translations
    that no longer exist; `progress(done, total)` after each batch. Returns how many were
    indexed."""
    forget()
    ids = list(ArticleTranslation.objects.order_by("id").values_list("id", flat=True))
    total = len(ids)
    done = 0
    for start in range(0, total, batch_size):
        with transaction.atomic():
            chunk = list(
                ArticleTranslation.objects.filter(pk__in=ids[start : start + batch_size]).order_by("id")
            )
            vectors = embedding.embed(
                [
                    embedding.document_text(
                        title=t.title, summary=t.summary, keywords=t.keywords, body_text=t.body_text
                    )
                    for t in chunk
                ]
            )
            for translation, vector in zip(chunk, vectors, strict=True):
                data = embedding.to_bytes(vector)
                ArticleTranslation.objects.filter(pk=translation.pk).update(
                    embedding=data, embedding_model=embedding.MODEL_NAME
                )
                _index_text(translation)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return done
