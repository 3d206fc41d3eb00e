"""`/api/v1/kb/…`: the knowledge base for agents — categories, sections, articles with their
translations, a translation's versions (list, diff, restore), related articles, attachments and
"Save as article".

Who: every agent reads (light agents the internal and public translations only, see
`kb.selectors`); admins and agents write. A translation is saved with PUT, given the version
the editor loaded (`expected_version`, 0 for a new translation): a stale one is a 409 and
nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import FileResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.models import Department
from sportello.core import clock
from sportello.core.errors import ValidationFailed
from sportello.tickets.api.attachments import UPLOAD_OPENAPI, parse_upload
from sportello.tickets.attachments import content_disposition, serving_content_type
from sportello.tickets.schemas import Id, Strict, Text

from . import selectors, services
from .models import Article, ArticleAttachment, ArticleTranslation, ArticleVersion, KbCategory, KbSection

router = Router(tags=["knowledge base"])

TEXT_LIMIT = 250_000
StateName = Literal["draft", "internal", "public"]


# -- schemas ------------------------------------------------------------------------------------


class KbSectionOut(Schema):
    id: int
    category_id: int
    slug: str
    title: dict[str, str]
    description: dict[str, str]
    position: int
    is_active: bool


class KbCategoryOut(Schema):
    id: int
    slug: str
    title: dict[str, str]
    description: dict[str, str]
    position: int
    is_active: bool
    sections: list[KbSectionOut]


class KbCategoryList(Schema):
    items: list[KbCategoryOut]


class KbCategoryIn(Strict):
    slug: Text = Field(max_length=200)
    title: dict[Text, Text]
    description: dict[Text, Text] | None = None
    position: int = 0


class KbCategoryPatch(Strict):
    title: dict[Text, Text] | None = None
    description: dict[Text, Text] | None = None
    position: int | None = None
    is_active: bool | None = None


class KbSectionIn(Strict):
    slug: Text = Field(max_length=200)
    title: dict[Text, Text]
    description: dict[Text, Text] | None = None
    position: int = 0


class KbTranslationBrief(Schema):
    language: str
    title: str
    slug: str
    state: str
    outdated: bool
    version: int
    updated_at: datetime
    public_url: str | None = Field(description="the portal's page, when the translation is public")


class KbTranslationOut(KbTranslationBrief):
    article_id: int
    summary: str
    keywords: str
    body_html: str
    body_text: str
    published_at: datetime | None
    updated_by_id: int | None


class KbArticleBrief(Schema):
    id: int
    key: str | None
    section_id: int
    source_language: str
    position: int
    is_archived: bool
    department_ids: list[int]
    translations: list[KbTranslationBrief]


class KbArticleList(Schema):
    items: list[KbArticleBrief]


class KbAttachmentOut(Schema):
    id: int
    article_id: int
    filename: str
    content_type: str
    size: int
    url: str = Field(description="where the file is served; an image at this URL may be shown in a body")
    created_at: datetime


class KbArticleOut(Schema):
    id: int
    key: str | None
    section_id: int
    source_language: str
    position: int
    is_archived: bool
    department_ids: list[int]
    related_ids: list[int]
    created_at: datetime
    updated_at: datetime
    translations: list[KbTranslationOut]
    attachments: list[KbAttachmentOut]


class KbArticleIn(Strict):
    section_id: Id
    source_language: Text = Field(max_length=10)
    department_ids: list[Id] = Field(default_factory=list, max_length=200)
    key: Text | None = Field(default=None, max_length=200)
    position: int = 0


class KbArticlePatch(Strict):
    section_id: Id | None = None
    department_ids: list[Id] | None = Field(default=None, max_length=200)
    position: int | None = None
    is_archived: bool | None = None


class KbTranslationIn(Strict):
    title: Text = Field(max_length=1000)
    body_html: Text = Field(default="", max_length=TEXT_LIMIT)
    state: StateName
    summary: Text = Field(default="", max_length=2000)
    keywords: Text = Field(default="", max_length=2000)
    note: Text = Field(default="", max_length=1000)
    expected_version: int | None = Field(
        default=None, description="the version the editor loaded; 0: no translation in this language yet"
    )


class KbVersionOut(Schema):
    number: int
    title: str
    summary: str
    body_html: str
    state: str
    note: str
    author_id: int | None
    created_at: datetime


class KbVersionList(Schema):
    items: list[KbVersionOut]


class KbDiffLine(Schema):
    kind: Literal["same", "added", "removed", "gap"]
    text: str


class KbFieldDiff(Schema):
    field: str
    old: str
    new: str
    lines: list[KbDiffLine]


class KbDiffOut(Schema):
    a: int
    b: int
    changes: list[KbFieldDiff]


class KbRestoreIn(Strict):
    number: Id
    expected_version: int | None = None


class KbRelatedIn(Strict):
    article_ids: list[Id] = Field(max_length=100)


class KbFromTicketIn(Strict):
    ticket_id: Id
    language: Text | None = Field(default=None, max_length=10)


class KbArticleFilters(Schema):
    section_id: int | None = None
    state: StateName | None = None
    language: str | None = Field(default=None, max_length=10)
    include_archived: bool = False


# -- shapes -------------------------------------------------------------------------------------


def section_out(s: KbSection) -> dict[str, Any]:
    return {
        "id": s.pk,
        "category_id": s.category_id,
        "slug": s.slug,
        "title": s.title,
        "description": s.description,
        "position": s.position,
        "is_active": s.is_active,
    }


def category_out(c: KbCategory, sections: list[KbSection]) -> dict[str, Any]:
    return {
        "id": c.pk,
        "slug": c.slug,
        "title": c.title,
        "description": c.description,
        "position": c.position,
        "is_active": c.is_active,
        "sections": [section_out(s) for s in sections],
    }


def translation_brief(t: ArticleTranslation) -> dict[str, Any]:
    return {
        "language": t.language,
        "title": t.title,
        "slug": t.slug,
        "state": t.state,
        "outdated": t.outdated,
        "version": t.version,
        "updated_at": t.updated_at,
        "public_url": selectors.public_url(t) if t.state == "public" else None,
    }


def translation_out(t: ArticleTranslation) -> dict[str, Any]:
    return {
        **translation_brief(t),
        "article_id": t.article_id,
        "summary": t.summary,
        "keywords": t.keywords,
        "body_html": t.body_html,
        "body_text": t.body_text,
        "published_at": t.published_at,
        "updated_by_id": t.updated_by_id,
    }


def attachment_out(a: ArticleAttachment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "article_id": a.article_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "url": selectors.attachment_url(a),
        "created_at": a.created_at,
    }


def _article_fields(a: Article) -> dict[str, Any]:
    """What the brief and the full shape of an article share."""
    return {
        "id": a.pk,
        "key": a.key,
        "section_id": a.section_id,
        "source_language": a.source_language,
        "position": a.position,
        "is_archived": a.is_archived,
        "department_ids": sorted(d.pk for d in a.departments.all()),
    }


def article_brief(a: Article) -> dict[str, Any]:
    return {
        **_article_fields(a),
        "translations": [translation_brief(t) for t in getattr(a, "visible_translations", [])],
    }


def article_out(a: Article) -> dict[str, Any]:
    return {
        **_article_fields(a),
        "related_ids": [r.pk for r in getattr(a, "visible_related", [])],
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "translations": [translation_out(t) for t in getattr(a, "visible_translations", [])],
        "attachments": [attachment_out(f) for f in a.attachments.order_by("created_at", "id")],
    }


def version_out(v: ArticleVersion) -> dict[str, Any]:
    return {
        "number": v.number,
        "title": v.title,
        "summary": v.summary,
        "body_html": v.body_html,
        "state": v.state,
        "note": v.note,
        "author_id": v.author_id,
        "created_at": v.created_at,
    }


def _departments(ids: list[int]) -> list[Department]:
    found = list(Department.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise ValidationFailed("no such department", field="department_ids")
    return found


def _article_full(request: ApiRequest, article_id: int) -> dict[str, Any]:
    return article_out(selectors.article_get(principal=request.auth, article_id=article_id))


def _editable_article(request: ApiRequest, article_id: int) -> Article:
    """The article a write route changes: the caller edits the knowledge base and sees it."""
    selectors.require_kb_editor(request.auth)
    return selectors.article_get(principal=request.auth, article_id=article_id)


def _section(section_id: int) -> KbSection:
    section = KbSection.objects.filter(pk=section_id).first()
    if section is None:
        raise ValidationFailed("no such section", field="section_id")
    return section


# -- categories and sections ----------------------------------------------------------------------


@router.get("/kb/categories", response=KbCategoryList, summary="The knowledge base's categories and sections")
def list_categories(request: ApiRequest) -> dict[str, Any]:
    categories = list(selectors.category_list(principal=request.auth))
    sections: dict[int, list[KbSection]] = {}
    for s in selectors.section_list(principal=request.auth):
        sections.setdefault(s.category_id, []).append(s)
    return {"items": [category_out(c, sections.get(c.pk, [])) for c in categories]}


@router.post("/kb/categories", response={201: KbCategoryOut}, summary="Create a category")
def create_category(request: ApiRequest, payload: KbCategoryIn) -> Status:
    category = services.category_create(
        slug=payload.slug, title=payload.title, description=payload.description, position=payload.position,
        actor=request.auth, now=clock.now(),
    )  # fmt: skip
    return Status(201, category_out(category, []))


@router.patch("/kb/categories/{category_id}", response=KbCategoryOut, summary="Change a category")
def update_category(request: ApiRequest, category_id: int, payload: KbCategoryPatch) -> dict[str, Any]:
    selectors.require_kb_editor(request.auth)
    category = selectors.category_get(principal=request.auth, category_id=category_id)
    category = services.category_update(
        category=category, actor=request.auth, now=clock.now(), title=payload.title,
        description=payload.description, position=payload.position, is_active=payload.is_active,
    )  # fmt: skip
    return category_out(
        category, list(selectors.section_list(principal=request.auth, category_id=category.pk))
    )


@router.post(
    "/kb/categories/{category_id}/sections", response={201: KbSectionOut}, summary="Create a section"
)
def create_section(request: ApiRequest, category_id: int, payload: KbSectionIn) -> Status:
    selectors.require_kb_editor(request.auth)
    category = selectors.category_get(principal=request.auth, category_id=category_id)
    section = services.section_create(
        category=category, slug=payload.slug, title=payload.title, description=payload.description,
        position=payload.position, actor=request.auth, now=clock.now(),
    )  # fmt: skip
    return Status(201, section_out(section))


# -- articles ---------------------------------------------------------------------------------------


@router.get(
    "/kb/articles", response=KbArticleList, summary="Articles, each with the translations the caller may read"
)
def list_articles(request: ApiRequest, filters: Query[KbArticleFilters]) -> dict[str, Any]:
    rows = selectors.article_list(
        principal=request.auth, section_id=filters.section_id, state=filters.state, language=filters.language,
        include_archived=filters.include_archived,
    )  # fmt: skip
    return {"items": [article_brief(a) for a in rows]}


@router.post(
    "/kb/articles", response={201: KbArticleOut}, summary="Create an article (its translations are PUT)"
)
def create_article(request: ApiRequest, payload: KbArticleIn) -> Status:
    selectors.require_kb_editor(request.auth)
    article = services.article_create(
        section=_section(payload.section_id), source_language=payload.source_language, actor=request.auth,
        now=clock.now(), departments=_departments(payload.department_ids), key=payload.key,
        position=payload.position,
    )  # fmt: skip
    return Status(201, _article_full(request, article.pk))


@router.post(
    "/kb/articles/from-ticket",
    response={201: KbArticleOut},
    summary="Save as article: a draft from a solved ticket, personal data taken out",
)
def create_article_from_ticket(request: ApiRequest, payload: KbFromTicketIn) -> Status:
    article = services.article_from_ticket(
        ticket_id=payload.ticket_id, actor=request.auth, now=clock.now(), language=payload.language
    )
    return Status(201, _article_full(request, article.pk))


@router.get("/kb/articles/{article_id}", response=KbArticleOut, summary="An article with its translations")
def get_article(request: ApiRequest, article_id: int) -> dict[str, Any]:
    return _article_full(request, article_id)


@router.patch(
    "/kb/articles/{article_id}", response=KbArticleOut, summary="Move, archive or re-target an article"
)
def update_article(request: ApiRequest, article_id: int, payload: KbArticlePatch) -> dict[str, Any]:
    article = _editable_article(request, article_id)
    section = _section(payload.section_id) if payload.section_id is not None else None
    services.article_update(
        article=article, actor=request.auth, now=clock.now(), section=section,
        departments=_departments(payload.department_ids) if payload.department_ids is not None else None,
        position=payload.position, is_archived=payload.is_archived,
    )  # fmt: skip
    return _article_full(request, article_id)


@router.put(
    "/kb/articles/{article_id}/related", response=KbArticleOut, summary="Set an article's related articles"
)
def set_related(request: ApiRequest, article_id: int, payload: KbRelatedIn) -> dict[str, Any]:
    article = _editable_article(request, article_id)
    related = list(Article.objects.filter(pk__in=payload.article_ids))
    if len(related) != len(set(payload.article_ids)):
        raise ValidationFailed("no such article", field="article_ids")
    services.article_relate(article=article, related=related, actor=request.auth, now=clock.now())
    return _article_full(request, article_id)


# -- translations and their versions --------------------------------------------------------------


@router.get(
    "/kb/articles/{article_id}/translations/{language}",
    response=KbTranslationOut,
    summary="One translation of an article",
)
def get_translation(request: ApiRequest, article_id: int, language: str) -> dict[str, Any]:
    return translation_out(
        selectors.translation_get(principal=request.auth, article_id=article_id, language=language)
    )


@router.put(
    "/kb/articles/{article_id}/translations/{language}",
    response=KbTranslationOut,
    summary="Save a translation (a new version when something changed; 409 when `expected_version` is stale)",
)
def save_translation(
    request: ApiRequest, article_id: int, language: str, payload: KbTranslationIn
) -> dict[str, Any]:
    article = _editable_article(request, article_id)
    translation = services.translation_save(
        article=article, language=language, title=payload.title, body_html=payload.body_html,
        state=payload.state, actor=request.auth, now=clock.now(), summary=payload.summary,
        keywords=payload.keywords, note=payload.note, expected_version=payload.expected_version,
    )  # fmt: skip
    return translation_out(translation)


@router.get(
    "/kb/articles/{article_id}/translations/{language}/versions",
    response=KbVersionList,
    summary="A translation's saved versions, newest first",
)
def list_versions(request: ApiRequest, article_id: int, language: str) -> dict[str, Any]:
    rows = selectors.version_list(principal=request.auth, article_id=article_id, language=language)
    return {"items": [version_out(v) for v in rows]}


@router.get(
    "/kb/articles/{article_id}/translations/{language}/diff",
    response=KbDiffOut,
    summary="What changed between two versions of a translation",
)
def diff_versions(request: ApiRequest, article_id: int, language: str, a: int, b: int) -> dict[str, Any]:
    changes = selectors.version_diff(
        principal=request.auth, article_id=article_id, language=language, a=a, b=b
    )
    return {
        "a": a,
        "b": b,
        "changes": [
            {
                "field": c.field,
                "old": c.old,
                "new": c.new,
                "lines": [{"kind": line.kind, "text": line.text} for line in c.lines],
            }
            for c in changes
        ],
    }


@router.post(
    "/kb/articles/{article_id}/translations/{language}/restore",
    response=KbTranslationOut,
    summary="Save an earlier version's text again, as a new version",
)
def restore_version(
    request: ApiRequest, article_id: int, language: str, payload: KbRestoreIn
) -> dict[str, Any]:
    selectors.require_kb_editor(request.auth)
    translation = selectors.translation_get(principal=request.auth, article_id=article_id, language=language)
    restored = services.translation_restore(
        translation=translation, number=payload.number, actor=request.auth, now=clock.now(),
        expected_version=payload.expected_version,
    )  # fmt: skip
    return translation_out(restored)


# -- attachments ------------------------------------------------------------------------------------


@router.post(
    "/kb/articles/{article_id}/attachments",
    response={201: KbAttachmentOut},
    summary="Upload an image or file of an article (multipart, field `file`)",
    openapi_extra=UPLOAD_OPENAPI,
)
def upload_article_attachment(request: ApiRequest, article_id: int) -> Status:
    article = _editable_article(request, article_id)
    upload = parse_upload(request)
    try:
        attachment = services.attachment_add(
            article=article, filename=upload.name or "", content_type=upload.content_type or "",
            data=upload, actor=request.auth, now=clock.now(),
        )  # fmt: skip
    finally:
        upload.close()
    return Status(201, attachment_out(attachment))


@router.get(
    "/kb/attachments/{kb_attachment_id}/download",
    response={200: None},
    summary="Download an article's attachment (always as a download)",
)
def download_article_attachment(request: ApiRequest, kb_attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get(principal=request.auth, attachment_id=kb_attachment_id)
    response = FileResponse(
        services.attachment_open(attachment=attachment),
        content_type=serving_content_type(attachment.content_type),
    )
    response["Content-Disposition"] = content_disposition(attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
