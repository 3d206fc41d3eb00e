"""The popular public articles the customer portal's home lists: the public translations in
the visitor's language (none there: in the desk's default language) that readers opened and
found helpful most, best first. A reader's "helpful" counts as `HELPFUL_WEIGHT` views, an
"unhelpful" takes as much away.

Kept per process for `CACHE_SECONDS` per language (the portal's home is its busiest page; a
count that is a minute old changes nothing), so a home page served from the cache reads
nothing. `core.config.forget_all` clears it too.
"""

from __future__ import annotations

import time

from django.db.models import F

from sportello.contacts.language import desk_default_language
from sportello.core.config import config_store

from .models import ArticleState, ArticleTranslation
from .public_selectors import ArticleLink

POPULAR = 5
HELPFUL_WEIGHT = 10
CACHE_SECONDS = 60.0
_STORE = "kb.popular"


def _read(language: str) -> list[ArticleLink]:
    rows = (
        ArticleTranslation.objects.filter(
            language=language,
            state=ArticleState.PUBLIC,
            article__is_archived=False,
            article__section__is_active=True,
            article__section__category__is_active=True,
        )
        .alias(
            score=F("view_count")
            + HELPFUL_WEIGHT * F("helpful_count")
            - HELPFUL_WEIGHT * F("unhelpful_count")
        )
        .only("article_id", "language", "title", "slug", "summary", "state")
        .order_by("-score", "-view_count", "-updated_at", "id")[:POPULAR]
    )
    return [ArticleLink(t.article_id, t.language, t.title, t.slug, t.summary, t.state) for t in rows]


def popular_articles(*, language: str, now: float | None = None) -> list[ArticleLink]:
    """The popular public articles in `language`, else in the desk's default language; one
    statement when not cached (two when the language has none), none when cached."""
    at = time.monotonic() if now is None else now
    store = config_store(_STORE)
    found = store.get(language)
    if found is not None and found[0] > at:
        return list(found[1])
    articles = _read(language)
    default = desk_default_language()
    if not articles and language != default:
        articles = _read(default)
    store[language] = (at + CACHE_SECONDS, tuple(articles))
    return articles
