"""Permission-scoped reads of tickets. A ticket the principal may not see is reported exactly
like a missing one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact

from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound
from sportello.engine import fields as cf

from . import permissions
from .configuration import configuration
from .models import Attachment, LayoutField, Message, Ticket, TicketEvent, TicketTag

Principal = User | Contact


def ticket_scope(*, principal: Principal) -> Q:
    """The filter that limits tickets to what `principal` may read."""
    if isinstance(principal, Contact):
        return permissions.contact_scope(principal)
    if not principal.is_active:
        return Q(pk__in=[])
    if principal.role == Role.ADMIN:
        return Q()
    return Q(department__agents=principal)


def ticket_list(*, principal: Principal) -> QuerySet[Ticket]:
    qs = Ticket.objects.filter(ticket_scope(principal=principal))
    return qs.select_related("status").prefetch_related(
        Prefetch("tags", queryset=TicketTag.objects.order_by("name"))
    )


@dataclass(frozen=True, slots=True)
class TicketQuery:
    """What a ticket list asks for; every edge (API, agent UI, saved views) builds one of these
    from its own input and validates that input itself. Empty tuples and None mean "any"."""

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    department_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    requester_id: int | None = None
    organization_id: int | None = None
    tag: str | None = None
    custom_field: tuple[str, str] | None = None  # (key, value), compared as text
    updated_since: datetime | None = None


def ticket_query(*, principal: Principal, query: TicketQuery) -> QuerySet[Ticket]:
    """The tickets `principal` may read that match `query`, ready to sort and page."""
    qs = ticket_list(principal=principal)
    if query.statuses:
        qs = qs.filter(status__key__in=query.statuses)
    if query.categories:
        qs = qs.filter(status_category__in=query.categories)
    if query.priorities:
        qs = qs.filter(priority__in=query.priorities)
    exact = {
        "department_id": query.department_id,
        "team_id": query.team_id,
        "assignee_id": query.assignee_id,
        "requester_id": query.requester_id,
        "organization_id": query.organization_id,
    }
    qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
    if query.unassigned:
        qs = qs.filter(assignee__isnull=True)
    if query.tag:
        qs = qs.filter(tags__name=query.tag)
    if query.custom_field is not None:
        key, value = query.custom_field
        # One JSON key, compared as text: `__` in a key must not become a path or a lookup.
        qs = qs.filter(Exact(KeyTextTransform(key, "custom_fields"), value))
    if query.updated_since is not None:
        qs = qs.filter(updated_at__gte=query.updated_since)
    return qs


def ticket_get_for(*, principal: Principal, ticket_id: int) -> Ticket:
    try:
        return ticket_list(principal=principal).get(pk=ticket_id)
    except (Ticket.DoesNotExist, ValueError, OverflowError):
        raise NotFound("ticket not found") from None


def ticket_visible_ids(*, principal: Principal, ids: list[int]) -> set[int]:
    return set(
        Ticket.objects.filter(ticket_scope(principal=principal), pk__in=ids).values_list("pk", flat=True)
    )


def message_list(*, principal: Principal, ticket: Ticket) -> QuerySet[Message]:
    qs = Message.objects.filter(ticket=ticket).select_related("author_agent", "author_contact")
    if isinstance(principal, Contact):
        qs = qs.filter(public=True)
    return qs.prefetch_related("attachments")


def event_list(*, principal: Principal, ticket: Ticket) -> QuerySet[TicketEvent]:
    if isinstance(principal, Contact):
        raise NotFound("ticket not found")
    return TicketEvent.objects.filter(ticket=ticket)


def attachment_list(*, principal: Principal, ticket: Ticket) -> QuerySet[Attachment]:
    qs = Attachment.objects.filter(ticket=ticket)
    if isinstance(principal, Contact):
        qs = qs.filter(Q(message__public=True))
    return qs


def attachment_get_for(*, principal: Principal, attachment_id: int) -> Attachment:
    try:
        att = Attachment.objects.select_related("message").get(pk=attachment_id)
    except (Attachment.DoesNotExist, ValueError, OverflowError):
        raise NotFound("attachment not found") from None
    visible = Ticket.objects.filter(ticket_scope(principal=principal), pk=att.ticket_id).exists()
    if not visible or (isinstance(principal, Contact) and (att.message is None or not att.message.public)):
        raise NotFound("attachment not found")
    return att


def department_layouts(*, department_ids: Iterable[int]) -> dict[int, list[LayoutField]]:
    """The active rows of these departments' layouts, by department, in layout order, from the
    per-process configuration (`tickets.configuration`)."""
    found = configuration()
    return {d: list(rows) for d in set(department_ids) if (rows := found.layout(d))}


def ticket_fields_to_fill(
    *, ticket: Ticket, layouts: dict[int, list[LayoutField]] | None = None
) -> list[LayoutField]:
    """The rows of the ticket's department layout that agents must still fill before they solve
    it (required to solve, or on every change) and that the ticket leaves empty — a ticket that
    came by mail, where the customer could not fill them. `layouts`: from `department_layouts`
    when the caller read them already; else one query."""
    if layouts is None:
        layouts = department_layouts(department_ids=[ticket.department_id])
    rows = layouts.get(ticket.department_id, [])
    layout = {r.field.key: cf.LayoutRule(required=r.required) for r in rows}
    keys = set(cf.agent_missing(layout=layout, values=ticket.custom_fields or {}))
    return [r for r in rows if r.field.key in keys]


def customer_custom_fields(
    *, ticket: Ticket, layouts: dict[int, list[LayoutField]] | None = None, memo: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ticket's custom-field values its customer may see: those of its department's layout
    whose field is not hidden from customers (`LayoutField.customer_access`). `layouts`: from
    `department_layouts` when the caller read them already; else from the per-process
    configuration (no statement for a ticket without values)."""
    values = ticket.custom_fields or {}
    if not values:
        return {}
    if layouts is None:
        rows = list(configuration(memo).layout(ticket.department_id))
    else:
        rows = layouts.get(ticket.department_id, [])
    layout = {r.field.key: cf.LayoutRule(customer_access=r.customer_access) for r in rows}
    return cf.customer_visible(layout=layout, values=values)


def ticket_custom_fields_for(
    *, principal: Principal, ticket: Ticket, layouts: dict[int, list[LayoutField]] | None = None
) -> dict[str, Any]:
    """The ticket's custom-field values as `principal` may read them: agents every value; the
    ticket's customer only those of fields not hidden from customers (`customer_custom_fields`)."""
    if isinstance(principal, Contact):
        return customer_custom_fields(ticket=ticket, layouts=layouts)
    return dict(ticket.custom_fields or {})
