"""Ticket page writes: the requester's details, through `contacts.services.contact_update`
(light agents read customers but do not change them: the service refuses, the form says so)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from sportello.contacts.models import Contact
from sportello.contacts.services import contact_update
from sportello.core import clock
from sportello.core.errors import DomainError

from ..customer_form import ContactForm
from ..errors import attach_error
from ..shell import agent_required
from ..ticket_page import changed, refused, ticket_for

TEMPLATE = "web/ticket/_customer.html"


@agent_required
@require_POST
def ticket_contact(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    contact = Contact.objects.get(pk=ticket.requester_id)
    form = ContactForm(request.POST, contact=contact)
    status = 422
    if form.is_valid():
        try:
            contact_update(contact=contact, actor=request.user, **form.changes())  # type: ignore[arg-type]
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            return changed(request, ticket.pk, now=now)
    return refused(
        request,
        ticket,
        now=now,
        template=TEMPLATE,
        partial="contact_form",
        status=status,
        contact_form=form,
        contact_form_open=True,
    )
