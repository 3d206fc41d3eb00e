"""The demo knowledge base's loader on a small knowledge base of its own: a changed text saves
only that translation, a missing department stops the load with nothing written, and malformed
YAML is refused with the place named."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sportello.demo import kb
from sportello.demo.kb import (
    ArticleData,
    CategoryData,
    KnowledgeBaseDataError,
    SectionData,
    Translation,
    load_knowledge_base,
    parse_category,
)
from sportello.kb.models import Article, ArticleTranslation, ArticleVersion, KbCategory
from testing import NOW

BODY = "<p>" + " ".join(["word"] * 130) + "</p>"


def text(language: str, title: str, body: str = BODY) -> Translation:
    return Translation(language=language, title=title, summary="S", keywords="k", state="public", body=body)


def small(
    *, departments: tuple[str, ...] = ("Books",), es_body: str = BODY, en_body: str = BODY
) -> CategoryData:
    first = ArticleData(
        key="first",
        section="general",
        departments=departments,
        source_language="en",
        related=("second",),
        translations=(text("en", "First", en_body), text("es", "Primero", es_body)),
        position=0,
    )
    plain = (text("en", "Other"), text("es", "Otro"))
    second = replace(first, key="second", related=(), departments=(), translations=plain, position=1)
    third = replace(first, key="third", related=("second",), departments=(), translations=plain, position=2)
    return CategoryData(
        slug="general",
        title={"en": "General"},
        description={"en": "All of it"},
        position=1,
        sections=(SectionData(slug="general", title={"en": "General"}, position=1),),
        articles=(first, second, third),
    )


def use(monkeypatch: pytest.MonkeyPatch, *categories: CategoryData) -> None:
    monkeypatch.setattr(kb, "knowledge_base", lambda: categories)


def test_a_changed_text_saves_only_that_translation(desk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given the small knowledge base, loaded
    use(monkeypatch, small())
    loaded = load_knowledge_base(actor=desk.admin, now=NOW)
    assert sorted(loaded) == ["first", "second", "third"]
    # related both ways, and the relation from "third" did not undo the one from "first"
    assert {a.key for a in loaded["second"].related.all()} == {"first", "third"}
    assert [d.name for d in loaded["first"].departments.all()] == ["Books"]

    # when only the Spanish text of "first" changes and it is loaded again
    use(monkeypatch, small(es_body=BODY.replace("word", "palabra", 1)))
    load_knowledge_base(actor=desk.admin, now=NOW)

    # then that translation alone has a new version
    versions = {
        (t.article.key, t.language): (t.version, t.outdated)
        for t in ArticleTranslation.objects.select_related("article")
    }
    assert versions[("first", "es")] == (2, False)
    assert all(v == (1, False) for k, v in versions.items() if k != ("first", "es")), versions
    assert ArticleVersion.objects.count() == 7

    # when the English (source) text changes, then the Spanish one is marked outdated
    use(
        monkeypatch,
        small(es_body=BODY.replace("word", "palabra", 1), en_body=BODY.replace("word", "term", 1)),
    )
    load_knowledge_base(actor=desk.admin, now=NOW)
    first = {
        t.language: (t.version, t.outdated) for t in ArticleTranslation.objects.filter(article__key="first")
    }
    assert first == {"en": (2, False), "es": (2, True)}


def test_a_department_missing_from_the_desk_stops_the_load_with_nothing_written(
    desk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an article serving a department this desk does not have
    use(monkeypatch, small(departments=("Books", "Gardening")))
    # when it is loaded, then it is refused, naming the article and the department
    with pytest.raises(KnowledgeBaseDataError, match="'first': no department named Gardening"):
        load_knowledge_base(actor=desk.admin, now=NOW)
    # and nothing was written
    assert not KbCategory.objects.exists()
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"sections": [], "articles": []}, "x.yaml: 'category' is missing"),
        (
            {
                "category": {"slug": "c", "position": 1, "title": {"fr": "C"}, "description": {"en": "D"}},
                "sections": [],
                "articles": [],
            },
            r"x.yaml.category.title.fr: must be a text in en, es or it",
        ),
        (
            {
                "category": {"slug": "c", "position": 1, "title": {"en": "C"}, "description": {"en": "D"}},
                "sections": [],
                "articles": [
                    {
                        "key": "a",
                        "section": "s",
                        "source_language": "it",
                        "translations": {
                            "en": {"title": "T", "summary": "", "keywords": "", "state": "public"}
                        },
                    }
                ],
            },
            r"x.yaml.articles\[a\]: no translation in its source language 'it'",
        ),
        (
            {
                "category": {"slug": "c", "position": 1, "title": {"en": "C"}, "description": {"en": "D"}},
                "sections": [],
                "articles": [
                    {
                        "key": "a",
                        "section": "s",
                        "source_language": "en",
                        "translations": {
                            "en": {
                                "title": "T",
                                "summary": "",
                                "keywords": "",
                                "state": "live",
                                "body": "<p/>",
                            }
                        },
                    }
                ],
            },
            r"x.yaml.articles\[a\].translations.en.state: must be one of draft, internal, public",
        ),
    ],
)
def test_malformed_yaml_is_refused_with_the_place_named(document: dict[str, Any], message: str) -> None:
    with pytest.raises(KnowledgeBaseDataError, match=message):
        parse_category(document, "x.yaml")
