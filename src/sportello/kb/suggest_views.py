"""Answer suggestions as HTMX fragments.

- `GET /suggest/portal/?q=<text>&department=<id>&lang=<code>`: for the portal's request form
  while the customer types (public articles only). The list shown is recorded (its id goes into
  each link as `s=`); nothing found, or nothing above the floor: an empty 200.
- `POST /suggest/solved/`: "This solved my problem" on one suggestion.
- `GET /suggest/ticket/<ticket_id>/`: the ticket page's side panel for agents (public and
  internal articles, from the ticket's subject and first message).
"""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET, require_POST

from sportello.core import clock
from sportello.core.errors import NotFound
from sportello.tickets.models import Message
from sportello.tickets.selectors import ticket_get_for
from sportello.web.shell import agent_required

from . import deflection
from .models import ArticleState
from .suggest import Suggestion, suggest

MIN_CHARS = 3  # fewer typed characters: nothing to suggest yet
LIMIT = 5


def _language(code: str | None) -> str:
    codes = {c for c, _ in settings.LANGUAGES}
    if code in codes:
        return str(code)
    current = translation.get_language() or settings.LANGUAGE_CODE
    return current if current in codes else settings.LANGUAGE_CODE


def _int_or_none(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


def _session(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return deflection.session_fingerprint(request.session.session_key)


def _contact_id(request: HttpRequest) -> int | None:
    value = request.session.get("portal_contact_id")
    return value if isinstance(value, int) else None


def record_opened(request: HttpRequest, *, article_id: int) -> None:
    """The article page reached from a suggestion (`?from=suggest&s=<list>`): record it opened,
    once. A list not shown to this reader, or not holding the article, records nothing."""
    if request.GET.get("from") != "suggest":
        return
    shown_id = _int_or_none(request.GET.get("s"))
    if shown_id is None:
        return
    with contextlib.suppress(NotFound):
        deflection.suggestion_opened(
            shown_id=shown_id,
            article_id=article_id,
            session=_session(request),
            contact_id=_contact_id(request),
            now=clock.now(),
        )


def record_submitted(request: HttpRequest, *, contact_id: int | None, ticket_id: int | None) -> None:
    """A request submitted from this portal session (before any sign-in changes its key): the
    deflection figures count the session's suggestions as not deflected."""
    deflection.suggestion_request_submitted(
        session=_session(request), contact_id=contact_id, ticket_id=ticket_id, now=clock.now()
    )


def public_url(suggestion: Suggestion) -> str:
    return f"/portal/kb/{suggestion.language}/a/{suggestion.article_id}-{suggestion.slug}/"


@require_GET
def portal_suggestions(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q") or " ".join(
        part for part in (request.GET.get("subject", ""), request.GET.get("description", "")) if part
    )
    text = text.replace("\x00", " ").strip()
    if len(text) < MIN_CHARS:
        return HttpResponse("")
    language = _language(request.GET.get("lang"))
    department_id = _int_or_none(request.GET.get("department"))
    found = suggest(
        text=text, language=language, audience="customer", department_id=department_id, limit=LIMIT
    )
    if not found:
        return HttpResponse("")
    shown = deflection.suggestion_shown(
        article_ids=[s.article_id for s in found],
        text=text,
        language=language,
        audience="customer",
        session=_session(request),
        contact_id=_contact_id(request),
        department_id=department_id,
        now=clock.now(),
    )
    items = [
        {"suggestion": s, "url": f"{public_url(s)}?from=suggest&s={shown.pk}", "shown_id": shown.pk}
        for s in found
    ]
    with translation.override(language):
        return render(request, "kb/suggest/portal.html", {"items": items, "language": language})


@require_POST
def portal_solved(request: HttpRequest) -> HttpResponse:
    shown_id = _int_or_none(request.POST.get("s"))
    article_id = _int_or_none(request.POST.get("article"))
    if shown_id is None or article_id is None or not request.session.session_key:
        return HttpResponse(status=404)
    try:
        deflection.suggestion_solved(
            shown_id=shown_id,
            article_id=article_id,
            session=deflection.session_fingerprint(request.session.session_key),
            contact_id=_contact_id(request),
            now=clock.now(),
        )
    except NotFound:
        return HttpResponse(status=404)
    return render(request, "kb/suggest/solved.html", {})


@agent_required
@require_GET
def ticket_suggestions(request: HttpRequest, ticket_id: int) -> HttpResponse:
    try:
        ticket = ticket_get_for(principal=request.user, ticket_id=ticket_id)  # type: ignore[arg-type]
    except NotFound:
        return HttpResponse(status=404)
    first = (
        Message.objects.filter(ticket=ticket)
        .order_by("created_at", "id")
        .values_list("body_text", flat=True)
        .first()
    )
    text = f"{ticket.subject}\n{first or ''}"
    language = ticket.requester.language if ticket.requester_id else settings.LANGUAGE_CODE
    found = suggest(
        text=text, language=language, audience="agent", department_id=ticket.department_id, limit=LIMIT
    )
    items = [
        {"suggestion": s, "url": public_url(s), "internal": s.state == ArticleState.INTERNAL} for s in found
    ]
    return render(request, "kb/suggest/ticket.html", {"items": items, "ticket": ticket})
