"""Ticket page writes: the requester's details, through `contacts.services.contact_update`
(light agents read customers but do not change them: the service refuses, the form says so)."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from sportello.contacts.models import Contact
from sportello.contacts.services import contact_update
from sportello.core import clock
from sportello.core.http import HtmxRequest

from ..customer_form import ContactForm
from ..shell import agent_required
from ..ticket_page import submitted, ticket_for

TEMPLATE = "web/ticket/_customer.html"


@agent_required
@require_POST
def ticket_contact(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    contact = Contact.objects.get(pk=ticket.requester_id)
    form = ContactForm(request.POST, contact=contact)
    return submitted(
        request,
        ticket,
        now=now,
        form=form,
        write=lambda: contact_update(contact=contact, actor=request.user, **form.changes()),  # type: ignore[arg-type]
        template=TEMPLATE,
        partial="contact_form",
        again=lambda t: {"contact_form": form, "contact_form_open": True},
    )
