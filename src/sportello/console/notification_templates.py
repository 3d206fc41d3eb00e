"""The Console's notification templates (Channels): every event in every language, customised or
the shipped default; an editor with a placeholder picker and a live preview (HTMX) on a ticket
or a built-in sample, in the chosen language. Saved through the template kind's save
(`notifications.services.template_save`: a new version); a text the sandbox refuses is refused
next to its field, with the line, and nothing is saved."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.notifications import selectors, services
from sportello.notifications.context import NAMES
from sportello.notifications.selectors import LANGUAGES, TemplateEntry

from .views import admin_required, current_admin, render_console

EVENT_LABELS: dict[str, Any] = {
    "ticket_received": gettext_lazy("Ticket received"),
    "agent_reply": gettext_lazy("Agent's reply"),
    "status_changed": gettext_lazy("Status changed"),
    "solution_under_test": gettext_lazy("Solution under test"),
    "shipment_status": gettext_lazy("Shipment update"),
    "sla_warning": gettext_lazy("SLA warning"),
    "satisfaction_survey": gettext_lazy("Satisfaction survey"),
    "survey_request": gettext_lazy("Satisfaction survey (sent after solving)"),
    "survey_reminder": gettext_lazy("Satisfaction survey reminder"),
}
LANGUAGE_LABELS: dict[str, Any] = {
    "en": gettext_lazy("English"),
    "es": gettext_lazy("Spanish"),
    "it": gettext_lazy("Italian"),
}
AUDIENCES: dict[str, Any] = {"customer": gettext_lazy("To the customer"), "agent": gettext_lazy("To agents")}
FIELDS = ("subject", "body_text", "body_html")


def _event(key: str) -> Any:
    return EVENT_LABELS.get(key, key)


@admin_required
@require_http_methods(["GET"])
def template_list(request: HttpRequest) -> HttpResponse:
    """Each event with its three languages: customised (its version) or the default."""
    entries = selectors.template_list(principal=current_admin(request))
    by_key: dict[str, dict[str, TemplateEntry]] = {}
    for entry in entries:
        by_key.setdefault(entry.key, {})[entry.language] = entry
    rows = [
        {
            "key": key,
            "label": _event(key),
            "audience": AUDIENCES.get(next(iter(langs.values())).audience, ""),
            "description": next(iter(langs.values())).description,
            "cells": [(lang, LANGUAGE_LABELS[lang], langs.get(lang)) for lang in LANGUAGES],
        }
        for key, langs in by_key.items()
    ]
    context = {
        "section": "templates",
        "now": clock.now(),
        "rows": rows,
        "languages": [(lang, LANGUAGE_LABELS[lang]) for lang in LANGUAGES],
    }
    return render_console(request, "console/channels/templates.html", context)


def _entry(request: HttpRequest, key: str, language: str) -> TemplateEntry:
    try:
        return selectors.template_get(principal=current_admin(request), key=key, language=language)
    except NotFound:
        raise Http404 from None


def _editor(
    request: HttpRequest,
    entry: TemplateEntry,
    *,
    texts: dict[str, str] | None = None,
    version: str = "",
    errors: dict[str, str] | None = None,
    stale: TemplateEntry | None = None,
    status: int = 200,
) -> HttpResponse:
    values = texts if texts is not None else {f: getattr(entry, f) for f in FIELDS}
    context = {
        "section": "templates",
        "now": clock.now(),
        "entry": entry,
        "label": _event(entry.key),
        "language_label": LANGUAGE_LABELS.get(entry.language, entry.language),
        "values": values,
        "version": version if texts is not None else (entry.version or ""),
        "errors": errors or {},
        "stale": stale,
        "placeholders": [(name, help_text) for name, help_text in NAMES.items() if "<" not in name],
        "languages": [(lang, LANGUAGE_LABELS[lang]) for lang in LANGUAGES],
    }
    return render_console(request, "console/channels/template_edit.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, key: str, language: str) -> HttpResponse:
    """GET: the editor. POST: save the texts as a new version (the same texts write nothing);
    a refused text or a stale edit comes back with what was typed."""
    entry = _entry(request, key, language)
    if request.method != "POST":
        return _editor(request, entry)
    texts = {f: request.POST.get(f, "") for f in FIELDS}
    sent_version = request.POST.get("version", "")
    if sent_version != str(entry.version or ""):
        # Someone saved (or restored the default) since this editor was opened.
        return _editor(request, entry, texts=texts, version=str(entry.version or ""), stale=entry, status=409)
    try:
        _row, written = services.template_save(
            key=key, language=language, subject=texts["subject"], body_text=texts["body_text"],
            body_html=texts["body_html"], active=entry.active, actor=current_admin(request), now=clock.now(),
        )  # fmt: skip
    except ValidationFailed as exc:
        field = exc.field if exc.field in FIELDS else "body_text"
        return _editor(
            request, entry, texts=texts, version=sent_version, errors={field: exc.message}, status=422
        )
    except Conflict:
        fresh = _entry(request, key, language)
        return _editor(request, fresh, texts=texts, version=str(fresh.version or ""), stale=fresh, status=409)
    label = {"event": _event(key), "language": LANGUAGE_LABELS.get(language, language)}
    if written:
        messages.success(request, _("Saved “%(event)s” in %(language)s.") % label)
    else:
        messages.info(request, _("Nothing changed in “%(event)s” in %(language)s.") % label)
    return redirect(reverse("console:template_edit", args=[key, language]))


def _ticket_number(raw: str) -> int | None:
    raw = raw.strip().lstrip("#")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(
            "enter a ticket number, or leave it empty for the sample", field="ticket"
        ) from None


@admin_required
@require_http_methods(["POST"])
def template_preview(request: HttpRequest, key: str, language: str) -> HttpResponse:
    """The preview fragment (HTMX): the typed texts rendered in the chosen language on the chosen
    ticket or the sample; nothing is saved. A refused text says so, with its line."""
    _entry(request, key, language)
    chosen = request.POST.get("preview_language") or language
    draft = {f: request.POST.get(f, "") for f in FIELDS}
    context: dict[str, Any] = {"rendered": None, "error": "", "error_field": ""}
    try:
        number = _ticket_number(request.POST.get("ticket", ""))
        if chosen not in LANGUAGES:
            raise ValidationFailed("choose a language", field="preview_language")
        context["rendered"] = services.template_preview_on(
            principal=current_admin(request),
            key=key,
            language=chosen,
            ticket_number=number,
            draft=draft,
            now=clock.now(),
        )
        context["sample"] = number is None
        context["language_label"] = LANGUAGE_LABELS.get(chosen, chosen)
    except (ValidationFailed, NotFound) as exc:
        context["error"] = exc.message
        context["error_field"] = exc.field or ""
    return render_console(request, "console/channels/_template_preview.html", context)


urlpatterns = [
    path("templates/", template_list, name="templates"),
    path("templates/<str:key>/<str:language>/", template_edit, name="template_edit"),
    path("templates/<str:key>/<str:language>/preview/", template_preview, name="template_preview"),
]
