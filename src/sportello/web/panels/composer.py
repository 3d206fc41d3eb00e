"""Ticket page panel: the composer (public reply or internal note, sent with a status), its
pickers of canned responses and macros (their lists loaded on opening), the agent's signature
under a public reply; on a closed ticket, the follow-up form in its place.

The mode (public or note) is the agent's until they change it: the last one they sent is kept
in their session (`MODE_KEY`) and the composer opens in it, on this ticket and the next."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from sportello.tickets import attachments
from sportello.tickets.models import Status, StatusCategory, Ticket

from ..composer_forms import FollowUpForm, ReplyForm, send_statuses
from .reads import page_reads

TEMPLATE = "web/ticket/_composer.html"
MODE_KEY = "composer_mode"


def reply_form(
    request: HttpRequest,
    ticket: Ticket,
    *,
    may_edit: bool,
    data: Any = None,
    statuses: Iterable[Status] | None = None,
) -> ReplyForm:
    """The composer's form for this agent; `data`: what was posted; `statuses`: every status,
    when the page read them already."""
    offered, accepted = send_statuses(ticket, statuses) if may_edit else ([], [])
    return ReplyForm(
        data,
        may_reply_publicly=may_edit,
        statuses=offered,
        accepted=accepted,
        kind=request.session.get(MODE_KEY),
    )


def mention_url(ticket: Ticket) -> str:
    """Where the note's @mention autocomplete asks for the agents who may see the ticket."""
    return reverse("inbox:mentions", args=[ticket.pk])


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    closed = ticket.status_category == StatusCategory.CLOSED
    data: dict[str, Any] = {
        "composer_closed": closed,
        "mention_url": mention_url(ticket),
        "upload_max_bytes": attachments.max_bytes(),
    }
    if closed:
        data["followup_form"] = FollowUpForm()
        return data
    may_edit = shared["may_edit"]
    statuses = page_reads(shared, request, ticket).statuses if may_edit else None
    data["reply_form"] = reply_form(request, ticket, may_edit=may_edit, statuses=statuses)
    # The pickers' canned responses and macros are loaded when a picker is first opened
    # (ticket_views.composer.canned_picker, macro_picker); the page reads neither.
    return data
