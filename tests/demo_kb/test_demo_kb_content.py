"""The demo knowledge base's YAML and the evaluation set: well formed, consistent with each other
and with the demo desk, and covering the languages the product promises."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from sportello.demo import data
from sportello.demo.kb import ArticleData, article_count, articles, knowledge_base

REQUESTS = Path(__file__).resolve().parents[1] / "kb" / "eval" / "requests.yaml"
BODY_TAGS = {
    "p", "h2", "h3", "ul", "ol", "li", "strong", "em", "a", "code",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
DEPARTMENTS = {name for name, _, _ in data.DEPARTMENTS}
ALL = ("en", "es", "it")


@cache
def by_key() -> dict[str, ArticleData]:
    return {a.key: a for _, a in articles()}


def languages(article: ArticleData) -> set[str]:
    return {t.language for t in article.translations}


def states(article: ArticleData) -> set[str]:
    return {t.state for t in article.translations}


def words(html: str) -> int:
    return len(re.sub(r"<[^>]+>", " ", html).split())


@cache
def requests() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(REQUESTS.read_text(encoding="utf-8"))
    assert isinstance(loaded, list)
    return loaded


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes += [(tag, name) for name, _ in attrs]


def test_keys_slugs_and_references_are_unique_and_resolve() -> None:
    categories = knowledge_base()
    keys = [a.key for _, a in articles()]
    assert len(keys) == len(set(keys)) == article_count()
    assert len({c.slug for c in categories}) == len(categories) == 8
    known = set(keys)
    for category in categories:
        section_slugs = [s.slug for s in category.sections]
        assert len(section_slugs) == len(set(section_slugs)), category.slug
        for article in category.articles:
            assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?", article.key), article.key
            assert article.section in section_slugs, article.key
            assert set(article.departments) <= DEPARTMENTS, article.key
            assert set(article.related) <= known - {article.key}, article.key
            assert article.translations[0].language == article.source_language, article.key
        # every section has an article, every category and section a title in all three languages
        assert {a.section for a in category.articles} == set(section_slugs), category.slug
        assert set(category.title) == set(category.description) == set(ALL), category.slug
        assert all(set(s.title) == set(ALL) for s in category.sections), category.slug


def test_at_least_sixty_articles_with_the_promised_language_coverage() -> None:
    # given the demo knowledge base
    everything = [a for _, a in articles()]
    public = [a for a in everything if states(a) == {"public"}]
    # then: at least 60 articles, 48 of them public in English, Spanish and Italian
    assert len(everything) >= 60
    assert sum(1 for a in public if languages(a) == set(ALL)) >= 48
    # at least 8 exist only in English (public: the cross-language questions find them)
    assert sum(1 for a in public if languages(a) == {"en"}) >= 8
    # two or three exist only in Spanish or only in Italian
    assert 2 <= sum(1 for a in public if languages(a) in ({"es"}, {"it"})) <= 3
    assert {"es"} in [languages(a) for a in public]
    assert {"it"} in [languages(a) for a in public]
    # three are internal (agents only) and two are drafts, in every language they have
    assert sum(1 for a in everything if states(a) == {"internal"}) == 3
    assert sum(1 for a in everything if states(a) == {"draft"}) == 2
    assert all(len(states(a)) == 1 for a in everything)


def test_every_text_is_complete_and_within_length() -> None:
    for article in by_key().values():
        for t in article.translations:
            where = f"{article.key}/{t.language}"
            assert 120 <= words(t.body) <= 300, (where, words(t.body))
            assert 0 < len(t.title) <= 250, where
            assert 0 < len(t.summary) <= 500, where
            assert 0 < len(t.keywords) <= 500, where
            assert "\n" not in t.title + t.summary + t.keywords, where


def test_bodies_use_only_the_allowed_markup() -> None:
    for article in by_key().values():
        for t in article.translations:
            parser = Tags()
            parser.feed(t.body)
            assert set(parser.tags) <= BODY_TAGS, (article.key, t.language, set(parser.tags) - BODY_TAGS)
            assert parser.attributes == [], (article.key, t.language)
            assert not re.search(r"&(?![a-z]+;|#\d+;)|<(?![/a-z])", t.body), (article.key, t.language)
            assert t.body[0] + t.body[-1] == "<>", (article.key, t.language)


def test_every_body_is_unchanged_by_the_knowledge_base_sanitiser() -> None:
    services = pytest.importorskip("sportello.kb.services")
    for article in by_key().values():
        for t in article.translations:
            assert services.sanitize_body(t.body) == t.body, (article.key, t.language)


def test_the_same_facts_in_every_language() -> None:
    # the amounts, percentages and counts of days an article states are the same in every
    # language it has (written 4,90 € in Spanish and Italian, €4.90 in English)
    def figures(html: str) -> Counter[str]:
        text = re.sub(r"<[^>]+>", " ", html).replace("€", " ")
        return Counter(n.replace(",", ".") for n in re.findall(r"\d+(?:[.,]\d+)?", text))

    for article in by_key().values():
        english = article.translation("en")
        if english is None:
            continue
        for t in article.translations:
            if t.language == "en":
                continue
            assert set(figures(t.body)) == set(figures(english.body)), (article.key, t.language)


# --------------------------------------------------------------------------------------------
# The evaluation set


def test_the_evaluation_set_is_well_formed_and_its_targets_exist() -> None:
    known = by_key()
    seen: set[str] = set()
    for r in requests():
        assert set(r) <= {"text", "language", "targets", "department", "kind", "audience"}, r
        assert r["language"] in ALL, r
        assert r["kind"] in ("same", "cross"), r
        assert r["audience"] in ("customer", "agent"), r
        assert 1 <= len(set(r["targets"])) == len(r["targets"]) <= 2, r
        assert r.get("department", "Returns") in DEPARTMENTS, r
        assert len(str(r["text"]).split()) >= 5, r
        assert r["text"] not in seen, r["text"]
        seen.add(r["text"])
        for key in r["targets"]:
            target = known[key]
            assert "draft" not in states(target), (key, r["text"])
            if r["audience"] == "customer":
                assert states(target) == {"public"}, (key, r["text"])
        in_language = [r["language"] in languages(known[k]) for k in r["targets"]]
        if r["kind"] == "same":
            assert any(in_language), r
        else:
            assert not any(in_language), r


def test_the_evaluation_set_covers_every_language_and_the_cross_language_questions() -> None:
    rs = requests()
    kinds = Counter(r["language"] if r["kind"] == "same" else "cross" for r in rs)
    assert len(rs) >= 150
    assert min(kinds["en"], kinds["es"], kinds["it"]) >= 40
    assert kinds["cross"] >= 30
    cross = [r for r in rs if r["kind"] == "cross"]
    # questions in Spanish and Italian that only an English article answers, and the reverse
    assert {r["language"] for r in cross} == set(ALL)
    assert sum(1 for r in rs if r["audience"] == "agent") >= 5


def test_every_published_article_is_the_target_of_some_request() -> None:
    targeted = {k for r in requests() for k in r["targets"]}
    answerable = {k for k, a in by_key().items() if "draft" not in states(a)}
    assert answerable - targeted == set()


def test_requests_do_not_copy_their_target_titles() -> None:
    known = by_key()
    for r in requests():
        for key in r["targets"]:
            for t in known[key].translations:
                assert t.title.lower() not in r["text"].lower(), (r["text"], t.title)
