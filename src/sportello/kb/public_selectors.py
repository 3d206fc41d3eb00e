"""Reads of the public knowledge base (the customer portal's `/portal/kb/`).

Who sees what is decided in one place, `visible_states(user)`:
- everyone (signed in or not, customers included): public translations;
- signed-in staff (admins, agents, light agents): internal ones too;
- those who edit the knowledge base (admins and agents): drafts too, shown as a preview.

Everything else — a missing article, an archived one, one in an inactive section or category,
one only in states the reader may not see — raises `NotFound`, the same for all, so a page
never tells whether something it hides exists. Attachments follow their article: a file is
served when its article has a translation the reader may see.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from sportello.accounts.models import Role
from sportello.core.errors import NotFound
from sportello.core.text import sanitize_html

from .models import ArticleAttachment, ArticleState, ArticleTranslation, ArticleVote, KbSection

PUBLIC_STATES: frozenset[str] = frozenset({ArticleState.PUBLIC})
STAFF_STATES: frozenset[str] = frozenset({ArticleState.PUBLIC, ArticleState.INTERNAL})
EDITOR_STATES: frozenset[str] = frozenset({ArticleState.PUBLIC, ArticleState.INTERNAL, ArticleState.DRAFT})
MOST_VIEWED = 6


def visible_states(user: Any) -> frozenset[str]:
    """The translation states `user` (Django's request.user: an agent or anonymous) may read."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return PUBLIC_STATES
    role = getattr(user, "role", None)
    if role in (Role.ADMIN, Role.AGENT):
        return EDITOR_STATES
    if role == Role.LIGHT_AGENT:
        return STAFF_STATES
    return PUBLIC_STATES


def languages() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def localized(texts: Mapping[str, str] | None, language: str, fallback: str = "") -> str:
    """The text of a `{"en": …, "it": …}` mapping in `language`, else in the desk's default
    language, else any, else `fallback`."""
    if isinstance(texts, Mapping):
        for code in (language, settings.LANGUAGE_CODE):
            value = texts.get(code)
            if isinstance(value, str) and value.strip():
                return value
        for value in texts.values():
            if isinstance(value, str) and value.strip():
                return value
    return fallback


def _visible(states: Collection[str]) -> QuerySet[ArticleTranslation]:
    return ArticleTranslation.objects.filter(
        state__in=list(states),
        article__is_archived=False,
        article__section__is_active=True,
        article__section__category__is_active=True,
    )


# --------------------------------------------------------------------------------------------
# Listings


@dataclass(frozen=True, slots=True)
class ArticleLink:
    article_id: int
    language: str
    title: str
    slug: str
    summary: str
    state: str


def _link(t: ArticleTranslation) -> ArticleLink:
    return ArticleLink(t.article_id, t.language, t.title, t.slug, t.summary, t.state)


@dataclass(slots=True)
class SectionEntry:
    slug: str
    title: str
    description: str
    article_count: int
    articles: list[ArticleLink] = field(default_factory=list)


@dataclass(slots=True)
class CategoryEntry:
    slug: str
    title: str
    description: str
    sections: list[SectionEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Home:
    categories: list[CategoryEntry]
    most_viewed: list[ArticleLink]


def _sections_with_counts(*, language: str, states: Collection[str]) -> QuerySet[KbSection]:
    in_view = Q(
        articles__is_archived=False,
        articles__translations__language=language,
        articles__translations__state__in=list(states),
    )
    return (
        KbSection.objects.filter(is_active=True, category__is_active=True)
        .select_related("category")
        .annotate(visible=Count("articles", filter=in_view, distinct=True))
        .filter(visible__gt=0)
        .order_by("category__position", "category__id", "position", "id")
    )


def _group(sections: Iterable[KbSection], language: str) -> list[CategoryEntry]:
    categories: dict[int, CategoryEntry] = {}
    for s in sections:
        c = s.category
        if c.pk not in categories:
            categories[c.pk] = CategoryEntry(
                slug=c.slug,
                title=localized(c.title, language, c.slug),
                description=localized(c.description, language),
            )
        categories[c.pk].sections.append(
            SectionEntry(
                slug=s.slug,
                title=localized(s.title, language, s.slug),
                description=localized(s.description, language),
                article_count=getattr(s, "visible", 0),
            )
        )
    return list(categories.values())


def kb_home(*, language: str, states: Collection[str]) -> Home:
    """The categories with at least one article readable in `language`, their sections, and
    the most viewed articles. Two statements."""
    categories = _group(_sections_with_counts(language=language, states=states), language)
    most_viewed = [
        _link(t)
        for t in _visible(states)
        .filter(language=language)
        .only("article_id", "language", "title", "slug", "summary", "state")
        .order_by("-view_count", "-updated_at", "id")[:MOST_VIEWED]
    ]
    return Home(categories=categories, most_viewed=most_viewed)


def _articles_by_section(
    *, section_ids: list[int], language: str, states: Collection[str]
) -> dict[int, list[ArticleLink]]:
    by_section: dict[int, list[ArticleLink]] = {}
    rows = (
        _visible(states)
        .filter(language=language, article__section_id__in=section_ids)
        .only("article_id", "language", "title", "slug", "summary", "state", "article__section_id")
        .select_related("article")
        .order_by("article__position", "article_id")
    )
    for t in rows:
        by_section.setdefault(t.article.section_id, []).append(_link(t))
    return by_section


def category_get(*, slug: str, language: str, states: Collection[str]) -> CategoryEntry:
    """One category with its sections and their articles readable in `language`. Two statements."""
    sections = list(_sections_with_counts(language=language, states=states).filter(category__slug=slug))
    if not sections:
        raise NotFound("category not found")
    (category,) = _group(sections, language)
    articles = _articles_by_section(section_ids=[s.pk for s in sections], language=language, states=states)
    for section, entry in zip(sections, category.sections, strict=True):
        entry.articles = articles.get(section.pk, [])
    return category


def section_get(*, category: str, slug: str, language: str, states: Collection[str]) -> CategoryEntry:
    """A category holding just the one section `slug`, with its articles. Two statements."""
    sections = list(
        _sections_with_counts(language=language, states=states).filter(category__slug=category, slug=slug)
    )
    if not sections:
        raise NotFound("section not found")
    (entry,) = _group(sections, language)
    entry.sections[0].articles = _articles_by_section(
        section_ids=[sections[0].pk], language=language, states=states
    ).get(sections[0].pk, [])
    return entry


# --------------------------------------------------------------------------------------------
# The article


@dataclass(frozen=True, slots=True)
class AttachmentEntry:
    storage_key: str
    filename: str
    content_type: str
    size: int
    is_image: bool


@dataclass(frozen=True, slots=True)
class ArticlePage:
    translation: ArticleTranslation  # the one shown
    requested_language: str
    fallback: bool  # shown in another language: none readable in the requested one
    body_html: str  # sanitised again on the way out
    category: CategoryEntry
    section: SectionEntry
    others: list[ArticleLink]  # the other languages it can be read in
    attachments: list[AttachmentEntry]
    related: list[ArticleLink]

    @property
    def is_draft(self) -> bool:
        return self.translation.state == ArticleState.DRAFT

    @property
    def is_internal(self) -> bool:
        return self.translation.state == ArticleState.INTERNAL


# Images the portal shows inline (their type was confirmed by their bytes at upload); SVG never.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


# How a stored body names one of its article's images: the agents' address of the attachment.
_BODY_IMAGE_SRC = re.compile(r'\ssrc="/kb/files/(\d+)/[^"]*"')


def _public_image_sources(body: str, attachments: Mapping[int, ArticleAttachment]) -> str:
    """The body with each image of its article pointed at the public file address; an image
    naming anything else loses its source."""

    def public(match: re.Match[str]) -> str:
        a = attachments.get(int(match.group(1)))
        if a is None or a.content_type not in INLINE_IMAGE_TYPES:
            return ""
        url = reverse("kb_public:file", kwargs={"storage_key": a.storage_key, "filename": a.filename})
        return f' src="{html.escape(url, quote=True)}"'

    return _BODY_IMAGE_SRC.sub(public, body)


def _pick(translations: list[ArticleTranslation], language: str, source: str) -> ArticleTranslation:
    by_language = {t.language: t for t in translations}
    for code in (language, source, settings.LANGUAGE_CODE):
        if code in by_language:
            return by_language[code]
    return translations[0]


def article_page(*, article_id: int, language: str, states: Collection[str]) -> ArticlePage:
    """The article as the reader sees it in `language`: that translation when readable, else
    the source language's, else the desk's default, else any readable one (`fallback` says
    so). The body is sanitised again, and its images point at their public addresses. Three
    statements: the translations (with the article, its section and category), the
    attachments, the related articles' readable translations."""
    translations = list(
        _visible(states)
        .filter(article_id=article_id)
        .select_related("article__section__category")
        .order_by("language")
    )
    if not translations:
        raise NotFound("article not found")
    article = translations[0].article
    shown = _pick(translations, language, article.source_language)
    section = article.section
    category = section.category
    related_rows = list(
        _visible(states)
        .filter(article__related=article)
        .exclude(article_id=article.pk)
        .only("article_id", "language", "title", "slug", "summary", "state", "article__source_language")
        .select_related("article")
        .order_by("article__position", "article_id", "language")
    )
    by_article: dict[int, list[ArticleTranslation]] = {}
    for t in related_rows:
        by_article.setdefault(t.article_id, []).append(t)
    related = [_link(_pick(ts, language, ts[0].article.source_language)) for ts in by_article.values()]
    files = list(ArticleAttachment.objects.filter(article_id=article.pk).order_by("created_at", "id"))
    attachments = [
        AttachmentEntry(
            storage_key=a.storage_key,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            is_image=a.content_type in INLINE_IMAGE_TYPES,
        )
        for a in files
    ]
    return ArticlePage(
        translation=shown,
        requested_language=language,
        fallback=shown.language != language,
        body_html=_public_image_sources(sanitize_html(shown.body_html), {a.pk: a for a in files}),
        category=CategoryEntry(
            slug=category.slug,
            title=localized(category.title, language, category.slug),
            description="",
        ),
        section=SectionEntry(
            slug=section.slug,
            title=localized(section.title, language, section.slug),
            description="",
            article_count=0,
        ),
        others=[_link(t) for t in translations if t.pk != shown.pk],
        attachments=attachments,
        related=related,
    )


def attachment_get(*, storage_key: str, filename: str, states: Collection[str]) -> ArticleAttachment:
    """The attachment stored under `storage_key` named `filename`, when its article has a
    translation the reader may see. One statement."""
    readable = _visible(states).values("article_id")
    attachment = ArticleAttachment.objects.filter(
        storage_key=storage_key, filename=filename, article_id__in=readable
    ).first()
    if attachment is None:
        raise NotFound("file not found")
    return attachment


@dataclass(frozen=True, slots=True)
class SearchResult:
    article_id: int
    language: str
    title: str
    slug: str
    excerpt: str


def readable_slugs(*, translation_ids: list[int], states: Collection[str]) -> dict[int, str]:
    """The slugs of those of `translation_ids` the reader may see (a search hit is shown only
    when its translation is still readable). One statement."""
    if not translation_ids:
        return {}
    return dict(_visible(states).filter(pk__in=translation_ids).values_list("pk", "slug"))


# --------------------------------------------------------------------------------------------
# Votes, for the agents' editor


@dataclass(frozen=True, slots=True)
class Feedback:
    helpful: int
    unhelpful: int
    comments: list[ArticleVote]  # the votes with a comment, newest first, with their contact


def translation_feedback(translation: ArticleTranslation) -> Feedback:
    """What readers said about one translation: the counters and the votes that carry a
    comment (newest first; `contact` loaded). For agents only: the caller checks that. Two
    statements."""
    counts = ArticleVote.objects.filter(translation=translation).aggregate(
        n_helpful=Count("id", filter=Q(helpful=True)), n_unhelpful=Count("id", filter=Q(helpful=False))
    )
    comments = list(
        ArticleVote.objects.filter(translation=translation)
        .exclude(comment="")
        .select_related("contact")
        .order_by("-updated_at", "-id")
    )
    return Feedback(helpful=counts["n_helpful"], unhelpful=counts["n_unhelpful"], comments=comments)


def vote_of(*, translation: ArticleTranslation, voter: str | None) -> ArticleVote | None:
    """The reader's vote on the translation, if any. One statement (none without a voter)."""
    if not voter:
        return None
    return ArticleVote.objects.filter(translation=translation, voter=voter).first()
