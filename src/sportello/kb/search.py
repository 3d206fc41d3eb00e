"""Search over the knowledge base's translations (placeholder until the full-text and hybrid
search lands: a case-insensitive substring match on title and text).

The interface the rest of the app uses:
- `index_translation(translation)`: called by `kb.services` after every save of a translation
  (keeps the full-text index and the embedding in step);
- `search_translations(...)`: ranked hits for a query among translations in the given states.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Q

from .models import ArticleTranslation


@dataclass(frozen=True, slots=True)
class SearchHit:
    translation_id: int
    article_id: int
    language: str
    title: str
    excerpt: str
    score: float


def index_translation(translation: ArticleTranslation) -> None:
    """Bring the search index (and the embedding) of one translation up to date."""


def search_translations(
    *,
    query: str,
    states: Collection[str],
    language: str | None = None,
    department_id: int | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """The translations in `states` (and `language`, when given; serving `department_id`, when
    given) that match `query`, best first."""
    terms = query.strip()
    if not terms:
        return []
    rows = ArticleTranslation.objects.filter(state__in=list(states), article__is_archived=False).filter(
        Q(title__icontains=terms) | Q(body_text__icontains=terms)
    )
    if language:
        rows = rows.filter(language=language)
    if department_id is not None:
        rows = rows.filter(Q(article__departments=None) | Q(article__departments=department_id)).distinct()
    return [
        SearchHit(
            translation_id=t.pk,
            article_id=t.article_id,
            language=t.language,
            title=t.title,
            excerpt=t.summary or t.body_text[:200],
            score=1.0,
        )
        for t in rows.order_by("-updated_at")[:limit]
    ]
