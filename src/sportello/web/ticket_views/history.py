"""Ticket page reads: the history panel alone, filtered, for the segmented control (HTMX)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from sportello.core import clock
from sportello.core.http import HtmxRequest

from ..panels import history
from ..shell import agent_required
from ..ticket_page import ticket_for


@agent_required
@require_GET
def ticket_history(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    """The history panel alone, filtered (HTMX); a plain request goes to the whole page."""
    ticket = ticket_for(request, ticket_id)
    what = history.chosen_filter(request)
    if not request.htmx:
        return redirect(f"{reverse('web:ticket', args=[ticket.pk])}?history={what}")
    now = clock.now()
    context = {"ticket": ticket, "now": now, **history.context(request, ticket, now=now, shared={})}
    return render(request, history.TEMPLATE, context)
