"""Ticket page panel: the customer — the requester (editable by agents who may edit), their
organization, their other open tickets and their earlier ones (the five most recent of each,
among the tickets this agent may see), and how many tickets the requester and the organization
have in all, linking to the queue narrowed to them ("See all"). The counts are of the tickets
this agent may see, read in the requester's own statement. Satisfaction: this ticket's survey
(offered, or its rating with the comment) and the requester's latest ratings on other tickets
(`surveys.selectors.panel_ratings`, one query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest
from django.urls import reverse

from sportello.accounts.models import Role, User
from sportello.core import clock
from sportello.core.compiled import STATEMENTS
from sportello.queues.forms import STATUS_ANY
from sportello.surveys.selectors import panel_ratings
from sportello.tickets import selectors
from sportello.tickets.models import UNRESOLVED_CATEGORIES, Status, Ticket

from ..customer_form import ContactForm
from .reads import PageReads, page_reads

TEMPLATE = "web/ticket/_customer.html"
RECENT = 5


@dataclass(frozen=True, slots=True)
class OtherTicket:
    """A ticket in the panel's lists: its number, subject and status."""

    pk: int
    number: int
    subject: str
    status_category: str
    status: Status


def _others(user: User, requester_id: int, ticket_id: int) -> QuerySet[Ticket, Any]:
    """The requester's other tickets this agent may see, the most recent `RECENT` of each kind
    (open, earlier), each ranked among its kind, with only what the lists show."""
    unresolved = ExpressionWrapper(
        Q(status_category__in=[str(c) for c in UNRESOLVED_CATEGORIES]), output_field=BooleanField()
    )
    newest_first = [F("created_at").desc(), F("id").desc()]
    return (
        Ticket.objects.filter(selectors.ticket_scope(principal=user), requester_id=requester_id)
        .exclude(pk=ticket_id)
        .annotate(
            unresolved=unresolved,
            rank=Window(RowNumber(), partition_by=[unresolved], order_by=newest_first),
        )
        .filter(rank__lte=RECENT)
        .order_by(*newest_first)
        .values_list("pk", "number", "subject", "status_category", "status_id", "unresolved")
    )


def _tickets(
    request: HttpRequest, ticket: Ticket, reads: PageReads
) -> tuple[list[OtherTicket], list[OtherTicket]]:
    """The requester's other open tickets and their earlier ones among those this agent may see,
    the most recent `RECENT` of each, in one statement (each ticket ranked among its kind); only
    what the lists show is read (the statuses are the page's)."""
    user = request.user
    if ticket.requester_id is None:
        found: list[Any] = []
    else:
        found = STATEMENTS.rows(
            ("customer_tickets", user.pk, getattr(user, "role", None), user.is_active),
            lambda requester, this, at: _others(user, requester, this),  # type: ignore[arg-type]
            ids=(ticket.requester_id, ticket.pk),
            now=clock.now(),
        )
    open_tickets: list[OtherTicket] = []
    earlier: list[OtherTicket] = []
    statuses = {s.pk: s for s in reads.statuses} if found else {}
    for pk, number, subject, category, status_id, is_open in found:
        row = OtherTicket(pk, number, subject, category, statuses[status_id])
        (open_tickets if is_open else earlier).append(row)
    return open_tickets, earlier


def see_all_url(name: str, pk: int) -> str:
    """The queue narrowed to one requester's or organization's tickets, whatever their status."""
    return f"{reverse('web:home')}?status={STATUS_ANY}&{name}={pk}"


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    # One query for the requester, the organization and how many tickets each has that this
    # agent may see (the page's, `PageReads.requester`); the header reads them too.
    reads = page_reads(shared, request, ticket)
    requester = reads.requester
    open_tickets, earlier_tickets = _tickets(request, ticket, reads)
    return {
        "requester": requester,
        "requester_language": dict(settings.LANGUAGES).get(requester.language, requester.language),
        "customer_org": ticket.organization,
        "open_tickets": open_tickets,
        "earlier_tickets": earlier_tickets,
        "contact_form": ContactForm(contact=requester) if shared["may_edit"] else None,
        "requester_total": requester.requester_total,  # type: ignore[attr-defined]
        "requester_all_url": see_all_url("requester", requester.pk),
        "organization_total": getattr(requester, "organization_total", 0),
        "organization_all_url": see_all_url("organization", ticket.organization_id)
        if ticket.organization_id is not None
        else None,
        "counts_scoped": getattr(request.user, "role", None) != Role.ADMIN,
        "ratings": panel_ratings(ticket=ticket, user=request.user),  # type: ignore[arg-type]
    }
