"""Loading the demo knowledge base: `sportello demo` writes every article through the knowledge
base's services once, and loading it again writes nothing."""

from __future__ import annotations

from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.core.models import ConfigSnapshot
from sportello.demo import data
from sportello.demo.kb import article_count, articles, knowledge_base
from sportello.demo.loader import demo_kb_load
from sportello.kb.models import (
    Article,
    ArticleState,
    ArticleTranslation,
    ArticleVersion,
    KbCategory,
    KbSection,
)
from testing import NOW

WRITES = ("INSERT", "UPDATE", "DELETE")


def test_the_demo_loads_the_knowledge_base_once_and_a_second_load_writes_nothing(db: Any) -> None:
    # given an empty desk, when the demo is loaded (no tickets: the knowledge base is the point)
    out, err = StringIO(), StringIO()
    call_command("demo", tickets=0, stdout=out, stderr=err)

    # then every article of the YAML is there, once, and the command says so
    expected = {a.key: (c, a) for c, a in articles()}
    assert "Demo knowledge base loaded in" in out.getvalue()
    assert f": {article_count()} articles in English, Spanish and Italian." in out.getvalue()
    assert "Demo knowledge base:" in err.getvalue()  # the progress line
    assert KbCategory.objects.count() == len(knowledge_base())
    assert KbSection.objects.count() == sum(len(c.sections) for c in knowledge_base())
    assert set(Article.objects.values_list("key", flat=True)) == set(expected)
    translations = {
        (t.article.key, t.language): t for t in ArticleTranslation.objects.select_related("article")
    }
    assert len(translations) == sum(len(a.translations) for _, a in expected.values())

    admin_email = next(email for _, email, role, _, _ in data.AGENTS if role == "admin")
    for article in Article.objects.select_related("section__category", "created_by").prefetch_related(
        "departments", "related"
    ):
        category, source = expected[article.key or ""]
        # where it sits, whom it serves, what it relates to (both ways)
        assert article.section.category.slug == category.slug
        assert article.section.slug == source.section
        assert article.source_language == source.source_language
        assert {d.name for d in article.departments.all()} == set(source.departments)
        related_both_ways = set(source.related) | {a.key for _, a in articles() if article.key in a.related}
        assert {r.key for r in article.related.all()} == related_both_ways
        assert article.created_by is not None
        assert article.created_by.email == admin_email
        # each translation as written, saved once, sanitised to the same text
        for text in source.translations:
            saved = translations[(article.key or "", text.language)]
            assert (saved.title, saved.summary, saved.keywords) == (text.title, text.summary, text.keywords)
            assert saved.state == text.state
            assert saved.body_html == text.body
            assert saved.body_text.strip()
            assert "<" not in saved.body_text
            assert (saved.version, saved.outdated) == (1, False)
            assert (saved.published_at is not None) == (text.state == ArticleState.PUBLIC)

    # the internal procedures and the drafts kept their states
    by_state = {
        state: set(ArticleTranslation.objects.filter(state=state).values_list("article__key", flat=True))
        for state in (ArticleState.INTERNAL, ArticleState.DRAFT)
    }
    assert by_state[ArticleState.INTERNAL] == {
        "chargeback-handling",
        "goodwill-credit",
        "courier-claim-procedure",
    }
    assert by_state[ArticleState.DRAFT] == {"saturday-delivery", "loyalty-points"}

    # when it is loaded again
    versions = ArticleVersion.objects.count()
    snapshots = ConfigSnapshot.objects.count()
    calls: list[int] = []
    with CaptureQueriesContext(connection) as queries:
        held = demo_kb_load(now=NOW, on_article=lambda: calls.append(1))

    # then it reports the same articles, article by article, and writes nothing at all
    assert held == len(calls) == article_count()
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert writes == []
    assert ArticleVersion.objects.count() == versions == len(translations)
    assert ConfigSnapshot.objects.count() == snapshots
