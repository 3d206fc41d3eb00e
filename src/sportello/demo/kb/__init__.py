"""The demo knowledge base: the shop's help articles in English, Spanish and Italian.

The content lives in this package's YAML files, one per category: the category, its sections and
its articles. An article has a stable `key`, its section's slug, the names of the departments it
serves (none: all of them), the language it is written in first, the keys of related articles
and one translation per language (title, summary, keywords, state and an HTML body).

`load_knowledge_base` writes it through the knowledge base's services, so every text is
sanitised, versioned and indexed like an agent's. It is idempotent: categories, sections and
articles are looked up by slug and key and created only when missing; a translation whose text
and state are unchanged is not saved again (so a translation outdated by a new source text stays
marked until its own text changes), nor are relations that are already in place. A second run
writes nothing; a run after a YAML file changed saves only what changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from django.db import transaction

from sportello.accounts.models import Department, User
from sportello.kb import services
from sportello.kb.models import Article, ArticleState, ArticleTranslation, KbCategory, KbSection

LANGUAGES = ("en", "es", "it")


class KnowledgeBaseDataError(ValueError):
    """A YAML file of the demo knowledge base is malformed; the message names the place."""


@dataclass(frozen=True)
class Translation:
    language: str
    title: str
    summary: str
    keywords: str
    state: str
    body: str  # HTML, without surrounding whitespace


@dataclass(frozen=True)
class ArticleData:
    key: str
    section: str  # the section's slug, in the article's category
    departments: tuple[str, ...]  # department names; empty: every department
    source_language: str
    related: tuple[str, ...]  # article keys
    translations: tuple[Translation, ...]  # the source language first
    position: int

    def translation(self, language: str) -> Translation | None:
        return next((t for t in self.translations if t.language == language), None)


@dataclass(frozen=True)
class SectionData:
    slug: str
    title: dict[str, str]
    position: int


@dataclass(frozen=True)
class CategoryData:
    slug: str
    title: dict[str, str]
    description: dict[str, str]
    position: int
    sections: tuple[SectionData, ...]
    articles: tuple[ArticleData, ...]


# --------------------------------------------------------------------------------------------
# Reading the files


def _require(mapping: Any, name: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if not isinstance(mapping, dict) or name not in mapping:
        raise KnowledgeBaseDataError(f"{where}: '{name}' is missing")
    value = mapping[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise KnowledgeBaseDataError(f"{where}.{name}: has the wrong type")
    return value


def _labels(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise KnowledgeBaseDataError(f"{where}: must map languages to texts")
    for language, text in value.items():
        if language not in LANGUAGES or not isinstance(text, str) or not text.strip():
            raise KnowledgeBaseDataError(f"{where}.{language}: must be a text in en, es or it")
    return {language: text.strip() for language, text in value.items()}


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KnowledgeBaseDataError(f"{where}: must be a list of texts")
    return tuple(value)


def _translation(language: str, raw: Any, where: str) -> Translation:
    if language not in LANGUAGES:
        raise KnowledgeBaseDataError(f"{where}: unknown language '{language}'")
    state = _require(raw, "state", where)
    if state not in ArticleState.values:
        raise KnowledgeBaseDataError(f"{where}.state: must be one of {', '.join(ArticleState.values)}")
    return Translation(
        language=language,
        title=_require(raw, "title", where).strip(),
        summary=_require(raw, "summary", where).strip(),
        keywords=_require(raw, "keywords", where).strip(),
        state=state,
        body=_require(raw, "body", where).strip(),
    )


def _article(raw: Any, position: int, where: str) -> ArticleData:
    key = _require(raw, "key", where)
    where = f"{where}[{key}]"
    source = _require(raw, "source_language", where)
    raw_translations = _require(raw, "translations", where, dict)
    if source not in raw_translations:
        raise KnowledgeBaseDataError(f"{where}: no translation in its source language '{source}'")
    languages = [source, *sorted(lang for lang in raw_translations if lang != source)]
    return ArticleData(
        key=key,
        section=_require(raw, "section", where),
        departments=_strings(raw.get("departments", []), f"{where}.departments"),
        source_language=source,
        related=_strings(raw.get("related", []), f"{where}.related"),
        translations=tuple(
            _translation(lang, raw_translations[lang], f"{where}.translations.{lang}") for lang in languages
        ),
        position=position,
    )


def parse_category(raw: Any, where: str) -> CategoryData:
    """One YAML file's document as a category; `where` names the file in errors."""
    head = _require(raw, "category", where, dict)
    sections = _require(raw, "sections", where, list)
    articles = _require(raw, "articles", where, list)
    return CategoryData(
        slug=_require(head, "slug", f"{where}.category"),
        title=_labels(head.get("title"), f"{where}.category.title"),
        description=_labels(head.get("description"), f"{where}.category.description"),
        position=_require(head, "position", f"{where}.category", int),
        sections=tuple(
            SectionData(
                slug=_require(s, "slug", f"{where}.sections[{i}]"),
                title=_labels(
                    s.get("title") if isinstance(s, dict) else None, f"{where}.sections[{i}].title"
                ),
                position=_require(s, "position", f"{where}.sections[{i}]", int),
            )
            for i, s in enumerate(sections)
        ),
        articles=tuple(_article(a, i, f"{where}.articles") for i, a in enumerate(articles)),
    )


@cache
def knowledge_base() -> tuple[CategoryData, ...]:
    """Every category of the demo knowledge base, read from this package's YAML files (checked
    for shape, not for references between them: the tests do that)."""
    folder = resources.files(__package__)
    categories = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            categories.append(parse_category(yaml.safe_load(entry.read_text(encoding="utf-8")), entry.name))
    return tuple(sorted(categories, key=lambda c: (c.position, c.slug)))


def articles() -> Iterable[tuple[CategoryData, ArticleData]]:
    for category in knowledge_base():
        for article in category.articles:
            yield category, article


def article_count() -> int:
    """How many articles `load_knowledge_base` goes through (a progress display's total)."""
    return sum(len(c.articles) for c in knowledge_base())


# --------------------------------------------------------------------------------------------
# Loading


def _related(data: Iterable[ArticleData]) -> dict[str, set[str]]:
    """Each article's related keys, both ways: relating is symmetric, and relating A to exactly
    {B} would otherwise undo a C → A link written before."""
    out: dict[str, set[str]] = {}
    for article in data:
        out.setdefault(article.key, set()).update(article.related)
        for other in article.related:
            out.setdefault(other, set()).add(article.key)
    return out


@transaction.atomic
def load_knowledge_base(
    *, actor: User, now: datetime, progress: Callable[[], None] | None = None
) -> dict[str, Article]:
    """Write the demo knowledge base through the knowledge base's services as `actor` (an admin
    or agent); `progress` is called once per article. Returns every article by key. All or
    nothing; idempotent (see the module's docstring). The departments the articles name must
    exist."""
    departments = {d.name: d for d in Department.objects.all()}
    loaded: dict[str, Article] = {}
    for category_data in knowledge_base():
        category = KbCategory.objects.filter(slug=category_data.slug).first()
        if category is None:
            category = services.category_create(
                slug=category_data.slug,
                title=category_data.title,
                description=category_data.description,
                position=category_data.position,
                actor=actor,
                now=now,
            )
        sections: dict[str, KbSection] = {}
        for section_data in category_data.sections:
            section = KbSection.objects.filter(category=category, slug=section_data.slug).first()
            if section is None:
                section = services.section_create(
                    category=category,
                    slug=section_data.slug,
                    title=section_data.title,
                    position=section_data.position,
                    actor=actor,
                    now=now,
                )
            sections[section_data.slug] = section
        for data in category_data.articles:
            loaded[data.key] = _article_load(
                data, sections=sections, departments=departments, actor=actor, now=now
            )
            if progress is not None:
                progress()
    for key, related in _related(a for _, a in articles()).items():
        services.article_relate(
            article=loaded[key], related=[loaded[k] for k in sorted(related)], actor=actor, now=now
        )
    return loaded


def _unchanged(saved: ArticleTranslation | None, translation: Translation) -> bool:
    return saved is not None and (
        saved.title,
        saved.summary,
        saved.keywords,
        saved.state,
        saved.body_html,
    ) == (
        translation.title,
        translation.summary,
        translation.keywords,
        translation.state,
        services.sanitize_body(translation.body),
    )


def _article_load(
    data: ArticleData,
    *,
    sections: dict[str, KbSection],
    departments: dict[str, Department],
    actor: User,
    now: datetime,
) -> Article:
    article = Article.objects.filter(key=data.key).first()
    if article is None:
        missing = [name for name in data.departments if name not in departments]
        if missing:
            raise KnowledgeBaseDataError(
                f"article '{data.key}': no department named {', '.join(missing)} on this desk"
            )
        article = services.article_create(
            section=sections[data.section],
            source_language=data.source_language,
            departments=[departments[name] for name in data.departments],
            key=data.key,
            position=data.position,
            actor=actor,
            now=now,
        )
    saved = {t.language: t for t in article.translations.all()}
    for translation in data.translations:  # the source language first: saving it marks the others outdated
        if _unchanged(saved.get(translation.language), translation):
            continue  # saving it again would clear its outdated mark, which only a new text may do
        services.translation_save(
            article=article,
            language=translation.language,
            title=translation.title,
            body_html=translation.body,
            state=translation.state,
            summary=translation.summary,
            keywords=translation.keywords,
            actor=actor,
            now=now,
        )
    return article
