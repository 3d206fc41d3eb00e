"""Ticket page: live updates and presence.

The page polls `ticket_live` every few seconds with the version it shows and the last `ETag`.
Unchanged (same version, same colleagues viewing or replying): 304, one query for the ticket and
one for the viewers. Changed: the live strip again, and when the ticket's version moved, the
header, the conversation and the history as out-of-band swaps — the composer and the properties
form stay as the agent left them. The page's heartbeat (`ticket_presence`) says whether its agent
is viewing or replying, or has left."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import User
from sportello.core import clock
from sportello.tickets import presence, selectors
from sportello.tickets.models import Ticket

from ..panels import live as live_panel
from ..shell import agent_required
from ..ticket_page import page_ticket_for, ticket_context, ticket_for

STATES = ("viewing", "replying", "gone")


def _state(request: HttpRequest, ticket_id: int) -> tuple[int, str] | None:
    """The ticket's version and status category if this agent may read it (one query)."""
    user: User = request.user  # type: ignore[assignment]
    return (
        Ticket.objects.filter(selectors.ticket_scope(principal=user), pk=ticket_id)
        .values_list("version", "status_category")
        .first()
    )


@agent_required
@require_GET
def ticket_live(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    state = _state(request, ticket_id)
    if state is None:
        return HttpResponse(status=404)
    version, category = state
    viewers = presence.presence_list(ticket_id=ticket_id, exclude=request.user, now=now)  # type: ignore[arg-type]
    tag = live_panel.etag(ticket_id=ticket_id, version=version, viewers=viewers)
    if request.headers.get("If-None-Match") == tag:
        response = HttpResponse(status=304)
    else:
        seen = request.GET.get("v", "")
        if seen.isdigit() and int(seen) != version:
            # The ticket changed: the regions that show it, rendered as the page renders them.
            ticket = page_ticket_for(request, ticket_id, now=now)
            context = ticket_context(request, ticket, now=now, live_updated=True)
        else:  # only who else is here changed: the live strip alone
            shown = Ticket(pk=ticket_id, version=version, status_category=category)
            context = {"ticket": shown, "viewers": viewers, "live_etag": tag, "live_updated": False}
        response = render(request, "web/ticket/_live.html", context)
    response["ETag"] = tag
    response["Cache-Control"] = "no-store"
    return response


@agent_required
@require_POST
def ticket_presence(request: HttpRequest, ticket_id: int) -> HttpResponse:
    state = request.POST.get("state", "")
    if state not in STATES:
        return HttpResponse(status=400)
    ticket = ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    if state == "gone":
        presence.presence_leave(ticket=ticket, agent=user)
    else:
        presence.presence_beat(ticket=ticket, agent=user, replying=state == "replying", now=clock.now())
    return HttpResponse(status=204)
