"""Writing the knowledge base. Every function is one transaction; only admins and agents write
(`selectors.require_kb_editor`).

History: a translation's `ArticleVersion` rows are its history (who saved which text, when,
with which note; restoring version n saves a new version equal to it). Categories, sections and
articles (where an article sits, its departments, related articles, archived) are recorded as
configuration snapshots (`kb.history`), so the Console's audit log lists their changes with
everyone else's.

Choices made here:
- Stale saves: a translation's `version` is the number of its latest version; a save given
  `expected_version` compares it under the article's lock (0: "there is no translation in this
  language yet") and refuses a different one (Conflict `stale_translation`), nothing written.
- A save that changes nothing (title, summary, keywords, body, state, and for a translation
  marked outdated, the mark) writes nothing.
- Saving the source language's text (title, summary, keywords or body; not a state alone)
  marks every other translation outdated; saving another translation clears its own mark.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

import nh3
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import translation as i18n
from django.utils.text import slugify
from django.utils.translation import gettext as _

from sportello.accounts.models import Department, User
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.snapshots import recording, snapshot_record
from sportello.core.text import clean_text, text_to_html
from sportello.engine.text import html_to_text
from sportello.tickets.attachments import (
    attachment_storage,
    choose_content_type,
    digest_stream,
    max_bytes,
    sanitize_filename,
    storage_key_new,
)
from sportello.tickets.models import AuthorKind, Message, StatusCategory, Ticket
from sportello.tickets.selectors import ticket_get_for

from . import links, search
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
from .redact import redact
from .selectors import kb_languages, kb_visible_states, require_kb_editor

# The snapshot kinds of the structure's history (`kb.history` registers them).
CATEGORIES = "kb_categories"
SECTIONS = "kb_sections"
ARTICLES = "kb_articles"

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,78}[a-z0-9])?$")
LABEL_MAX = 200  # a category's or section's title in one language
DESCRIPTION_MAX = 1000
TITLE_MAX = 250
SUMMARY_MAX = 500
KEYWORDS_MAX = 500
NOTE_MAX = 300
BODY_MAX = 200_000
SLUG_MAX = 120

# The article body's allow-list: headings, lists, links, images (from the article's own
# attachments only), code, tables; no script, style or event handler.
_BODY_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "s", "samp", "small", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u",
    "ul",
}  # fmt: skip
_BODY_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "*": {"dir", "lang"},
}
_URL_SCHEMES = {"http", "https", "mailto"}
_ATTACHMENT_SRC = re.compile(r"^/kb/files/(\d+)/[^/?#]*$")


def sanitize_body(html: str, *, attachment_ids: frozenset[int] = frozenset()) -> str:
    """An article body as stored: the allow-list above; an image's `src` only when it is one of
    the article's own attachments (`attachment_ids`), otherwise dropped."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            found = _ATTACHMENT_SRC.match(value)
            return value if found and int(found.group(1)) in attachment_ids else None
        return value

    return nh3.clean(
        html,
        tags=_BODY_TAGS,
        attributes=_BODY_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


# --------------------------------------------------------------------------------------------
# Checks


def _check_language(language: str, *, field: str = "language") -> str:
    if language not in kb_languages():
        raise ValidationFailed(f"must be one of {', '.join(kb_languages())}", field=field)
    return language


def _check_slug(slug: str) -> str:
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ValidationFailed(
            "use lower-case letters, digits, '-' and '_' (at most 80), "
            "starting and ending with a letter or digit",
            field="slug",
        )
    return slug


def _labels(value: Any, *, field: str, max_length: int, required: bool) -> dict[str, str]:
    """A text per language (`{"en": "Orders"}`): known languages, single lines, empty ones left
    out; `required`: at least one."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValidationFailed("must map language codes to texts", field=field)
    out: dict[str, str] = {}
    for language, text in value.items():
        _check_language(language, field=field)
        if not isinstance(text, str):
            raise ValidationFailed("must be a text", field=field)
        cleaned = clean_text(text, field=field, max_length=max_length, single_line=(field == "title"))
        if cleaned.strip():
            out[language] = cleaned.strip()
    if required and not out:
        raise ValidationFailed("is required in at least one language", field=field)
    return dict(sorted(out.items()))


def _check_state(state: str) -> str:
    if state not in ArticleState.values:
        raise ValidationFailed(f"must be one of {', '.join(ArticleState.values)}", field="state")
    return state


def _position(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
        raise ValidationFailed("must be a whole number from 0 to 1000000", field="position")
    return value


# --------------------------------------------------------------------------------------------
# Categories and sections


def _structure_fields(
    *, title: dict[str, str], description: dict[str, str] | None, position: int
) -> dict[str, Any]:
    """A new category's or section's checked title, description and position."""
    return {
        "title": _labels(title, field="title", max_length=LABEL_MAX, required=True),
        "description": _labels(description, field="description", max_length=DESCRIPTION_MAX, required=False),
        "position": _position(position),
    }


def _structure_update(
    row: KbCategory | KbSection,
    *,
    kind: str,
    what: str,
    actor: User,
    now: datetime,
    title: dict[str, str] | None,
    description: dict[str, str] | None,
    position: int | None,
    is_active: bool | None,
) -> Any:
    """Change a category or a section (`kind`: its snapshot kind, `what`: its name in errors)
    under its lock, recorded in the structure's history; only the fields given and different
    are written."""
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _labels(title, field="title", max_length=LABEL_MAX, required=True)
    if description is not None:
        changes["description"] = _labels(
            description, field="description", max_length=DESCRIPTION_MAX, required=False
        )
    if position is not None:
        changes["position"] = _position(position)
    if is_active is not None:
        changes["is_active"] = bool(is_active)
    model = type(row)
    with recording(kind, str(row.pk), actor=actor, now=now):
        current = model.objects.select_for_update().filter(pk=row.pk).first()
        if current is None:
            raise NotFound(f"{what} not found")
        changes = {k: v for k, v in changes.items() if getattr(current, k) != v}
        if changes:
            for name, value in changes.items():
                setattr(current, name, value)
            current.updated_at = now
            current.save(update_fields=[*changes, "updated_at"])
    return current


@transaction.atomic
def category_create(
    *,
    slug: str,
    title: dict[str, str],
    description: dict[str, str] | None = None,
    position: int = 0,
    actor: User,
    now: datetime,
) -> KbCategory:
    require_kb_editor(actor)
    _check_slug(slug)
    fields = _structure_fields(title=title, description=description, position=position)
    if KbCategory.objects.filter(slug=slug).exists():
        raise Conflict(f"a category '{slug}' exists", field="slug", code="kb_category_exists")
    try:
        with transaction.atomic():
            category = KbCategory.objects.create(slug=slug, **fields, created_at=now, updated_at=now)
    except IntegrityError:
        raise Conflict(f"a category '{slug}' exists", field="slug", code="kb_category_exists") from None
    snapshot_record(CATEGORIES, str(category.pk), actor=actor, now=now)
    return category


@transaction.atomic
def category_update(
    *,
    category: KbCategory,
    actor: User,
    now: datetime,
    title: dict[str, str] | None = None,
    description: dict[str, str] | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> KbCategory:
    require_kb_editor(actor)
    updated: KbCategory = _structure_update(
        category, kind=CATEGORIES, what="category", actor=actor, now=now, title=title,
        description=description, position=position, is_active=is_active,
    )  # fmt: skip
    return updated


@transaction.atomic
def section_create(
    *,
    category: KbCategory,
    slug: str,
    title: dict[str, str],
    description: dict[str, str] | None = None,
    position: int = 0,
    actor: User,
    now: datetime,
) -> KbSection:
    require_kb_editor(actor)
    _check_slug(slug)
    fields = _structure_fields(title=title, description=description, position=position)
    locked = KbCategory.objects.select_for_update().filter(pk=category.pk).first()
    if locked is None:
        raise NotFound("category not found")
    if KbSection.objects.filter(category=locked, slug=slug).exists():
        raise Conflict(f"the category has a section '{slug}'", field="slug", code="kb_section_exists")
    section = KbSection.objects.create(category=locked, slug=slug, **fields, created_at=now, updated_at=now)
    snapshot_record(SECTIONS, str(section.pk), actor=actor, now=now)
    return section


@transaction.atomic
def section_update(
    *,
    section: KbSection,
    actor: User,
    now: datetime,
    title: dict[str, str] | None = None,
    description: dict[str, str] | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> KbSection:
    require_kb_editor(actor)
    updated: KbSection = _structure_update(
        section, kind=SECTIONS, what="section", actor=actor, now=now, title=title,
        description=description, position=position, is_active=is_active,
    )  # fmt: skip
    return updated


# --------------------------------------------------------------------------------------------
# Articles


def _departments(departments: Sequence[Department]) -> list[Department]:
    ids = sorted({d.pk for d in departments})
    found = list(Department.objects.filter(pk__in=ids))
    if len(found) != len(ids):
        raise ValidationFailed("no such department", field="departments")
    return found


@transaction.atomic
def article_create(
    *,
    section: KbSection,
    source_language: str,
    actor: User,
    now: datetime,
    departments: Sequence[Department] = (),
    key: str | None = None,
    position: int = 0,
) -> Article:
    """A new article (no translation yet: `translation_save` writes the first)."""
    require_kb_editor(actor)
    _check_language(source_language, field="source_language")
    if key is not None:
        _check_slug(key)
        if Article.objects.filter(key=key).exists():
            raise Conflict(f"an article with key '{key}' exists", field="key", code="kb_article_exists")
    position = _position(position)
    serving = _departments(departments)
    if not KbSection.objects.filter(pk=section.pk).exists():
        raise ValidationFailed("no such section", field="section")
    try:
        with transaction.atomic():
            article = Article.objects.create(
                key=key,
                section=section,
                source_language=source_language,
                position=position,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise Conflict(f"an article with key '{key}' exists", field="key", code="kb_article_exists") from None
    if serving:
        article.departments.set(serving)
    snapshot_record(ARTICLES, str(article.pk), actor=actor, now=now)
    return article


def _lock_article(article: Article) -> Article:
    locked = Article.objects.select_for_update().filter(pk=article.pk).first()
    if locked is None:
        raise NotFound("article not found")
    return locked


@transaction.atomic
def article_update(
    *,
    article: Article,
    actor: User,
    now: datetime,
    section: KbSection | None = None,
    departments: Sequence[Department] | None = None,
    position: int | None = None,
    is_archived: bool | None = None,
) -> Article:
    require_kb_editor(actor)
    with recording(ARTICLES, str(article.pk), actor=actor, now=now):
        current = _lock_article(article)
        fields: list[str] = []
        if section is not None and section.pk != current.section_id:
            if not KbSection.objects.filter(pk=section.pk).exists():
                raise ValidationFailed("no such section", field="section")
            current.section = section
            fields.append("section")
        if position is not None and _position(position) != current.position:
            current.position = position
            fields.append("position")
        if is_archived is not None and bool(is_archived) != current.is_archived:
            current.is_archived = bool(is_archived)
            fields.append("is_archived")
        changed = bool(fields)
        if departments is not None:
            serving = _departments(departments)
            if {d.pk for d in serving} != set(current.departments.values_list("pk", flat=True)):
                current.departments.set(serving)
                changed = True
        if changed:
            current.updated_at = now
            current.save(update_fields=[*fields, "updated_at"])
    return current


@transaction.atomic
def article_relate(*, article: Article, related: Sequence[Article], actor: User, now: datetime) -> None:
    """Make `related` the article's related articles (both ways; itself left out)."""
    require_kb_editor(actor)
    ids = sorted({a.pk for a in related} - {article.pk})
    if len(ids) != Article.objects.filter(pk__in=ids).count():
        raise ValidationFailed("no such article", field="related")
    with recording(ARTICLES, str(article.pk), actor=actor, now=now):
        current = _lock_article(article)
        if set(current.related.values_list("pk", flat=True)) != set(ids):
            current.related.set(ids)
            current.updated_at = now
            current.save(update_fields=["updated_at"])


def _ids_of(rows: Sequence[Any]) -> set[int]:
    return {r.pk for r in rows}


@transaction.atomic
def article_settings_save(
    *,
    article: Article,
    departments: Sequence[Department],
    related: Sequence[Article],
    actor: User,
    now: datetime,
    expected_departments: Sequence[int] | None = None,
    expected_related: Sequence[int] | None = None,
) -> Article:
    """The editor's "who sees it, what it relates to": the departments the article serves (none:
    every department) and its related articles (both ways; itself left out), in one change
    recorded once in the structure's history. `expected_departments` / `expected_related`: what
    the editor loaded; when the article's differ (someone saved meanwhile) → Conflict
    `stale_article`, nothing written. Saving what is there writes nothing."""
    require_kb_editor(actor)
    serving = _departments(departments)
    related_ids = _ids_of(related) - {article.pk}
    if len(related_ids) != Article.objects.filter(pk__in=related_ids).count():
        raise ValidationFailed("no such article", field="related")
    with recording(ARTICLES, str(article.pk), actor=actor, now=now):
        current = _lock_article(article)
        have_departments = set(current.departments.values_list("pk", flat=True))
        have_related = set(current.related.values_list("pk", flat=True))
        if (expected_departments is not None and set(expected_departments) != have_departments) or (
            expected_related is not None and set(expected_related) != have_related
        ):
            raise Conflict(
                "this article's departments or related articles were saved by someone else since you "
                "opened it; review them",
                field="expected",
                code="stale_article",
            )
        changed = False
        if _ids_of(serving) != have_departments:
            current.departments.set(serving)
            changed = True
        if related_ids != have_related:
            current.related.set(sorted(related_ids))
            changed = True
        if changed:
            current.updated_at = now
            current.save(update_fields=["updated_at"])
    return current


# --------------------------------------------------------------------------------------------
# Translations


def _attachment_ids(article: Article) -> frozenset[int]:
    return frozenset(ArticleAttachment.objects.filter(article_id=article.pk).values_list("pk", flat=True))


def _slug(title: str) -> str:
    return slugify(title, allow_unicode=True)[:SLUG_MAX].strip("-_") or "article"


def _stale(expected_version: int | None, current: ArticleTranslation | None) -> None:
    if expected_version is None:
        return
    have = current.version if current is not None else 0
    if expected_version != have:
        raise Conflict(
            "this translation was saved by someone else since you opened it; review their changes",
            field="expected_version",
            code="stale_translation",
        )


def _save(
    *,
    article: Article,
    language: str,
    texts: dict[str, str],
    state: str,
    note: str,
    actor: User,
    now: datetime,
    expected_version: int | None,
) -> ArticleTranslation:
    """Write one translation's new text under the locked article (see `translation_save`)."""
    article = _lock_article(article)
    current = (
        ArticleTranslation.objects.select_for_update().filter(article=article, language=language).first()
    )
    _stale(expected_version, current)
    is_source = language == article.source_language
    if current is not None:
        text_changed = any(getattr(current, k) != v for k, v in texts.items())
        clears_mark = current.outdated and not is_source
        if not text_changed and current.state == state and not clears_mark:
            return current
        for name, value in texts.items():
            setattr(current, name, value)
        current.state = state
        current.outdated = False if not is_source else current.outdated
        current.version += 1
        current.updated_at = now
        current.updated_by = actor
        translation = current
    else:
        text_changed = True
        translation = ArticleTranslation(
            article=article,
            language=language,
            state=state,
            version=1,
            created_at=now,
            updated_at=now,
            updated_by=actor,
            **texts,
        )
    translation.slug = _slug(translation.title)
    if state == ArticleState.PUBLIC and translation.published_at is None:
        translation.published_at = now
    translation.save()
    ArticleVersion.objects.create(
        translation=translation,
        number=translation.version,
        title=translation.title,
        summary=translation.summary,
        body_html=translation.body_html,
        state=translation.state,
        note=note,
        author=actor,
        created_at=now,
    )
    if is_source and text_changed:
        ArticleTranslation.objects.filter(article=article, outdated=False).exclude(pk=translation.pk).update(
            outdated=True
        )
    Article.objects.filter(pk=article.pk).update(updated_at=now)
    search.index_translation(translation)
    return translation


@transaction.atomic
def translation_save(
    *,
    article: Article,
    language: str,
    title: str,
    body_html: str,
    state: str,
    actor: User,
    now: datetime,
    summary: str = "",
    keywords: str = "",
    note: str = "",
    expected_version: int | None = None,
) -> ArticleTranslation:
    """Create or change the article's translation in `language`: a new version each save that
    changes something; `expected_version` (the version the editor loaded, 0 for a new
    translation) stale → Conflict, nothing written."""
    require_kb_editor(actor)
    _check_language(language)
    _check_state(state)
    body = clean_text(body_html or "", field="body_html", max_length=BODY_MAX)
    clean_body = sanitize_body(body, attachment_ids=_attachment_ids(article)) if body.strip() else ""
    texts = {
        "title": clean_text(title, field="title", max_length=TITLE_MAX, single_line=True, required=True),
        "summary": clean_text(summary or "", field="summary", max_length=SUMMARY_MAX, single_line=True),
        "keywords": clean_text(keywords or "", field="keywords", max_length=KEYWORDS_MAX, single_line=True),
        "body_html": clean_body,
        "body_text": html_to_text(clean_body).strip() if clean_body else "",
    }
    note = clean_text(note or "", field="note", max_length=NOTE_MAX, single_line=True)
    return _save(
        article=article,
        language=language,
        texts=texts,
        state=state,
        note=note,
        actor=actor,
        now=now,
        expected_version=expected_version,
    )


@transaction.atomic
def translation_restore(
    *,
    translation: ArticleTranslation,
    number: int,
    actor: User,
    now: datetime,
    expected_version: int | None = None,
) -> ArticleTranslation:
    """Save version `number`'s text and state again, as a new version (its note says so)."""
    require_kb_editor(actor)
    old = ArticleVersion.objects.filter(translation_id=translation.pk, number=number).first()
    if old is None:
        raise NotFound("version not found")
    current = ArticleTranslation.objects.filter(pk=translation.pk).first()
    if current is None:
        raise NotFound("translation not found")
    clean_body = sanitize_body(old.body_html, attachment_ids=_attachment_ids(current.article))
    texts = {
        "title": old.title,
        "summary": old.summary,
        "keywords": current.keywords,
        "body_html": clean_body,
        "body_text": html_to_text(clean_body).strip() if clean_body else "",
    }
    with i18n.override(actor.language or "en"):
        note = _("Restored version %(number)s") % {"number": number}
    return _save(
        article=current.article,
        language=current.language,
        texts=texts,
        state=old.state,
        note=note,
        actor=actor,
        now=now,
        expected_version=expected_version,
    )


# --------------------------------------------------------------------------------------------
# Attachments


def attachment_add(
    *,
    article: Article,
    filename: str,
    content_type: str,
    data: bytes | IO[bytes] | File,
    actor: User,
    now: datetime,
) -> ArticleAttachment:
    """Store a file of an article (an image its body may show, or a download) under a
    generated key, then its row; the stored bytes are removed again when the row is not
    written."""
    require_kb_editor(actor)
    import io

    stream: IO[bytes] | File = io.BytesIO(data) if isinstance(data, bytes) else data
    digest = digest_stream(stream, limit=max_bytes())
    if digest.size == 0:
        raise ValidationFailed("the file is empty", field="file")
    stream.seek(0)
    storage = attachment_storage()
    key = storage.save(storage_key_new(), stream if isinstance(stream, File) else File(stream))
    try:
        with transaction.atomic():
            locked = _lock_article(article)
            attachment = ArticleAttachment.objects.create(
                article=locked,
                storage_key=key,
                filename=sanitize_filename(filename),
                content_type=choose_content_type(declared=content_type, head=digest.head),
                size=digest.size,
                sha256=digest.sha256,
                uploaded_by=actor,
                created_at=now,
            )
            Article.objects.filter(pk=locked.pk).update(updated_at=now)
            return attachment
    except BaseException:
        storage.delete(key)
        raise


def attachment_open(*, attachment: ArticleAttachment) -> File:
    try:
        return attachment_storage().open(attachment.storage_key, "rb")
    except FileNotFoundError:
        raise NotFound("attachment not found") from None


# --------------------------------------------------------------------------------------------
# "Save as article"

FROM_TICKETS_CATEGORY = "from-tickets"
FROM_TICKETS_SECTION = "drafts"


def _drafts_section(actor: User, now: datetime) -> KbSection:
    """Where articles written from tickets start (moved by their editor later): the section
    `drafts` of the category `from-tickets`, made the first time."""
    category = KbCategory.objects.select_for_update().filter(slug=FROM_TICKETS_CATEGORY).first()
    if category is None:
        titles = {}
        for code in kb_languages():
            with i18n.override(code):
                titles[code] = _("From tickets")
        category = category_create(
            slug=FROM_TICKETS_CATEGORY, title=titles, position=1_000_000, actor=actor, now=now
        )
    section = KbSection.objects.filter(category=category, slug=FROM_TICKETS_SECTION).first()
    if section is None:
        titles = {}
        for code in kb_languages():
            with i18n.override(code):
                titles[code] = _("Drafts")
        section = section_create(
            category=category, slug=FROM_TICKETS_SECTION, title=titles, actor=actor, now=now
        )
    return section


def _message_text(message: Message) -> str:
    return (message.body_text or "").strip()


@transaction.atomic
def article_from_ticket(
    *,
    ticket_id: int,
    actor: User,
    now: datetime,
    language: str | None = None,
    section: KbSection | None = None,
) -> Article:
    """ "Save as article": a draft written from a solved (or closed) ticket the actor sees —
    its subject as the title; the customer's question and the agents' public answers as the
    body, with personal data taken out (`kb.redact`) — linked to the ticket (kind source).
    A ticket saved before gives its article again."""
    require_kb_editor(actor)
    ticket = ticket_get_for(principal=actor, ticket_id=ticket_id)
    if ticket.status_category not in (StatusCategory.SOLVED, StatusCategory.CLOSED):
        raise ValidationFailed("only solved or closed tickets are saved as articles", field="ticket")
    Ticket.objects.select_for_update().filter(pk=ticket.pk).first()  # one article per ticket
    existing = (
        ArticleTicketLink.objects.filter(ticket_id=ticket.pk, kind=ArticleTicketLink.Kind.SOURCE)
        .select_related("article")
        .order_by("created_at", "id")
        .first()
    )
    if existing is not None:
        return existing.article
    requester = ticket.requester
    lang = language or requester.language or "en"
    if lang not in kb_languages():
        lang = kb_languages()[0] if language is None else _check_language(lang)
    messages = list(
        Message.objects.filter(ticket_id=ticket.pk, public=True)
        .select_related("author_agent", "author_contact")
        .order_by("created_at", "id")
    )
    names = {requester.name, actor.name}
    for m in messages:
        if m.author_agent is not None:
            names.add(m.author_agent.name)
        if m.author_contact is not None:
            names.add(m.author_contact.name)
    if ticket.assignee_id is not None and ticket.assignee is not None:
        names.add(ticket.assignee.name)
    names.discard("")
    emails = {requester.email, actor.email} - {""}
    question = [
        redact(_message_text(m), names=names) for m in messages if m.author_kind == AuthorKind.CONTACT
    ][:1]
    answers = [redact(_message_text(m), names=names) for m in messages if m.author_kind == AuthorKind.AGENT]
    with i18n.override(lang):
        heading_q, heading_a = _("Question"), _("Answer")
        note = _("Written from ticket #%(number)s") % {"number": ticket.number}
    body = ""
    if question:
        body += f"<h2>{heading_q}</h2>\n" + text_to_html(question[0])
    if answers:
        body += f"<h2>{heading_a}</h2>\n" + "".join(text_to_html(a) for a in answers)
    for email in emails:  # an address the patterns missed (they should not)
        body = body.replace(email, "[e-mail]")
    title = redact(ticket.subject, names=names).strip() or "Article"
    article = article_create(
        section=section or _drafts_section(actor, now), source_language=lang, actor=actor, now=now
    )
    translation_save(
        article=article,
        language=lang,
        title=title[:TITLE_MAX],
        body_html=body,
        state=ArticleState.DRAFT,
        note=note[:NOTE_MAX],
        actor=actor,
        now=now,
    )
    ArticleTicketLink.objects.create(
        article=article,
        ticket_id=ticket.pk,
        kind=ArticleTicketLink.Kind.SOURCE,
        created_by=actor,
        created_at=now,
    )
    return article


# --------------------------------------------------------------------------------------------
# Articles linked in replies


def ticket_article_links_record(
    *, ticket_id: int, texts: Sequence[str], actor: User, now: datetime
) -> list[ArticleTicketLink]:
    """Record the articles an agent's message on the ticket links to (`kb.links`: addresses of
    this desk's knowledge base only) as `linked` ticket links: one row per article and ticket
    however often it is linked, by whom and when it was linked first. Only articles the actor
    may read count. Runs in the caller's transaction (the message's change, `kb.extension`);
    returns the rows it wrote (none when every one was there).

    Two messages linking the same article at once: the unique (article, ticket, kind) key keeps
    one row; the second insert is skipped, not an error, so both messages are saved."""
    ids = links.linked_article_ids(texts)
    if not ids or not isinstance(actor, User):
        return []
    states = kb_visible_states(actor)
    readable = set(
        ArticleTranslation.objects.filter(article_id__in=ids, state__in=states).values_list(
            "article_id", flat=True
        )
    )
    have = set(
        ArticleTicketLink.objects.filter(
            ticket_id=ticket_id, kind=ArticleTicketLink.Kind.LINKED, article_id__in=readable
        ).values_list("article_id", flat=True)
    )
    rows = [
        ArticleTicketLink(
            article_id=pk,
            ticket_id=ticket_id,
            kind=ArticleTicketLink.Kind.LINKED,
            created_by=actor,
            created_at=now,
        )
        for pk in ids
        if pk in readable and pk not in have
    ]
    if rows:
        ArticleTicketLink.objects.bulk_create(rows, ignore_conflicts=True)
    return rows
