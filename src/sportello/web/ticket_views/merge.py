"""Ticket page writes: merge this ticket into another (pick, preview, confirm) and split a
customer's message into a new ticket. Both call `tickets.merge`, the API's service."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from sportello.accounts.models import User
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import DomainError, NotFound, ValidationFailed
from sportello.core.http import HtmxRequest
from sportello.tickets import merge, search, selectors
from sportello.tickets.models import SUBJECT_MAX_LENGTH, UNRESOLVED_CATEGORIES, Ticket

from ..errors import error_message
from ..shell import agent_required
from ..ticket_page import ticket_for

TEMPLATE = "web/ticket/_merge.html"
CANDIDATES_MAX = 8


def _go(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    url = reverse("web:ticket", kwargs={"ticket_id": ticket_id})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _message(exc: DomainError) -> str:
    if exc.code == "merge_self":
        return _("A ticket cannot be merged into itself.")
    if exc.code == "source_closed":
        return _("This ticket is closed and cannot be merged.")
    if exc.code == "target_closed":
        return _("That ticket is closed; merge into an open ticket.")
    if exc.code == "target_merged":
        return _("That ticket was merged into another one; merge into that one instead.")
    return error_message(exc)


def _candidates(user: User, ticket: Ticket, q: str) -> list[Ticket]:
    """Open tickets this agent may edit that match `q`: a number exactly, else words of the
    subject and conversation (the search index)."""
    q = q.strip().lstrip("#")
    if not q:
        return []
    open_categories = [str(c) for c in UNRESOLVED_CATEGORIES]
    if q.isdigit() and len(q) < 19:
        qs = selectors.ticket_list(principal=user).filter(number=int(q), status_category__in=open_categories)
        return [t for t in qs if t.pk != ticket.pk]
    try:
        hits, _next = search.ticket_search(
            principal=user, q=q, categories=open_categories, limit=CANDIDATES_MAX + 1
        )
    except ValidationFailed:
        return []
    return [h.ticket for h in hits if h.ticket.pk != ticket.pk][:CANDIDATES_MAX]


@agent_required
@require_GET
def merge_candidates(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_for(request, ticket_id)
    q = request.GET.get("q", "")[:200]
    found = _candidates(request.user, ticket, q)  # type: ignore[arg-type]
    context = {"ticket": ticket, "candidates": found, "q": q.strip()}
    return render(request, f"{TEMPLATE}#merge_candidates", context)


@agent_required
@require_GET
def merge_preview(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_for(request, ticket_id)
    context: dict[str, Any] = {"ticket": ticket}
    target = request.GET.get("target", "")
    status = 200
    try:
        if not target.isdigit():
            raise NotFound("ticket not found")
        context["preview"] = merge.merge_preview(
            principal=request.user,  # type: ignore[arg-type]
            source_id=ticket.pk,
            target_id=int(target),
        )
    except NotFound:
        context["merge_error"], status = _("That ticket was not found among those you may change."), 404
    except DomainError as exc:
        context["merge_error"], status = _message(exc), exc.status
    return render(request, f"{TEMPLATE}#merge_preview", context, status=status)


@agent_required
@require_POST
def ticket_merge(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    target = request.POST.get("target", "")
    context: dict[str, Any] = {"ticket": ticket}
    try:
        if not target.isdigit():
            raise NotFound("ticket not found")
        out = merge.ticket_merge(
            principal=request.user,  # type: ignore[arg-type]
            source_id=ticket.pk,
            target_id=int(target),
            via=Via.WEB,
            now=now,
        )
    except NotFound:
        context["merge_error"], status = _("That ticket was not found among those you may change."), 404
    except DomainError as exc:
        context["merge_error"], status = _message(exc), exc.status
    else:
        return _go(request, out.target.pk)
    return render(request, f"{TEMPLATE}#merge_preview", context, status=status)


@agent_required
@require_POST
def message_split(request: HtmxRequest, ticket_id: int, message_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    subject = request.POST.get("subject", "").strip()[: SUBJECT_MAX_LENGTH + 1]
    error = ""
    status = 422
    if not subject:
        error = _("Give the new ticket a subject.")
    else:
        try:
            outcome = merge.message_split(
                principal=request.user,  # type: ignore[arg-type]
                ticket_id=ticket.pk,
                message_id=message_id,
                subject=subject,
                via=Via.WEB,
                now=now,
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            error, status = error_message(exc), exc.status
        else:
            return _go(request, outcome.ticket.pk)
    context = {
        "ticket": ticket,
        "split_error": error,
        "split_message_id": message_id,
        "split_subject": subject,
    }
    return render(request, f"{TEMPLATE}#split_error", context, status=status)
