"""Ticket page panel: the customer — the requester (editable by agents who may edit), their
organization, their other open tickets and their earlier ones (the five most recent of each,
among the tickets this agent may see), and how many tickets the requester and the organization
have in all, linking to the queue narrowed to them ("See all"). The counts are of the tickets
this agent may see, read in the requester's own statement. Sportello records no satisfaction
ratings yet: the panel says so rather than showing an empty score."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from sportello.accounts.models import Role
from sportello.queues.forms import STATUS_ANY
from sportello.tickets import selectors
from sportello.tickets.models import UNRESOLVED_CATEGORIES, Ticket
from sportello.tickets.selectors import TicketQuery

from ..customer_form import ContactForm
from .reads import page_reads

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


def see_all_url(name: str, pk: int) -> str:
    """The queue narrowed to one requester's or organization's tickets, whatever their status."""
    return f"{reverse('web:home')}?status={STATUS_ANY}&{name}={pk}"


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    # One query for the requester, the organization and how many tickets each has that this
    # agent may see (the page's, `PageReads.requester`); the header reads them too.
    requester = page_reads(shared, request, ticket).requester
    return {
        "requester": requester,
        "requester_language": dict(settings.LANGUAGES).get(requester.language, requester.language),
        "customer_org": ticket.organization,
        "open_tickets": _tickets(request, ticket, unresolved=True),
        "earlier_tickets": _tickets(request, ticket, unresolved=False),
        "contact_form": ContactForm(contact=requester) if shared["may_edit"] else None,
        "requester_total": requester.requester_total,  # type: ignore[attr-defined]
        "requester_all_url": see_all_url("requester", requester.pk),
        "organization_total": getattr(requester, "organization_total", 0),
        "organization_all_url": see_all_url("organization", ticket.organization_id)
        if ticket.organization_id is not None
        else None,
        "counts_scoped": getattr(request.user, "role", None) != Role.ADMIN,
    }
