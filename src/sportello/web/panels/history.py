"""Ticket page panel: the history, every change in words, filterable (all, messages, changes,
automation). The filter lives in the page's URL (`?history=automation`);
`ticket_views.history.ticket_history` answers an HTMX request with the panel alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sportello.core.compiled import STATEMENTS
from sportello.core.http import HtmxRequest
from sportello.tickets import selectors
from sportello.tickets.models import EventKind, Ticket

from ..timeline import Change, changes
from .reads import page_reads

TEMPLATE = "web/ticket/_history.html"
ALL, MESSAGES, CHANGES, AUTOMATION = "all", "messages", "changes", "automation"
FILTERS: tuple[tuple[str, Promise], ...] = (
    (ALL, _("All")),
    (MESSAGES, _("Messages")),
    (CHANGES, _("Changes")),
    (AUTOMATION, _("Automation")),
)
AUTOMATIC_ACTORS = frozenset({"rule", "sla", "blueprint", "system"})
AUTOMATIC_KINDS = frozenset({EventKind.SLA, EventKind.BLUEPRINT, EventKind.ASSIGNMENT})
MESSAGE_KINDS = frozenset({EventKind.CREATED, EventKind.MESSAGE, EventKind.ATTACHMENT})
CHANGE_KINDS = frozenset({EventKind.FIELD, EventKind.TAGS, EventKind.TASK, EventKind.TIER})


def shows(change: Change, what: str) -> bool:
    """Whether the history filtered to `what` lists `change`."""
    kinds = {r.source for r in change.rows}
    automatic = change.actor_kind in AUTOMATIC_ACTORS or bool(kinds & AUTOMATIC_KINDS)
    if what == MESSAGES:
        return bool(kinds & MESSAGE_KINDS)
    if what == CHANGES:
        return not automatic and bool(kinds & CHANGE_KINDS)
    if what == AUTOMATION:
        return automatic
    return True


def chosen_filter(request: HtmxRequest) -> str:
    """The filter in the URL; after an HTMX write, the one in the page's URL (it stays)."""
    what = request.GET.get("history")
    if what is None and getattr(request, "htmx", None) and request.htmx.current_url:
        what = parse_qs(urlsplit(request.htmx.current_url).query).get("history", [ALL])[0]
    return what if what is not None and what in dict(FILTERS) else ALL


def context(request: HtmxRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    what = chosen_filter(request)
    # The people, statuses, departments, processes the other panels read name the changes;
    # the messages' authors too (the conversation's).
    known = page_reads(shared, request, ticket).known(messages=shared.get("conversation", ()))
    user = request.user
    events = STATEMENTS.rows(
        ("history", type(user).__name__),
        lambda ident, at: selectors.event_list(principal=user, ticket=Ticket(pk=ident)),  # type: ignore[arg-type]
        ids=(ticket.pk,),
        now=now,
    )
    every = changes(events, known)
    return {
        "changes": [c for c in every if shows(c, what)],
        "history_filter": what,
        "history_filters": FILTERS,
    }
