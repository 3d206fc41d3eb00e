"""The public knowledge base's pages (`/portal/kb/`): home, categories, sections, articles,
search, the "Was this helpful?" vote and the articles' files.

Readable without signing in; what a reader may see is `public_selectors.visible_states`. A
page is rendered in the language of its URL (`/portal/kb/<lang>/…`). Everything hidden is a
404 like a missing page.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation as i18n
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.contacts.models import Contact
from sportello.core import clock
from sportello.core.errors import NotFound, ValidationFailed
from sportello.core.text import label_text
from sportello.tickets.attachments import attachment_storage, content_disposition

from . import feedback, suggest_views
from . import public_selectors as sel
from .search import search_translations

SEARCH_MAX_CHARS = 200
VIEWED_SESSION_KEY = "kb_viewed"
VIEWED_REMEMBERED = 500  # translations remembered as viewed per session (oldest forgotten)
NEW_REQUEST_URL = "/portal/requests/new/"


def _language(lang: str) -> str:
    if lang not in sel.languages():
        raise Http404
    return lang


def _page(
    request: HttpRequest, template: str, lang: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    with i18n.override(lang):
        return render(
            request,
            template,
            {"lang": lang, "now": clock.now(), "new_request_url": NEW_REQUEST_URL, **context},
            status=status,
        )


def article_url(lang: str, article_id: int, slug: str) -> str:
    return reverse("kb_public:article", kwargs={"lang": lang, "article_id": article_id, "slug": slug})


@require_GET
def kb_root(request: HttpRequest) -> HttpResponse:
    """To the reader's language (the one Django's locale middleware chose)."""
    lang = getattr(request, "LANGUAGE_CODE", "") or ""
    if lang not in sel.languages():
        lang = sel.languages()[0]
    return HttpResponseRedirect(reverse("kb_public:home", kwargs={"lang": lang}))


@require_GET
def kb_home(request: HttpRequest, lang: str) -> HttpResponse:
    lang = _language(lang)
    home = sel.kb_home(language=lang, states=sel.visible_states(request.user))
    return _page(request, "kb/public/home.html", lang, {"home": home})


@require_GET
def kb_category(request: HttpRequest, lang: str, category: str) -> HttpResponse:
    lang = _language(lang)
    try:
        entry = sel.category_get(slug=category, language=lang, states=sel.visible_states(request.user))
    except NotFound:
        raise Http404 from None
    return _page(request, "kb/public/category.html", lang, {"category": entry, "section": None})


@require_GET
def kb_section(request: HttpRequest, lang: str, category: str, section: str) -> HttpResponse:
    lang = _language(lang)
    try:
        entry = sel.section_get(
            category=category, slug=section, language=lang, states=sel.visible_states(request.user)
        )
    except NotFound:
        raise Http404 from None
    return _page(request, "kb/public/category.html", lang, {"category": entry, "section": entry.sections[0]})


def _voter(request: HttpRequest, *, create: bool) -> str | None:
    """The reader's stable key for votes: the signed-in contact's, else a keyed hash of the
    session's key (the session is created when `create`)."""
    contact_id = request.session.get("portal_contact_id")
    if contact_id:
        return feedback.contact_voter(int(contact_id))
    key = request.session.session_key
    if not key:
        if not create:
            return None
        request.session.save()
        key = request.session.session_key
    return salted_hmac("sportello.kb.voter", key or "", algorithm="sha256").hexdigest()


def _article(request: HttpRequest, lang: str, article_id: int) -> sel.ArticlePage:
    try:
        return sel.article_page(article_id=article_id, language=lang, states=sel.visible_states(request.user))
    except NotFound:
        raise Http404 from None


def _count_view(request: HttpRequest, page: sel.ArticlePage) -> None:
    """Once per session per translation (a client without a session cookie is counted each time)."""
    viewed = list(request.session.get(VIEWED_SESSION_KEY, []))
    if page.translation.pk in viewed:
        return
    feedback.article_viewed(translation=page.translation, now=clock.now())
    viewed.append(page.translation.pk)
    request.session[VIEWED_SESSION_KEY] = viewed[-VIEWED_REMEMBERED:]


def _article_context(request: HttpRequest, page: sel.ArticlePage, **extra: Any) -> dict[str, Any]:
    t = page.translation
    vote = sel.vote_of(translation=t, voter=_voter(request, create=False))
    alternates = [(t.language, request.build_absolute_uri(article_url(t.language, t.article_id, t.slug)))] + [
        (o.language, request.build_absolute_uri(article_url(o.language, o.article_id, o.slug)))
        for o in page.others
    ]
    return {
        "page": page,
        "t": t,
        "updated_just_now": (clock.now() - t.updated_at).total_seconds() < 60,
        "vote": vote,
        "alternates": alternates,
        "comment_max": feedback.COMMENT_MAX_CHARS,
        "comment": vote.comment if vote else "",
        **extra,
    }


@require_GET
def kb_article(request: HttpRequest, lang: str, article_id: int, slug: str = "") -> HttpResponse:
    lang = _language(lang)
    page = _article(request, lang, article_id)
    if slug != page.translation.slug:
        return HttpResponseRedirect(article_url(lang, article_id, page.translation.slug), status=301)
    _count_view(request, page)
    suggest_views.record_opened(request, article_id=article_id)
    return _page(request, "kb/public/article.html", lang, _article_context(request, page))


@require_POST
def kb_vote(request: HttpRequest, lang: str, article_id: int) -> HttpResponse:
    """Yes/No, then an optional comment. HTMX gets the feedback block back; a plain form post
    is sent back to the article (303)."""
    lang = _language(lang)
    page = _article(request, lang, article_id)
    answer = request.POST.get("helpful", "")
    if answer not in ("yes", "no"):
        raise Http404
    contact_id = request.session.get("portal_contact_id")
    contact = Contact.objects.filter(pk=contact_id).first() if contact_id else None
    voter = _voter(request, create=True)
    assert voter is not None
    comment = request.POST.get("comment", "")
    error = ""
    try:
        feedback.article_vote(
            translation=page.translation,
            voter=voter,
            helpful=answer == "yes",
            comment=comment,
            contact=contact,
            now=clock.now(),
        )
    except ValidationFailed as exc:
        if exc.field != "comment":
            raise Http404 from None
        error = (
            _("Your comment is too long: use at most %(max)s characters.")
            % {"max": feedback.COMMENT_MAX_CHARS}
            if len(comment) > feedback.COMMENT_MAX_CHARS
            else _("Your comment contains characters that cannot be saved.")
        )
    if not error and not request.htmx:  # type: ignore[attr-defined]
        url = article_url(lang, article_id, page.translation.slug) + "#kb-feedback"
        return HttpResponseRedirect(url, status=303)
    context = _article_context(
        request, page, comment_error=error, sent_comment=bool(comment.strip()) and not error
    )
    if error:
        context["comment"] = comment
    if request.htmx:  # type: ignore[attr-defined]
        return _page(request, "kb/public/article.html#feedback", lang, context)
    return _page(request, "kb/public/article.html", lang, context, status=422)


@require_GET
def kb_search(request: HttpRequest, lang: str) -> HttpResponse:
    lang = _language(lang)
    raw = request.GET.get("q", "")
    query = label_text(raw.replace("\x00", " "))
    too_long = len(query) > SEARCH_MAX_CHARS
    results: list[sel.SearchResult] = []
    if query and not too_long:
        states = sel.visible_states(request.user)
        hits = search_translations(query=query, states=states, language=lang)
        slugs = sel.readable_slugs(translation_ids=[h.translation_id for h in hits], states=states)
        results = [
            sel.SearchResult(h.article_id, h.language, h.title, slugs[h.translation_id], h.excerpt)
            for h in hits
            if h.translation_id in slugs
        ]
    context = {
        "query": query[: SEARCH_MAX_CHARS * 2],
        "too_long": too_long,
        "search_max": SEARCH_MAX_CHARS,
        "results": results,
    }
    return _page(request, "kb/public/search.html", lang, context)


@require_GET
def kb_file(request: HttpRequest, storage_key: str, filename: str) -> FileResponse:
    """An article's file, when its article is readable. Images of a type confirmed by their
    bytes are shown inline with their stored type; anything else (SVG included) is a download
    of opaque bytes."""
    states = sel.visible_states(request.user)
    try:
        attachment = sel.attachment_get(storage_key=storage_key, filename=filename, states=states)
        stream = attachment_storage().open(attachment.storage_key, "rb")
    except (NotFound, FileNotFoundError, OSError):
        raise Http404 from None
    inline = attachment.content_type in sel.INLINE_IMAGE_TYPES
    response = FileResponse(
        stream, content_type=attachment.content_type if inline else "application/octet-stream"
    )
    disposition = content_disposition(attachment.filename)
    response["Content-Disposition"] = (
        "inline" + disposition.removeprefix("attachment") if inline else disposition
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=300" if states == sel.PUBLIC_STATES else "private, no-store"
    return response
