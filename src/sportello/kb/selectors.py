"""Reading the knowledge base, permission-scoped. The one rule of who sees and edits what:

- admins and agents edit the knowledge base and see every translation (drafts included);
- light agents read internal and public translations; they never edit;
- customers (and anyone not signed in) read public translations only (the portal's pages).

An article is visible when at least one of its translations is (an editor sees every article,
even one with no translation yet). Missing and not visible are the same NotFound.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from sportello.accounts.models import Department, Role, User
from sportello.core.errors import NotFound, PermissionDenied

from . import search
from .links import desk_page_url, public_page_url
from .models import (
    Article,
    ArticleAttachment,
    ArticleState,
    ArticleTicketLink,
    ArticleTranslation,
    ArticleVersion,
    KbCategory,
    KbSection,
)

ALL_STATES: tuple[str, ...] = (ArticleState.DRAFT, ArticleState.INTERNAL, ArticleState.PUBLIC)


def kb_languages() -> tuple[str, ...]:
    """The languages a translation may be written in (the desk's languages)."""
    return tuple(code for code, _ in settings.LANGUAGES)


def kb_may_edit(principal: Any) -> bool:
    """Whether `principal` edits the knowledge base: an active admin or agent."""
    return isinstance(principal, User) and principal.is_active and principal.role in (Role.ADMIN, Role.AGENT)


def kb_visible_states(principal: Any) -> tuple[str, ...]:
    """The translation states `principal` may read."""
    if kb_may_edit(principal):
        return ALL_STATES
    if isinstance(principal, User) and principal.is_active and principal.role == Role.LIGHT_AGENT:
        return (ArticleState.INTERNAL, ArticleState.PUBLIC)
    return (ArticleState.PUBLIC,)


def require_kb_editor(principal: Any) -> User:
    """The principal as a knowledge-base editor, or PermissionDenied."""
    if not kb_may_edit(principal):
        raise PermissionDenied("only admins and agents edit the knowledge base")
    assert isinstance(principal, User)
    return principal


def require_kb_reader(principal: Any) -> User:
    """The principal as an agent of any role (the Desk's knowledge base), or PermissionDenied."""
    if not isinstance(principal, User) or not principal.is_active:
        raise PermissionDenied("only agents use the desk's knowledge base")
    return principal


# --------------------------------------------------------------------------------------------
# Categories and sections


def category_list(*, principal: Any) -> QuerySet[KbCategory]:
    require_kb_reader(principal)
    return KbCategory.objects.order_by("position", "id")


def category_get(*, principal: Any, category_id: int) -> KbCategory:
    require_kb_reader(principal)
    found = KbCategory.objects.filter(pk=category_id).first()
    if found is None:
        raise NotFound("category not found")
    return found


def section_list(*, principal: Any, category_id: int | None = None) -> QuerySet[KbSection]:
    require_kb_reader(principal)
    rows = KbSection.objects.select_related("category").order_by(
        "category__position", "category_id", "position", "id"
    )
    if category_id is not None:
        rows = rows.filter(category_id=category_id)
    return rows


def section_get(*, principal: Any, section_id: int) -> KbSection:
    require_kb_reader(principal)
    found = KbSection.objects.select_related("category").filter(pk=section_id).first()
    if found is None:
        raise NotFound("section not found")
    return found


# --------------------------------------------------------------------------------------------
# Articles and translations


def article_list(
    *,
    principal: Any,
    section_id: int | None = None,
    state: str | None = None,
    language: str | None = None,
    include_archived: bool = False,
) -> QuerySet[Article]:
    """The articles `principal` may see, each with the translations it may see prefetched
    (`visible_translations`) and its departments. `state`/`language`: only articles having a
    visible translation in that state / language."""
    require_kb_reader(principal)
    states = kb_visible_states(principal)
    translations = ArticleTranslation.objects.filter(state__in=states).order_by("language")
    rows = Article.objects.select_related("section", "section__category").order_by(
        "section__category__position",
        "section__category_id",
        "section__position",
        "section_id",
        "position",
        "id",
    )
    if not include_archived:
        rows = rows.filter(is_archived=False)
    if section_id is not None:
        rows = rows.filter(section_id=section_id)
    if states != ALL_STATES:
        rows = rows.filter(pk__in=ArticleTranslation.objects.filter(state__in=states).values("article_id"))
    if state is not None or language is not None:
        wanted = ArticleTranslation.objects.filter(state__in=states)
        if state is not None:
            wanted = wanted.filter(state=state)
        if language is not None:
            wanted = wanted.filter(language=language)
        rows = rows.filter(pk__in=wanted.values("article_id"))
    return rows.prefetch_related(
        Prefetch("translations", queryset=translations, to_attr="visible_translations"),
        "departments",
    )


def _visible_articles(states: tuple[str, ...]) -> QuerySet[Article]:
    if states == ALL_STATES:
        return Article.objects.all()
    return Article.objects.filter(
        pk__in=ArticleTranslation.objects.filter(state__in=states).values("article_id")
    )


def article_get(*, principal: Any, article_id: int) -> Article:
    """One article `principal` may see, with `visible_translations`, departments and related
    articles (those it may see) prefetched."""
    require_kb_reader(principal)
    states = kb_visible_states(principal)
    rows = Article.objects.select_related("section", "section__category").filter(pk=article_id)
    if states != ALL_STATES:
        rows = rows.filter(pk__in=ArticleTranslation.objects.filter(state__in=states).values("article_id"))
    found = rows.prefetch_related(
        Prefetch(
            "translations",
            queryset=ArticleTranslation.objects.filter(state__in=states).order_by("language"),
            to_attr="visible_translations",
        ),
        "departments",
        Prefetch(
            "related",
            queryset=_visible_articles(states)
            .prefetch_related(
                Prefetch(
                    "translations",
                    queryset=ArticleTranslation.objects.filter(state__in=states).order_by("language"),
                    to_attr="visible_translations",
                )
            )
            .order_by("id"),
            to_attr="visible_related",
        ),
    ).first()
    if found is None:
        raise NotFound("article not found")
    return found


def translation_get(*, principal: Any, article_id: int, language: str) -> ArticleTranslation:
    require_kb_reader(principal)
    found = (
        ArticleTranslation.objects.select_related("article", "updated_by")
        .filter(article_id=article_id, language=language, state__in=kb_visible_states(principal))
        .first()
    )
    if found is None:
        raise NotFound("translation not found")
    return found


def translation_title(article: Any, language: str | None = None) -> str:
    """The title to show for an article (prefetched `visible_translations`): in `language`,
    else its source language, else any."""
    translations = list(getattr(article, "visible_translations", []))
    by_language = {t.language: t for t in translations}
    for code in (language, article.source_language):
        if code and code in by_language:
            return str(by_language[code].title)
    return str(translations[0].title) if translations else ""


def version_list(*, principal: Any, article_id: int, language: str) -> QuerySet[ArticleVersion]:
    """The saved texts of a translation, newest first (editors only)."""
    require_kb_editor(principal)
    translation = translation_get(principal=principal, article_id=article_id, language=language)
    return ArticleVersion.objects.select_related("author").filter(translation=translation).order_by("-number")


def version_get(*, principal: Any, article_id: int, language: str, number: int) -> ArticleVersion:
    found = (
        version_list(principal=principal, article_id=article_id, language=language)
        .filter(number=number)
        .first()
    )
    if found is None:
        raise NotFound("version not found")
    return found


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a diff: `kind` is "same", "added", "removed" or "gap" (unchanged lines left out)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    old: str
    new: str
    lines: tuple[DiffLine, ...]


def _body_lines(html: str) -> list[str]:
    # One line per block element, so a diff reads paragraph by paragraph.
    html = re.sub(r"(?i)(</(?:p|h[1-6]|li|tr|pre|blockquote|table|ul|ol)>|<br\s*/?>)", r"\1\n", html)
    return [line.strip() for line in html.splitlines() if line.strip()]


def text_diff(old: str, new: str, *, context: int = 2) -> tuple[DiffLine, ...]:
    """A line diff of two texts, unchanged lines beyond `context` around a change folded into a
    "gap"."""
    lines: list[DiffLine] = []
    a_lines, b_lines = _body_lines(old), _body_lines(new)
    matcher = difflib.SequenceMatcher(a=a_lines, b=b_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", t) for t in a_lines[i1:i2])
                continue
            if tag in ("replace", "delete"):
                lines.extend(DiffLine("removed", t) for t in a_lines[i1:i2])
            if tag in ("replace", "insert"):
                lines.extend(DiffLine("added", t) for t in b_lines[j1:j2])
    return tuple(lines)


def version_diff(*, principal: Any, article_id: int, language: str, a: int, b: int) -> list[FieldDiff]:
    """What changed from version `a` to version `b` of a translation: one entry per changed
    field (title, summary, state, body), the body as a line diff."""
    old = version_get(principal=principal, article_id=article_id, language=language, number=a)
    new = version_get(principal=principal, article_id=article_id, language=language, number=b)
    out: list[FieldDiff] = []
    for field in ("title", "summary", "state", "body_html"):
        before, after = str(getattr(old, field)), str(getattr(new, field))
        if before != after:
            lines = text_diff(before, after) if field == "body_html" else ()
            out.append(FieldDiff(field=field, old=before, new=after, lines=lines))
    return out


def attachment_get(*, principal: Any, attachment_id: int) -> ArticleAttachment:
    """An attachment of an article `principal` may see: an agent sees those of articles they
    may see; anyone else those of articles with a public translation."""
    states = (
        kb_visible_states(principal)
        if isinstance(principal, User) and principal.is_active
        else (ArticleState.PUBLIC,)
    )
    rows = ArticleAttachment.objects.select_related("article").filter(pk=attachment_id)
    if states != ALL_STATES:
        rows = rows.filter(
            article_id__in=ArticleTranslation.objects.filter(state__in=states).values("article_id")
        )
    found = rows.first()
    if found is None:
        raise NotFound("attachment not found")
    return found


def attachment_list(*, principal: Any, article_id: int) -> QuerySet[ArticleAttachment]:
    article = article_get(principal=principal, article_id=article_id)
    return ArticleAttachment.objects.filter(article=article).order_by("created_at", "id")


def attachment_url(attachment: ArticleAttachment) -> str:
    """Where an attachment is served (`kb.views.attachment_download`): the URL an article's body
    may use for its images."""
    return f"/kb/files/{attachment.pk}/{attachment.filename}"


def public_url(translation: ArticleTranslation) -> str:
    """The portal's page of a public translation."""
    return f"/portal/kb/{translation.language}/a/{translation.article_id}-{translation.slug}/"


# --------------------------------------------------------------------------------------------
# Articles and tickets: the composer's picker, the ticket's linked articles


@dataclass(frozen=True, slots=True)
class Insertable:
    """An article the composer may insert: the translation chosen for the reader and its address
    (`kb.links`: the portal's page of a public translation, else the agents' page)."""

    article_id: int
    language: str
    title: str
    excerpt: str
    state: str
    url: str


def insertable_states(principal: Any, *, public: bool) -> tuple[str, ...]:
    """What an agent may insert: into a public reply public translations only; into an internal
    note internal ones too (never drafts: no reader outside the editors has them)."""
    readable = kb_visible_states(require_kb_reader(principal))
    wanted = (ArticleState.PUBLIC,) if public else (ArticleState.INTERNAL, ArticleState.PUBLIC)
    return tuple(s for s in wanted if s in readable)


def insertable_pick(
    translations: Any, *, states: tuple[str, ...], language: str, source_language: str
) -> ArticleTranslation | None:
    """The translation to insert: in the reader's `language` when there is one in `states`, else in
    the article's source language, else the first."""
    usable = [t for t in translations if t.state in states]
    by_language = {t.language: t for t in usable}
    for code in (language, source_language):
        if code in by_language:
            return by_language[code]
    return usable[0] if usable else None


def insertable_search(
    *, principal: Any, query: str, public: bool, language: str, limit: int = 8
) -> list[Insertable]:
    """The articles matching `query` that `principal` may insert into a public reply (`public`) or
    an internal note, best first, each in the reader's `language` when it has a translation in
    it (its title and excerpt both from that translation). One search statement and one read of
    the hits' translations."""
    states = insertable_states(principal, public=public)
    query = query.strip()[:200]
    if not states or not query:
        return []
    hits = search.search_translations(query=query, states=states, limit=limit * 3)
    order = list(dict.fromkeys(h.article_id for h in hits))[:limit]
    if not order:
        return []
    translations = ArticleTranslation.objects.select_related("article").filter(
        article_id__in=order, state__in=states, article__is_archived=False
    )
    by_article: dict[int, list[ArticleTranslation]] = {}
    for t in translations:
        by_article.setdefault(t.article_id, []).append(t)
    out: list[Insertable] = []
    for article_id in order:
        rows = by_article.get(article_id, [])
        if not rows:
            continue
        chosen = insertable_pick(
            rows, states=states, language=language, source_language=rows[0].article.source_language
        )
        if chosen is None:
            continue
        url = (
            public_page_url(article_id=article_id, language=chosen.language, slug=chosen.slug)
            if chosen.state == ArticleState.PUBLIC
            else desk_page_url(article_id=article_id, language=chosen.language)
        )
        out.append(
            Insertable(
                article_id=article_id,
                language=chosen.language,
                title=chosen.title,
                excerpt=search.excerpt_of(summary=chosen.summary, body_text=chosen.body_text),
                state=chosen.state,
                url=url,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class LinkedArticle:
    article_id: int
    title: str
    language: str
    kind: str


def ticket_articles(*, principal: Any, ticket_id: int, language: str) -> list[LinkedArticle]:
    """The articles linked to a ticket (written from it, linked in its replies) that `principal`
    may read, oldest link first, each titled in `language` when it can be. The caller checked the
    ticket is visible. Two statements."""
    states = kb_visible_states(require_kb_reader(principal))
    links = list(
        ArticleTicketLink.objects.filter(ticket_id=ticket_id)
        .select_related("article")
        .prefetch_related(
            Prefetch(
                "article__translations",
                queryset=ArticleTranslation.objects.filter(state__in=states).order_by("language"),
                to_attr="visible_translations",
            )
        )
        .order_by("created_at", "id")
    )
    out: list[LinkedArticle] = []
    seen: set[int] = set()
    for link in links:
        article = link.article
        translations = getattr(article, "visible_translations", [])
        if article.pk in seen or not translations:
            continue
        seen.add(article.pk)
        by_language = {t.language: t for t in translations}
        chosen = by_language.get(language) or by_language.get(article.source_language) or translations[0]
        out.append(
            LinkedArticle(article_id=article.pk, title=chosen.title, language=chosen.language, kind=link.kind)
        )
    return out


def article_ticket_count(*, article_id: int) -> int:
    """How many tickets an article is linked to (written from or linked in a reply)."""
    return ArticleTicketLink.objects.filter(article_id=article_id).values("ticket_id").distinct().count()


def department_choices(*, keep: Any = ()) -> QuerySet[Department]:
    """The departments an article may serve: the active ones, and those in `keep` (what it
    serves now, kept even when switched off)."""
    return Department.objects.filter(Q(is_active=True) | Q(pk__in=list(keep))).order_by("name")
