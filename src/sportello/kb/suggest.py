"""Answer suggestions: the knowledge-base articles that may answer a request as it is typed (the
portal's request form, the chat widget) or as it stands (the agent's ticket page).

`suggest(text=..., language=..., audience=..., department_id=...)`:
1. Visibility and department first: a customer sees public translations only, an agent public
   and internal ones; an article tied to departments serves only those (none: every one).
2. Two ranked lists of articles over what is visible, each article placed by its best
   translation in the list: the full-text hits among the translations in the viewer's
   language (`kb.search`, the request read with that language's rules: words rarely cross
   languages, and reading a request three ways tripled the terms of the query) and the
   articles nearest by cosine of the multilingual sentence embedding (`kb.embedding`), in any
   language. The cosines are taken after removing each language's offset from the vectors
   (`language_offsets`): the model places texts of one language nearer each other than their
   meaning alone would, so a request found articles in its own language ahead of the right
   one in another.
3. Reciprocal-rank fusion of the two lists (each article scores Σ w/(K + rank), K = 10, the
   full-text list weighted 0.8). An article with no visible translation in the viewer's
   language cannot share the request's words, so the full-text list is silent about it rather
   than against it: it scores at least what it would with the same place in both lists. Each
   article is shown in the viewer's language when that translation is visible, else in the
   language of its translation nearest the request — an Italian question gets the English
   article when no Italian one exists.
4. A floor: an article is shown only when its embedding is close enough to the request
   (`STRONG_COSINE`), or when it also matched on words and is at least loosely close
   (`WEAK_COSINE`). Text with no meaning for the knowledge base ("asdf", "hello") gets nothing.
   The thresholds are tuned on the evaluation set (tests/kb/test_eval.py, docs/benchmarks.md).

The vectors of all translations sit in one in-process numpy matrix, rebuilt when the knowledge
base changed: each call first reads a cheap version (counts and latest change times, one
statement over a narrow index) and compares it with the cached one. The full-text statement
ranks on the full-text table alone before joining its best rows (`kb.search`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from django.db import connection

from . import embedding
from .models import Article, ArticleState, ArticleTranslation
from .search import excerpt_of, search_translations

if TYPE_CHECKING:
    from numpy.typing import NDArray

Audience = Literal["customer", "agent"]
Mode = Literal["hybrid", "lexical", "embedding"]

RRF_K = 10  # small: a first place in one list outweighs middling places in both
LEXICAL_WEIGHT = 0.8  # words shared with an article in another language's list are noise
CANDIDATES = 50  # articles in each list before fusion
NEAREST_ROWS_PER_ARTICLE = 3  # translations read per article wanted from the cosine list
STRONG_COSINE = 0.25  # shown on meaning alone (unrelated text scores under 0.18)
WEAK_COSINE = 0.20  # shown when the words matched too
# Translations in the knowledge base above which the full-text list ranks the title and
# keyword matches first (`kb.search`); under it, ranking every match costs a few ms.
TITLES_FIRST_ABOVE = 1_000
MIN_PARALLEL = 5  # articles translated into a language before its offset is estimated
MAX_TEXT_CHARS = 2_000  # of the request; the rest adds little and costs time


def visible_states(audience: Audience) -> list[str]:
    if audience == "agent":
        return [ArticleState.PUBLIC, ArticleState.INTERNAL]
    return [ArticleState.PUBLIC]


@dataclass(frozen=True, slots=True)
class Suggestion:
    article_id: int
    translation_id: int
    language: str
    title: str
    slug: str
    excerpt: str
    state: str  # of the translation shown (public, internal)
    score: float  # the fused score of the article's best translation
    cosine: float  # the best cosine of the article's visible translations
    lexical_rank: int | None  # 1-based, among the articles the full-text search found; None: none


@dataclass(slots=True)
class _Index:
    version: tuple[Any, ...]
    ids: NDArray[np.int64]
    article_ids: NDArray[np.int64]
    languages: list[str]
    states: NDArray[np.str_]
    state_rows: dict[str, NDArray[np.bool_]]  # state → the rows in it
    everywhere: NDArray[np.bool_]  # the article serves every department
    department_rows: dict[int, NDArray[np.bool_]]
    matrix: NDArray[np.float32]  # the vectors, each without its language's offset, unit length
    offsets: dict[str, NDArray[np.float32]]  # language → the model's offset for it
    titles: list[str]
    slugs: list[str]
    excerpts: list[str]
    position: dict[int, int] = field(default_factory=dict)  # translation id → row
    article_rows: dict[int, list[int]] = field(default_factory=dict)  # article id → its rows


_cache_lock = threading.Lock()
_cache: dict[str, _Index] = {}


def forget_cache() -> None:
    """Drop the cached vectors (the next call rebuilds them)."""
    with _cache_lock:
        _cache.clear()


def _version() -> tuple[Any, ...]:
    translations = ArticleTranslation._meta.db_table
    articles = Article._meta.db_table
    departments = Article.departments.through._meta.db_table
    with connection.cursor() as cursor:
        # One pass over each table, the translations' over the narrow index of migration 0003
        # alone (an index-only scan on PostgreSQL: the id is not in that index, so the last id
        # is read apart, from the primary key's end).
        sql = (
            f"SELECT t.n, t.changed, (SELECT MAX(id) FROM {translations}), t.embedded,"  # noqa: S608
            f" a.n, a.changed, a.archived,"
            f" (SELECT COUNT(*) FROM {departments}), (SELECT MAX(id) FROM {departments})"
            f" FROM (SELECT COUNT(*) AS n, MAX(updated_at) AS changed,"
            f" COUNT(*) FILTER (WHERE embedding_model = %s) AS embedded FROM {translations}) t,"
            f" (SELECT COUNT(*) AS n, MAX(updated_at) AS changed,"
            f" COUNT(*) FILTER (WHERE is_archived) AS archived FROM {articles}) a"
        )
        cursor.execute(sql, [embedding.MODEL_NAME])
        row = cursor.fetchone()
    return tuple(row) if row else ()


def _build(version: tuple[Any, ...]) -> _Index:
    rows = list(
        ArticleTranslation.objects.filter(article__is_archived=False)
        .exclude(state=ArticleState.DRAFT)
        .order_by("id")
        .values_list(
            "id",
            "article_id",
            "language",
            "state",
            "title",
            "slug",
            "summary",
            "body_text",
            "embedding",
            "embedding_model",
        )
    )
    n = len(rows)
    matrix = np.zeros((n, embedding.DIMENSIONS), dtype=np.float32)
    for i, row in enumerate(rows):
        if row[8] is not None and row[9] == embedding.MODEL_NAME:
            vector = embedding.from_bytes(row[8])
            if vector.shape == (embedding.DIMENSIONS,):
                matrix[i] = vector
    article_ids = np.array([r[1] for r in rows], dtype=np.int64)
    served: dict[int, set[int]] = {}
    for article_id, department_id in Article.departments.through.objects.filter(
        article_id__in=set(article_ids.tolist())
    ).values_list("article_id", "department_id"):
        served.setdefault(article_id, set()).add(department_id)
    department_rows: dict[int, NDArray[np.bool_]] = {}
    for department_id in {d for ds in served.values() for d in ds}:
        department_rows[department_id] = np.array(
            [department_id in served.get(int(a), ()) for a in article_ids], dtype=bool
        )
    languages = [r[2] for r in rows]
    offsets = language_offsets(matrix, article_ids, languages)
    matrix = _without_offsets(matrix, languages, offsets)
    states = np.array([r[3] for r in rows], dtype=str)
    index = _Index(
        version=version,
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        article_ids=article_ids,
        languages=languages,
        states=states,
        state_rows={str(state): states == state for state in set(states.tolist())},
        everywhere=np.array([int(a) not in served for a in article_ids], dtype=bool),
        department_rows=department_rows,
        matrix=matrix,
        offsets=offsets,
        titles=[r[4] for r in rows],
        slugs=[r[5] for r in rows],
        excerpts=[excerpt_of(summary=r[6], body_text=r[7]) for r in rows],
    )
    index.position = {int(tid): i for i, tid in enumerate(index.ids)}
    for position, article_id in enumerate(article_ids.tolist()):
        index.article_rows.setdefault(article_id, []).append(position)
    return index


def language_offsets(
    matrix: NDArray[np.float32], article_ids: NDArray[np.int64], languages: Sequence[str]
) -> dict[str, NDArray[np.float32]]:
    """Each language's offset in the embedding space, estimated from the knowledge base's own
    translations: the mean, over the articles written in several languages, of a translation's
    vector minus its article's mean vector. Translations of one article say the same thing, so
    what their differences share is the language alone. A language seen in fewer than
    `MIN_PARALLEL` such articles gets no offset (too few to tell language from topic)."""
    rows_of: dict[int, list[int]] = {}
    for row, article_id in enumerate(article_ids.tolist()):
        if matrix[row].any():
            rows_of.setdefault(article_id, []).append(row)
    sums: dict[str, NDArray[np.float32]] = {}
    counts: dict[str, int] = {}
    for rows in rows_of.values():
        if len({languages[r] for r in rows}) < 2:
            continue
        centre = matrix[rows].mean(axis=0)
        for row in rows:
            language = languages[row]
            sums[language] = sums.get(language, np.zeros(embedding.DIMENSIONS, dtype=np.float32)) + (
                matrix[row] - centre
            )
            counts[language] = counts.get(language, 0) + 1
    return {
        language: (total / counts[language]).astype(np.float32)
        for language, total in sums.items()
        if counts[language] >= MIN_PARALLEL
    }


def _unit(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def _without_offsets(
    matrix: NDArray[np.float32], languages: Sequence[str], offsets: dict[str, NDArray[np.float32]]
) -> NDArray[np.float32]:
    if not offsets:
        return matrix
    shifted = matrix.copy()
    for row, language in enumerate(languages):
        offset = offsets.get(language)
        if offset is not None and shifted[row].any():
            shifted[row] -= offset
    return _unit(shifted)


def query_vector(
    index_offsets: dict[str, NDArray[np.float32]], text: str, language: str
) -> NDArray[np.float32]:
    """The request's unit vector, less the offset of the language it is written in (the
    viewer's)."""
    vector = embedding.embed_query(text)
    offset = index_offsets.get(language)
    return vector if offset is None else _unit(vector - offset)


def _index() -> _Index:
    version = _version()
    key = connection.alias
    cached = _cache.get(key)
    if cached is not None and cached.version == version:
        return cached
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None or cached.version != version:
            cached = _build(version)
            _cache[key] = cached
    return cached


def _visible_mask(index: _Index, audience: Audience, department_id: int | None) -> NDArray[np.bool_]:
    mask = np.zeros(len(index.ids), dtype=bool)
    for state in visible_states(audience):
        rows = index.state_rows.get(state)
        if rows is not None:
            mask |= rows
    if department_id is not None:
        served = index.department_rows.get(department_id)
        mask &= index.everywhere | served if served is not None else index.everywhere
    return mask


def suggest(
    *,
    text: str,
    language: str,
    audience: Audience,
    department_id: int | None = None,
    limit: int = 5,
    mode: Mode = "hybrid",
) -> list[Suggestion]:
    """At most `limit` articles for `text`, best first; none under the floor. `mode` runs one
    list alone ("lexical", "embedding") for the evaluation."""
    text = (text or "").replace("\x00", " ").strip()[:MAX_TEXT_CHARS]
    if not text or limit <= 0:
        return []
    index = _index()
    mask = _visible_mask(index, audience, department_id)
    if not mask.any():
        return []
    visible_rows = np.flatnonzero(mask)

    cosines: NDArray[np.float32] = np.zeros(len(index.ids), dtype=np.float32)
    if mode != "lexical":
        # The whole matrix at once: a product is cheaper than copying the visible rows out.
        cosines = index.matrix @ query_vector(index.offsets, text, language)

    # Each list ranks articles (an article's best translation in it), so an article written in
    # three languages takes one place, not three.
    lexical_best: dict[int, int] = {}  # article → its best visible row among the full-text hits
    lexical_rank: dict[int, int] = {}  # article → 1-based place among the articles hit
    if mode != "embedding":
        hits = search_translations(
            query=text,
            states=visible_states(audience),
            language=language,
            department_id=department_id,
            limit=CANDIDATES,
            titles_first=len(index.ids) > TITLES_FIRST_ABOVE,
        )
        for hit in hits:
            row = index.position.get(hit.translation_id)
            if row is None or not mask[row] or hit.article_id in lexical_rank:
                continue
            lexical_rank[hit.article_id] = len(lexical_rank) + 1
            lexical_best[hit.article_id] = row
    nearest_best: dict[int, int] = {}  # article → its visible row nearest the request
    nearest_rank: dict[int, int] = {}
    if mode != "lexical":
        count = min(CANDIDATES * NEAREST_ROWS_PER_ARTICLE, len(visible_rows))
        visible_cosines = cosines[visible_rows]
        if count < len(visible_rows):  # the top `count` unordered, then only those sorted
            top = np.argpartition(-visible_cosines, count - 1)[:count]
        else:
            top = np.arange(len(visible_rows))
        best = visible_rows[top[np.lexsort((visible_rows[top], -visible_cosines[top]))]]
        for row in best.tolist():
            if cosines[row] < WEAK_COSINE or len(nearest_rank) >= CANDIDATES:
                break
            article_id = int(index.article_ids[row])
            if article_id not in nearest_rank:
                nearest_rank[article_id] = len(nearest_rank) + 1
                nearest_best[article_id] = row

    scored: list[tuple[float, int, int, float, int | None]] = []
    for article_id in lexical_rank.keys() | nearest_rank.keys():
        lex = lexical_rank.get(article_id)
        near = nearest_rank.get(article_id)
        score = 0.0
        if lex is not None:
            score += LEXICAL_WEIGHT / (RRF_K + lex)
        if near is not None:
            score += 1.0 / (RRF_K + near)
            if mode == "hybrid" and _own_row(index, mask, article_id, language) is None:
                # No translation in the request's language: its words cannot match, so the
                # full-text list says nothing about it; it counts its place by meaning there.
                score = max(score, (1.0 + LEXICAL_WEIGHT) / (RRF_K + near))
        if near is not None:  # its nearest visible translation
            row = nearest_best[article_id]
            cosine = float(cosines[row])
        else:
            row = lexical_best[article_id]
            cosine = max(float(cosines[r]) for r in index.article_rows[article_id] if mask[r])
        scored.append((score, article_id, row, cosine, lex))

    def above_floor(cosine: float, rank: int | None) -> bool:
        if mode == "lexical":
            return rank is not None
        if mode == "embedding":
            return cosine >= STRONG_COSINE
        return cosine >= STRONG_COSINE or (rank is not None and cosine >= WEAK_COSINE)

    scored.sort(key=lambda item: (-item[0], item[1]))
    out: list[Suggestion] = []
    for score, article_id, row, cosine, best_rank in scored:
        if not above_floor(cosine, best_rank):
            continue
        shown = _own_row(index, mask, article_id, language)
        shown = row if shown is None else shown
        out.append(
            Suggestion(
                article_id=article_id,
                translation_id=int(index.ids[shown]),
                language=index.languages[shown],
                title=index.titles[shown],
                slug=index.slugs[shown],
                state=str(index.states[shown]),
                excerpt=index.excerpts[shown],
                score=round(score, 6),
                cosine=round(cosine, 4),
                lexical_rank=best_rank,
            )
        )
        if len(out) >= limit:
            break
    return out


def _own_row(index: _Index, mask: NDArray[np.bool_], article_id: int, language: str) -> int | None:
    """The visible translation of `article_id` in `language`, if any."""
    for row in index.article_rows.get(article_id, ()):
        if mask[row] and index.languages[row] == language:
            return row
    return None
