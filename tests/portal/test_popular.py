"""The portal home's popular articles: the public ones in the visitor's language that readers
opened and found helpful most (internal, draft and archived ones never), in the desk's default
language when the visitor's has none, read once and then served from a short cache."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.kb.models import Article, ArticleTranslation, KbCategory, KbSection
from sportello.kb.popular import CACHE_SECONDS, popular_articles
from testing import NOW

pytestmark = pytest.mark.django_db


def _article(section: KbSection, *, archived: bool = False, **by_lang: tuple[str, str, int, int]) -> Article:
    """An article with, per language, (title, state, views, helpful votes)."""
    article = Article.objects.create(
        section=section, source_language="en", created_at=NOW, updated_at=NOW, is_archived=archived
    )
    for language, (title, state, views, helpful) in by_lang.items():
        ArticleTranslation.objects.create(
            article=article,
            language=language,
            title=title,
            slug=title.lower().replace(" ", "-"),
            state=state,
            view_count=views,
            helpful_count=helpful,
            created_at=NOW,
            updated_at=NOW,
        )
    return article


@pytest.fixture
def articles(desk: Any) -> dict[str, Article]:
    category = KbCategory.objects.create(
        slug="orders", title={"en": "Orders"}, created_at=NOW, updated_at=NOW
    )
    section = KbSection.objects.create(
        category=category, slug="returns", title={"en": "Returns"}, created_at=NOW, updated_at=NOW
    )
    return {
        "returns": _article(
            section, en=("Returning a book", "public", 40, 0), it=("Restituire un libro", "public", 5, 0)
        ),
        "helpful": _article(section, en=("Tracking a parcel", "public", 10, 4)),  # 10 + 4 x 10 = 50
        "quiet": _article(section, en=("Gift cards", "public", 1, 0)),
        "internal": _article(section, en=("Refund procedure", "internal", 500, 9)),
        "draft": _article(section, en=("Next season", "draft", 900, 0)),
        "archived": _article(section, archived=True, en=("Old returns", "public", 700, 0)),
    }


def test_the_home_lists_the_popular_public_articles_in_the_visitors_language(articles: Any) -> None:
    page = Client(headers={"accept-language": "en"}).get("/portal/").content.decode()
    titles = ["Tracking a parcel", "Returning a book", "Gift cards"]
    assert [t for t in titles if t in page] == titles
    assert page.index("Tracking a parcel") < page.index("Returning a book") < page.index("Gift cards")
    for hidden in ("Refund procedure", "Next season", "Old returns"):
        assert hidden not in page
    assert f'href="/portal/kb/en/a/{articles["helpful"].pk}-tracking-a-parcel/"' in page
    italian = Client(headers={"accept-language": "it"}).get("/portal/").content.decode()
    assert "Restituire un libro" in italian
    assert "Returning a book" not in italian


def test_a_language_without_articles_falls_back_to_the_desks_default(articles: Any) -> None:
    page = Client(headers={"accept-language": "es"}).get("/portal/").content.decode()
    assert "Tracking a parcel" in page
    assert 'hreflang="en" lang="en"' in page


def test_the_list_is_cached_briefly(articles: Any) -> None:
    first = [a.title for a in popular_articles(language="en", now=1000.0)]
    ArticleTranslation.objects.filter(article=articles["quiet"]).update(view_count=1000)
    assert [a.title for a in popular_articles(language="en", now=1000.0 + CACHE_SECONDS - 1)] == first
    after = [a.title for a in popular_articles(language="en", now=1000.0 + CACHE_SECONDS + 1)]
    assert after[0] == "Gift cards"


def test_the_home_in_a_pinned_number_of_statements(articles: Any, django_assert_num_queries: Any) -> None:
    client = Client(headers={"accept-language": "en"})
    from sportello.core.config import forget_all

    client.get("/portal/")  # the portal's settings cached
    forget_all()
    with django_assert_num_queries(3):  # the configuration signatures, the portal's settings, the articles
        client.get("/portal/")
    with django_assert_num_queries(1):  # the signatures; the settings and the articles are cached
        client.get("/portal/")
