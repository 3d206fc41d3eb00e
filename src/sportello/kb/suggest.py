"""Answer suggestions: the knowledge-base articles that may answer a request as it is typed (the
portal's request form, the chat widget) or as it stands (the agent's ticket page).

`suggest(text=..., language=..., audience=..., department_id=...)`:
1. Visibility and department first: a customer sees public translations only, an agent public
   and internal ones; an article tied to departments serves only those (none: every one).
2. Two ranked lists over what is visible: the full-text hits (`kb.search`, the request read in
   every supported language) and the nearest translations by cosine of the multilingual
   sentence embedding (`kb.embedding`), in any language.
3. Reciprocal-rank fusion of the two lists (each translation scores Σ w/(K + rank), K = 10, the
   full-text list weighted 0.8 — and a quarter of that when the article nearest in meaning has
   no visible translation in the viewer's language: the request is then most likely about an
   article written in another language, and the viewer's own words would only lift the
   same-language articles that share them), then one
   result per article, scored by its best translation and shown in the viewer's language when
   that translation is visible, else in the language of its best translation — an Italian
   question gets the English article when no Italian one exists.
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
ELSEWHERE_LEXICAL_FACTOR = 0.25
NEAREST = 1
CANDIDATES = 50  # the length of each list before fusion
STRONG_COSINE = 0.25  # shown on meaning alone (unrelated text scores under 0.18)
WEAK_COSINE = 0.20  # shown when the words matched too
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
    lexical_rank: int | None  # 1-based, among the full-text hits; None: no word matched


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
    matrix: NDArray[np.float32]
    titles: list[str]
    slugs: list[str]
    excerpts: list[str]
    position: dict[int, int] = field(default_factory=dict)  # translation id → row


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
        # One pass over each table; the translations' from a narrow index (migration 0003).
        sql = (
            f"SELECT t.n, t.changed, t.last_id, t.embedded, a.n, a.changed, a.archived,"  # noqa: S608
            f" (SELECT COUNT(*) FROM {departments}), (SELECT MAX(id) FROM {departments})"
            f" FROM (SELECT COUNT(*) AS n, MAX(updated_at) AS changed, MAX(id) AS last_id,"
            f" SUM(CASE WHEN embedding_model = %s THEN 1 ELSE 0 END) AS embedded FROM {translations}) t,"
            f" (SELECT COUNT(*) AS n, MAX(updated_at) AS changed,"
            f" SUM(CASE WHEN is_archived THEN 1 ELSE 0 END) AS archived FROM {articles}) a"
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
    states = np.array([r[3] for r in rows], dtype=str)
    index = _Index(
        version=version,
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        article_ids=article_ids,
        languages=[r[2] for r in rows],
        states=states,
        state_rows={str(state): states == state for state in set(states.tolist())},
        everywhere=np.array([int(a) not in served for a in article_ids], dtype=bool),
        department_rows=department_rows,
        matrix=matrix,
        titles=[r[4] for r in rows],
        slugs=[r[5] for r in rows],
        excerpts=[excerpt_of(summary=r[6], body_text=r[7]) for r in rows],
    )
    index.position = {int(tid): i for i, tid in enumerate(index.ids)}
    return index


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
        query_vector = embedding.embed_one(text)
        # The whole matrix at once: a product is cheaper than copying the visible rows out.
        cosines = index.matrix @ query_vector

    scores: dict[int, float] = {}  # row → fused score
    lexical_rank: dict[int, int] = {}
    lexical_weight = LEXICAL_WEIGHT
    if mode == "hybrid" and _nearest_is_elsewhere(index, mask, cosines, visible_rows, language):
        lexical_weight *= ELSEWHERE_LEXICAL_FACTOR
    if mode != "embedding":
        hits = search_translations(
            query=text, states=visible_states(audience), department_id=department_id, limit=CANDIDATES
        )
        for rank, hit in enumerate(hits, start=1):
            row = index.position.get(hit.translation_id)
            if row is None or not mask[row]:
                continue
            lexical_rank[row] = rank
            weight = lexical_weight
            scores[row] = scores.get(row, 0.0) + weight / (RRF_K + rank)
    if mode != "lexical":
        count = min(CANDIDATES, len(visible_rows))
        visible_cosines = cosines[visible_rows]
        if count < len(visible_rows):  # the top `count` unordered, then only those sorted
            top = np.argpartition(-visible_cosines, count - 1)[:count]
        else:
            top = np.arange(len(visible_rows))
        best = visible_rows[top[np.lexsort((visible_rows[top], -visible_cosines[top]))]]
        for rank, row in enumerate(best.tolist(), start=1):
            if cosines[row] < WEAK_COSINE:
                break
            scores[row] = scores.get(row, 0.0) + 1.0 / (RRF_K + rank)

    # One result per article: its best translation (by fused score), its best cosine and its
    # best full-text rank among its visible translations.
    by_article: dict[int, tuple[float, int, float, int | None]] = {}
    for row, score in scores.items():
        article_id = int(index.article_ids[row])
        cosine = float(cosines[row])
        lex_rank = lexical_rank.get(row)
        if article_id not in by_article:
            by_article[article_id] = (score, row, cosine, lex_rank)
            continue
        best_score, best_row, best_cosine, best_rank = by_article[article_id]
        ranks = [r for r in (best_rank, lex_rank) if r is not None]
        by_article[article_id] = (
            max(best_score, score),
            row if score > best_score else best_row,
            max(best_cosine, cosine),
            min(ranks) if ranks else None,
        )

    def above_floor(cosine: float, rank: int | None) -> bool:
        if mode == "lexical":
            return rank is not None
        if mode == "embedding":
            return cosine >= STRONG_COSINE
        return cosine >= STRONG_COSINE or (rank is not None and cosine >= WEAK_COSINE)

    ranked = sorted(
        (
            (score, article_id, row, cosine, rank)
            for article_id, (score, row, cosine, rank) in by_article.items()
        ),
        key=lambda item: (-item[0], item[1]),
    )
    out: list[Suggestion] = []
    for score, article_id, row, cosine, best_rank in ranked:
        if not above_floor(cosine, best_rank):
            continue
        shown = _viewer_row(index, mask, article_id, language, default=row)
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


def _nearest_is_elsewhere(
    index: _Index,
    mask: NDArray[np.bool_],
    cosines: NDArray[np.float32],
    visible_rows: NDArray[np.int64],
    language: str,
) -> bool:
    """Whether none of the articles nearest in meaning has a visible translation in the
    viewer's language: the request is most likely about an article written in another one."""
    count = min(NEAREST, len(visible_rows))
    top = visible_rows[np.argpartition(-cosines[visible_rows], count - 1)[:count]]
    for row in top.tolist():
        rows = np.flatnonzero((index.article_ids == index.article_ids[row]) & mask)
        if any(index.languages[r] == language for r in rows.tolist()):
            return False
    return True


def _viewer_row(
    index: _Index, mask: NDArray[np.bool_], article_id: int, language: str, *, default: int
) -> int:
    """The visible translation of `article_id` in the viewer's language, else `default`."""
    rows: Sequence[int] = np.flatnonzero((index.article_ids == article_id) & mask).tolist()
    for row in rows:
        if index.languages[row] == language:
            return row
    return default
