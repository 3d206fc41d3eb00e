"""The knowledge base's pages under `/kb/`: the index, a translation's editor and its versions,
"Save as article" from a ticket; and an article's files at
`/kb/files/<id>/<name>` — the URL article bodies use for their images. Anyone may fetch the
files of an article with a public translation (the portal shows them); agents those of the
articles they may read (`kb.selectors.attachment_get`); anything else is a 404. Images whose
type was confirmed by their bytes are shown inline; any other file is a download."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.accounts.models import User
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound
from sportello.tickets import attachments
from sportello.tickets.selectors import ticket_get_for
from sportello.web.errors import attach_error
from sportello.web.shell import agent_required

from . import forms, search, selectors, services
from .models import Article, ArticleState, ArticleTicketLink, ArticleTranslation


@require_GET
def attachment_file(request: HttpRequest, attachment_id: int, filename: str) -> FileResponse:
    user = request.user if request.user.is_authenticated else None
    try:
        attachment = selectors.attachment_get(principal=user, attachment_id=attachment_id)
        stream = services.attachment_open(attachment=attachment)
    except NotFound:
        raise Http404 from None
    content_type = attachments.serving_content_type(attachment.content_type)
    response = FileResponse(stream, content_type=content_type)
    disposition = attachments.content_disposition(attachment.filename)
    if content_type in attachments.SAFE_IMAGE_TYPES:
        disposition = "inline" + disposition.removeprefix("attachment")
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store" if user is not None else "public, max-age=300"
    return response


# --------------------------------------------------------------------------------------------
# The agents' pages: index, editor, versions, "Save as article"


def _viewer(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _label(titles: dict[str, str], language: str) -> str:
    return titles.get(language) or next(iter(titles.values()), "")


def _filter_value(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@agent_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Categories → sections → articles, each with a badge per language; filters by state and
    language; a search box over what the viewer may read."""
    viewer = _viewer(request)
    language = translation.get_language() or "en"
    languages = selectors.kb_languages()
    states = selectors.kb_visible_states(viewer)
    state = _filter_value(request.GET.get("state"), states)
    lang = _filter_value(request.GET.get("lang"), languages)
    query = (request.GET.get("q") or "").strip()[:200]
    may_edit = selectors.kb_may_edit(viewer)
    context: dict[str, Any] = {
        "query": query,
        "state": state or "",
        "lang": lang or "",
        "states": [(s, forms.STATE_LABELS[ArticleState(s)]) for s in states],
        "languages": languages,
        "may_edit": may_edit,
    }
    if query:
        context["hits"] = search.search_translations(
            query=query, states=[state] if state else states, language=lang, limit=30
        )
    else:
        articles = list(selectors.article_list(principal=viewer, state=state, language=lang))
        groups: dict[int, dict[str, Any]] = {}
        for article in articles:
            section = article.section
            group = groups.setdefault(
                section.pk,
                {
                    "category": _label(section.category.title, language),
                    "section": _label(section.title, language),
                    "rows": [],
                },
            )
            translations = getattr(article, "visible_translations", [])
            by_language = {t.language: t for t in translations}
            group["rows"].append(
                {
                    "article": article,
                    "title": selectors.translation_title(article, language),
                    "open_language": language if language in by_language else article.source_language,
                    "translations": translations,
                    "missing": [code for code in languages if code not in by_language] if may_edit else [],
                }
            )
        context["groups"] = list(groups.values())
    if may_edit:
        context["new_form"] = forms.ArticleNewForm(
            sections=selectors.section_list(principal=viewer),
            language=language,
            initial={"source_language": language if language in languages else languages[0]},
        )
    return render(request, "kb/index.html", context)


@agent_required
@require_POST
def article_new(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    if not selectors.kb_may_edit(viewer):
        return HttpResponseForbidden()
    form = forms.ArticleNewForm(
        request.POST,
        sections=selectors.section_list(principal=viewer),
        language=translation.get_language() or "en",
    )
    if not form.is_valid():
        return redirect("kb:index")
    article = services.article_create(
        section=form.cleaned_data["section"],
        source_language=form.cleaned_data["source_language"],
        actor=viewer,
        now=clock.now(),
    )
    return redirect("kb:editor", article_id=article.pk, language=article.source_language)


def _article_or_404(viewer: User, article_id: int, language: str) -> Any:
    if language not in selectors.kb_languages():
        raise Http404
    try:
        return selectors.article_get(principal=viewer, article_id=article_id)
    except NotFound:
        raise Http404 from None


def _initial(current: ArticleTranslation | None) -> dict[str, Any]:
    if current is None:
        return {"state": ArticleState.DRAFT, "expected_version": 0}
    return {
        "title": current.title,
        "summary": current.summary,
        "keywords": current.keywords,
        "body_html": current.body_html,
        "state": current.state,
        "expected_version": current.version,
    }


def _settings_form(viewer: User, article: Any, data: Any = None) -> forms.ArticleSettingsForm:
    """The editor's departments and related articles, as the article has them now."""
    ui_language = translation.get_language() or "en"
    others = [
        (a.pk, selectors.translation_title(a, ui_language) or _("Article %(id)s") % {"id": a.pk})
        for a in selectors.article_list(principal=viewer)
        if a.pk != article.pk
    ]
    departments = sorted(d.pk for d in article.departments.all())
    related = sorted(r.pk for r in article.visible_related)  # an editor sees every article
    return forms.ArticleSettingsForm(
        data,
        departments=selectors.department_choices(keep=departments),
        articles=others,
        initial={
            "departments": departments,
            "related": related,
            "expected_departments": forms.id_list(departments),
            "expected_related": forms.id_list(related),
        },
    )


def _editor_page(
    request: HttpRequest,
    article: Any,
    language: str,
    *,
    form: forms.TranslationForm | None = None,
    settings_form: forms.ArticleSettingsForm | None = None,
    status: int = 200,
    stale: bool = False,
    settings_stale: bool = False,
) -> HttpResponse:
    viewer = _viewer(request)
    may_edit = selectors.kb_may_edit(viewer)
    by_language = {t.language: t for t in article.visible_translations}
    current = by_language.get(language)
    ui_language = translation.get_language() or "en"
    saved = request.GET.get("saved")
    context = {
        "article": article,
        "language": language,
        "current": current,
        "form": form or forms.TranslationForm(initial=_initial(current)),
        "settings_form": (settings_form or _settings_form(viewer, article)) if may_edit else None,
        "may_edit": may_edit,
        "stale": stale,
        "settings_stale": settings_stale,
        "saved": saved == "1",
        "settings_saved": saved == "settings",
        "title": current.title if current else selectors.translation_title(article, ui_language),
        "section_label": _label(article.section.category.title, ui_language)
        + " / "
        + _label(article.section.title, ui_language),
        "others": [t for t in article.visible_translations if t.language != language],
        "missing": [code for code in selectors.kb_languages() if code not in by_language and code != language]
        if may_edit
        else [],
        "related": [
            {"article": r, "title": selectors.translation_title(r, ui_language)}
            for r in article.visible_related
        ],
        "public_url": selectors.public_url(current)
        if current is not None and current.state == ArticleState.PUBLIC
        else "",
        "ticket_count": selectors.article_ticket_count(article_id=article.pk),
    }
    return render(request, "kb/editor.html", context, status=status)


@agent_required
@require_http_methods(["GET", "POST"])
def editor(request: HttpRequest, article_id: int, language: str) -> HttpResponse:
    """One translation's editor (editors); a read view for light agents. A stale save keeps
    what was typed and links to the latest version."""
    viewer = _viewer(request)
    article = _article_or_404(viewer, article_id, language)
    may_edit = selectors.kb_may_edit(viewer)
    current = {t.language: t for t in article.visible_translations}.get(language)
    if not may_edit:
        if request.method == "POST":
            return HttpResponseForbidden()
        if current is None:
            raise Http404
    if request.method != "POST":
        return _editor_page(request, article, language)
    status = 422
    stale = False
    form = forms.TranslationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.translation_save(
                article=article,
                language=language,
                title=data["title"],
                summary=data["summary"],
                keywords=data["keywords"],
                body_html=data["body_html"],
                state=data["state"],
                note=data["note"],
                actor=viewer,
                now=clock.now(),
                expected_version=data["expected_version"],
            )
        except Conflict as exc:
            stale = exc.code == "stale_translation"
            if not stale:
                status = attach_error(form, exc)
            else:
                status = 409
                form.add_error(None, _("Someone else saved this translation since you opened it."))
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            url = reverse("kb:editor", args=[article.pk, language])
            return redirect(f"{url}?saved=1")
    return _editor_page(request, article, language, form=form, status=status, stale=stale)


@agent_required
@require_POST
def article_settings(request: HttpRequest, article_id: int, language: str) -> HttpResponse:
    """Save an article's departments and related articles from its editor. A stale save (someone
    changed them since the page was shown) keeps the choices made and shows the current ones."""
    viewer = _viewer(request)
    if not selectors.kb_may_edit(viewer):
        return HttpResponseForbidden()
    article = _article_or_404(viewer, article_id, language)
    form = _settings_form(viewer, article, request.POST)
    status = 422
    stale = False
    if form.is_valid():
        data = form.cleaned_data
        related = list(Article.objects.filter(pk__in=data["related"]))
        try:
            services.article_settings_save(
                article=article,
                departments=list(data["departments"]),
                related=related,
                actor=viewer,
                now=clock.now(),
                expected_departments=data["expected_departments"],
                expected_related=data["expected_related"],
            )
        except Conflict as exc:
            if exc.code != "stale_article":
                status = attach_error(form, exc)
            else:
                status, stale = 409, True
                form.add_error(
                    None, _("Someone else changed this article's departments or related articles.")
                )
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            url = reverse("kb:editor", args=[article.pk, language])
            return redirect(f"{url}?saved=settings")
    article = _article_or_404(viewer, article_id, language)  # as it is now
    return _editor_page(request, article, language, settings_form=form, status=status, settings_stale=stale)


@agent_required
@require_http_methods(["GET", "POST"])
def versions(request: HttpRequest, article_id: int, language: str) -> HttpResponse:
    """A translation's versions, the diff of one against the one before, and "Restore"."""
    viewer = _viewer(request)
    if not selectors.kb_may_edit(viewer):
        raise Http404
    article = _article_or_404(viewer, article_id, language)
    try:
        current = selectors.translation_get(principal=viewer, article_id=article.pk, language=language)
    except NotFound:
        raise Http404 from None
    error = ""
    status = 200
    if request.method == "POST":
        restore = forms.RestoreForm(request.POST)
        if restore.is_valid():
            try:
                services.translation_restore(
                    translation=current,
                    number=restore.cleaned_data["number"],
                    actor=viewer,
                    now=clock.now(),
                    expected_version=restore.cleaned_data["expected_version"],
                )
            except NotFound:
                raise Http404 from None
            except Conflict:
                status = 409
                error = _("Someone else saved this translation meanwhile: review the latest version first.")
            else:
                return redirect("kb:versions", article_id=article.pk, language=language)
        else:
            status = 422
            error = _("Choose a version to restore.")
        current.refresh_from_db()
    rows = list(selectors.version_list(principal=viewer, article_id=article.pk, language=language))
    numbers = {v.number for v in rows}
    try:
        shown = int(request.GET.get("v") or current.version)
    except ValueError:
        shown = current.version
    if shown not in numbers:
        shown = current.version
    diff = []
    if shown > 1 and shown - 1 in numbers:
        diff = selectors.version_diff(
            principal=viewer, article_id=article.pk, language=language, a=shown - 1, b=shown
        )
    field_labels = {
        "title": _("Title"),
        "summary": _("Summary"),
        "state": _("State"),
        "body_html": _("Body"),
    }
    context = {
        "article": article,
        "language": language,
        "current": current,
        "versions": rows,
        "shown": shown,
        "diff": [{"label": field_labels[d.field], "d": d} for d in diff],
        "state_labels": forms.STATE_LABELS,
        "error": error,
    }
    return render(request, "kb/versions.html", context, status=status)


@agent_required
@require_POST
def from_ticket(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """ "Save as article" on a solved ticket: its draft article, then its editor."""
    viewer = _viewer(request)
    if not selectors.kb_may_edit(viewer):
        return HttpResponseForbidden()
    try:
        article = services.article_from_ticket(ticket_id=ticket_id, actor=viewer, now=clock.now())
    except NotFound:
        raise Http404 from None
    except DomainError:
        return redirect("web:ticket", ticket_id=ticket_id)
    return redirect("kb:editor", article_id=article.pk, language=article.source_language)


# --------------------------------------------------------------------------------------------
# The ticket page: the composer's "Insert article" picker, the ticket's linked articles


def _ticket_or_404(request: HttpRequest, ticket_id: int) -> Any:
    try:
        return ticket_get_for(principal=request.user, ticket_id=ticket_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404 from None


def _reader_language(ticket: Any) -> str:
    """The language the ticket's requester reads (an inserted article is in it when it can be)."""
    language = ticket.requester.language if ticket.requester_id else ""
    return language if language in selectors.kb_languages() else (translation.get_language() or "en")


@agent_required
@require_GET
def article_picker(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The composer's "Insert article" results for `q`: what the agent may insert into a public
    reply (`kind=public`: public translations) or an internal note (internal ones too), each in
    the requester's language when it has a translation in it."""
    viewer = _viewer(request)
    ticket = _ticket_or_404(request, ticket_id)
    query = (request.GET.get("q") or "").strip()[:200]
    public = request.GET.get("kind") == "public"
    items = selectors.insertable_search(
        principal=viewer, query=query, public=public, language=_reader_language(ticket)
    )
    context = {"items": items, "query": query, "public": public, "state_labels": forms.STATE_LABELS}
    return render(request, "kb/_picker_results.html", context)


@agent_required
@require_GET
def ticket_articles(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket page's side panel: the articles written from the ticket or linked in its
    replies (loaded after the page)."""
    viewer = _viewer(request)
    ticket = _ticket_or_404(request, ticket_id)
    rows = selectors.ticket_articles(
        principal=viewer, ticket_id=ticket.pk, language=translation.get_language() or "en"
    )
    kinds = {
        ArticleTicketLink.Kind.SOURCE: _("Written from this ticket"),
        ArticleTicketLink.Kind.LINKED: _("Linked in a reply"),
    }
    items = [{"row": r, "kind": kinds.get(ArticleTicketLink.Kind(r.kind), "")} for r in rows]
    return render(request, "kb/_ticket_articles.html", {"items": items, "ticket": ticket})
