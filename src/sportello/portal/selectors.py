"""The customer portal's reads, all in the signed-in contact's scope: their own tickets and,
for a designated contact of an organization, the organization's. A ticket or file outside the
scope is reported exactly like a missing one (NotFound)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.db.models import Prefetch, Q, QuerySet

from sportello.accounts.models import Department
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound
from sportello.tickets.models import Attachment, CustomerAccess, LayoutField, Message, StatusCategory, Ticket

from .models import DesignatedContact, HiddenDepartment

Scope = Literal["mine", "organization"]
MAX_TICKETS = 200  # a customer's list shows their latest 200 requests


def contact_for_session(contact_id: object) -> Contact | None:
    """The contact a session names, if it still exists."""
    if not isinstance(contact_id, int):
        return None
    return Contact.objects.select_related("organization").filter(pk=contact_id).first()


def is_designated(*, contact: Contact) -> bool:
    """Whether the contact is a designated contact of the organization they belong to now."""
    return (
        contact.organization_id is not None
        and DesignatedContact.objects.filter(
            contact_id=contact.pk, organization_id=contact.organization_id
        ).exists()
    )


def designated_scope(contact: Contact) -> Q:
    """The organization's tickets, for its designated contact (registered with
    `tickets.permissions` as a contact scope): a subquery, no statement of its own."""
    if contact.organization_id is None:
        return Q(pk__in=[])
    return Q(
        organization_id=contact.organization_id,
        organization_id__in=DesignatedContact.objects.filter(
            contact_id=contact.pk, organization_id=contact.organization_id
        ).values("organization_id"),
    )


def may_act(*, contact: Contact, ticket: Ticket, designated: bool) -> bool:
    """Whether the contact may answer, close and reopen the ticket: its requester, or a
    designated contact of the ticket's organization."""
    if ticket.requester_id == contact.pk:
        return True
    return (
        designated
        and contact.organization_id is not None
        and ticket.organization_id == contact.organization_id
    )


def _scope(contact: Contact, *, designated: bool) -> Q:
    if designated and contact.organization_id is not None:
        return Q(requester_id=contact.pk) | Q(organization_id=contact.organization_id)
    return Q(requester_id=contact.pk)


@dataclass(frozen=True, slots=True)
class TicketRow:
    number: int
    subject: str
    category: str
    updated_at: object
    requester: str
    mine: bool


def ticket_rows(*, contact: Contact, scope: Scope = "mine", designated: bool = False) -> list[TicketRow]:
    """The contact's requests (or, for a designated contact, their organization's): unresolved
    first, then solved and closed, latest change first within each. One statement."""
    if scope == "organization" and designated and contact.organization_id is not None:
        q = Q(organization_id=contact.organization_id)
    else:
        q = Q(requester_id=contact.pk)
    rows = (
        Ticket.objects.filter(q)
        .select_related("requester")
        .only(
            "number",
            "subject",
            "status_category",
            "updated_at",
            "requester_id",
            "requester__name",
            "requester__email",
            "requester__phone",
        )
        .order_by("-updated_at", "-id")[:MAX_TICKETS]
    )
    resolved = (StatusCategory.SOLVED, StatusCategory.CLOSED)
    out = [
        TicketRow(
            number=t.number,
            subject=t.subject,
            category=t.status_category,
            updated_at=t.updated_at,
            requester=str(t.requester),
            mine=t.requester_id == contact.pk,
        )
        for t in rows
    ]
    return sorted(out, key=lambda r: r.category in resolved)  # stable: keeps the order within


def ticket_get(*, contact: Contact, number: int, designated: bool = False) -> Ticket:
    """A ticket the contact may read, by its number."""
    try:
        return (
            Ticket.objects.filter(_scope(contact, designated=designated), number=number)
            .select_related("department", "requester")
            .get()
        )
    except (Ticket.DoesNotExist, ValueError, OverflowError):
        raise NotFound("ticket not found") from None


def conversation(*, ticket: Ticket) -> QuerySet[Message]:
    """The ticket's public messages with their authors and files — never internal notes."""
    return (
        Message.objects.filter(ticket=ticket, public=True)
        .select_related("author_agent", "author_contact")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id")))
        .order_by("created_at", "id")
    )


def attachment_get(
    *, contact: Contact, number: int, attachment_id: int, designated: bool = False
) -> Attachment:
    """A file of a public message of a ticket the contact may read (NotFound otherwise)."""
    ticket = ticket_get(contact=contact, number=number, designated=designated)
    try:
        return Attachment.objects.get(pk=attachment_id, ticket=ticket, message__public=True)
    except (Attachment.DoesNotExist, ValueError, OverflowError):
        raise NotFound("attachment not found") from None


def portal_departments() -> list[Department]:
    """The departments customers may write to: the active ones offered in the portal."""
    return list(
        Department.objects.filter(is_active=True)
        .exclude(pk__in=HiddenDepartment.objects.values("department_id"))
        .order_by("name")
    )


def hidden_department_ids() -> set[int]:
    """The departments not offered in the portal."""
    return set(HiddenDepartment.objects.values_list("department_id", flat=True))


def customer_layout(*, department_id: int) -> list[LayoutField]:
    """The rows of a department's layout that customers fill, in order."""
    from sportello.tickets.selectors import department_layouts

    rows = department_layouts(department_ids=[department_id]).get(department_id, [])
    return [r for r in rows if r.customer_access == CustomerAccess.EDIT]


def customer_readable(*, ticket: Ticket) -> list[tuple[str, object]]:
    """The ticket's field values its customer may see (label, value), in layout order."""
    from sportello.tickets.selectors import customer_custom_fields, department_layouts

    layouts = department_layouts(department_ids=[ticket.department_id])
    values = customer_custom_fields(ticket=ticket, layouts=layouts)
    out: list[tuple[str, object]] = []
    for row in layouts.get(ticket.department_id, []):
        if row.field.key in values and values[row.field.key] not in (None, "", []):
            value = values[row.field.key]
            labels = {o["value"]: o.get("label") or o["value"] for o in row.field.options or []}
            if isinstance(value, list):
                value = ", ".join(str(labels.get(v, v)) for v in value)
            elif isinstance(value, str):
                value = labels.get(value, value)
            out.append((row.field.label, value))
    return out
