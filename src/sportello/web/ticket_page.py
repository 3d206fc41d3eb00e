"""The ticket page: one view renders it from its panels (`web.panels`); each panel's writes
answer through `changed` (the refreshed ticket) or `refused` (the form again, errors inline);
`submitted` does both for a form whose write may be refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms as django_forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from django_htmx.http import reswap, retarget

from sportello.core import clock
from sportello.core.errors import DomainError, NotFound
from sportello.core.http import HtmxRequest
from sportello.tickets import links, permissions, selectors
from sportello.tickets.models import Ticket

from . import panels
from .errors import attach_error
from .panels.reads import PageReads, name_records, page_ticket
from .shell import agent_required


def ticket_for(request: HttpRequest, ticket_id: int) -> Ticket:
    """The ticket if this agent may see it; a 404 alike for a missing and a forbidden one."""
    try:
        return selectors.ticket_get_for(principal=request.user, ticket_id=ticket_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404 from None


def page_ticket_for(request: HttpRequest, ticket_id: int, *, now: datetime) -> Ticket:
    """`ticket_for`, with what the whole page shows of the ticket (`panels.reads.page_ticket`)."""
    try:
        return page_ticket(user=request.user, ticket_id=ticket_id, now=now)  # type: ignore[arg-type]
    except NotFound:
        raise Http404 from None


def ticket_context(
    request: HttpRequest, ticket: Ticket, *, now: datetime, **overrides: Any
) -> dict[str, Any]:
    """Every panel's context; `overrides` (a refused form with its errors) win. A ticket merged
    into another is read-only for everyone (its properties as a list, no composer, no process
    steps): its conversation goes on where it was merged."""
    merged = ticket.merged_into_id is not None
    # What several panels show, read once for all of them.
    reads = PageReads(user=request.user, ticket=ticket)  # type: ignore[arg-type]
    name_records(ticket, reads.memo)
    context: dict[str, Any] = {
        "ticket": ticket,
        "now": now,
        "may_edit": permissions.can_edit_fields(request.user) and not merged,  # type: ignore[arg-type]
        "links": links.ticket_links(principal=request.user, ticket=ticket),  # type: ignore[arg-type]
        "reads": reads,
    }
    for panel in panels.PANELS:
        context.update(panel.context(request, ticket, now=now, shared=context))
    context.update(overrides)
    return context


@agent_required
@require_GET
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = page_ticket_for(request, ticket_id, now=now)
    return render(request, "web/ticket.html", ticket_context(request, ticket, now=now))


def changed(request: HtmxRequest, ticket_id: int, *, now: datetime) -> HttpResponse:
    """After a successful change: HTMX gets the refreshed ticket, a plain form post a redirect."""
    if not request.htmx:
        return redirect("web:ticket", ticket_id=ticket_id)
    ticket = page_ticket_for(request, ticket_id, now=now)
    return render(request, "web/ticket.html#ticket", ticket_context(request, ticket, now=now))


def refused(
    request: HtmxRequest,
    ticket: Ticket,
    *,
    now: datetime,
    template: str,
    partial: str,
    status: int,
    **forms: Any,
) -> HttpResponse:
    """A refused change: the form again, with its errors inline, in place of the form.
    `template` is the panel's template, `partial` the form's partial in it; the form's element id
    is the partial's name with dashes."""
    context = ticket_context(request, ticket, now=now, **forms)
    if not request.htmx:
        return render(request, "web/ticket.html", context, status=status)
    response = render(request, f"{template}#{partial}", context, status=status)
    return reswap(retarget(response, f"#{partial.replace('_', '-')}"), "outerHTML")


def submitted(
    request: HtmxRequest,
    ticket: Ticket,
    *,
    now: datetime,
    form: django_forms.Form,
    write: Callable[[], object],
    template: str,
    partial: str,
    again: Callable[[Ticket], dict[str, Any]],
    attach: Callable[[Any, DomainError], int] = attach_error,
    reload: bool = False,
) -> HttpResponse:
    """A panel's form posted: when it is valid, `write` calls the service and the agent gets the
    refreshed ticket (`changed`). Otherwise the refusal: an invalid form answers 422; a refused
    write puts the error on the form (`attach`, by default `attach_error`: next to the field it
    names) and answers with the status it returns. `again(ticket)` gives the panel's context
    with the form in it (`refused`'s overrides); `reload` reads the ticket again first, so the
    panel shows it as it now is."""
    status = 422
    if form.is_valid():
        try:
            write()
        except DomainError as exc:
            status = attach(form, exc)
        else:
            return changed(request, ticket.pk, now=now)
    if reload:
        ticket = ticket_for(request, ticket.pk)
    return refused(
        request, ticket, now=now, template=template, partial=partial, status=status, **again(ticket)
    )
