"""What a principal may do to a ticket it can already see. Reads are scoped by selectors;
this module answers the write questions, and the pipeline asks them on every mutation.

A customer (a contact) reads and answers the tickets they requested, and those another app grants
them: such an app registers a contact scope (`register_contact_scope`), a function giving the
filter of the further tickets a contact may read and answer (the portal: an organization's
designated contacts, its tickets). The filter is evaluated inside the caller's query (no
statement of its own)."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q

from sportello.accounts import structure
from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import PermissionDenied

from .models import Ticket

ContactScope = Callable[[Contact], Q]
_CONTACT_SCOPES: dict[str, ContactScope] = {}


def register_contact_scope(name: str, scope: ContactScope) -> None:
    """Let contacts read and answer the further tickets `scope(contact)` selects (once per name)."""
    _CONTACT_SCOPES[name] = scope


def contact_scope(contact: Contact) -> Q:
    """The tickets a contact may read and answer: their own, and those granted by a registered
    contact scope."""
    q = Q(requester_id=contact.pk)
    for scope in _CONTACT_SCOPES.values():
        q |= scope(contact)
    return q


def can_edit_fields(principal: User | Contact) -> bool:
    return isinstance(principal, User) and principal.is_active and principal.role in (Role.ADMIN, Role.AGENT)


def check_may_change(
    *,
    principal: User | Contact,
    ticket: Ticket | None,
    fields: bool,
    public_message: bool,
    internal_message: bool,
) -> None:
    """Raise PermissionDenied when `principal` may not make this kind of change."""
    if isinstance(principal, Contact):
        if fields or internal_message:
            raise PermissionDenied("customers can only add replies to their own tickets")
        if (
            ticket is not None
            and ticket.requester_id != principal.pk
            and not Ticket.objects.filter(contact_scope(principal), pk=ticket.pk).exists()
        ):
            raise PermissionDenied("customers can only reply to their own tickets")
        return
    if not principal.is_active:
        raise PermissionDenied("this agent is deactivated")
    if principal.role == Role.LIGHT_AGENT and (fields or public_message):
        raise PermissionDenied("light agents can read tickets and add internal notes only")


def check_may_open_in(*, principal: User | Contact, department_id: int) -> None:
    """Agents open tickets in their own departments; admins anywhere. (A ticket can still be
    transferred to another department afterwards: that is an update, and it is audited.)"""
    if isinstance(principal, Contact) or principal.role == Role.ADMIN:
        return
    if department_id not in structure.departments_of(principal.pk):
        raise PermissionDenied("you can open tickets only in your own departments", field="department")
