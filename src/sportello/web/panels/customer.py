"""Ticket page panel: the customer — the requester (editable by agents who may edit), their
organization, their other open tickets and their earlier ones (the five most recent of each,
among the tickets this agent may see). Sportello records no satisfaction ratings yet: the
panel says so rather than showing an empty score."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from sportello.contacts.models import Contact
from sportello.tickets import selectors
from sportello.tickets.models import UNRESOLVED_CATEGORIES, Ticket
from sportello.tickets.selectors import TicketQuery

from ..customer_form import ContactForm

TEMPLATE = "web/ticket/_customer.html"
RECENT = 5


def _tickets(request: HttpRequest, ticket: Ticket, *, unresolved: bool) -> list[Ticket]:
    qs = selectors.ticket_query(
        principal=request.user,  # type: ignore[arg-type]
        query=TicketQuery(requester_id=ticket.requester_id),
    ).exclude(pk=ticket.pk)
    categories = [str(c) for c in UNRESOLVED_CATEGORIES]
    if unresolved:
        qs = qs.filter(status_category__in=categories)
    else:
        qs = qs.exclude(status_category__in=categories)
    return list(qs.prefetch_related(None).order_by("-created_at", "-id")[:RECENT])


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    # One query for the requester and the organization; the header reads them too.
    requester = Contact.objects.select_related("organization").get(pk=ticket.requester_id)
    ticket.requester = requester
    if ticket.organization_id is not None and ticket.organization_id == requester.organization_id:
        ticket.organization = requester.organization
    return {
        "requester": requester,
        "requester_language": dict(settings.LANGUAGES).get(requester.language, requester.language),
        "customer_org": ticket.organization,
        "open_tickets": _tickets(request, ticket, unresolved=True),
        "earlier_tickets": _tickets(request, ticket, unresolved=False),
        "contact_form": ContactForm(contact=requester) if shared["may_edit"] else None,
    }
