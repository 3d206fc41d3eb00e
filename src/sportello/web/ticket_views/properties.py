"""Ticket page writes: properties."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import DomainError
from sportello.tickets import services

from ..errors import attach_error
from ..forms import TicketPropertiesForm
from ..shell import agent_required
from ..ticket_page import changed, refused, ticket_for

TEMPLATE = "web/ticket/_properties.html"


@agent_required
@require_POST
def ticket_properties(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    form = TicketPropertiesForm(request.POST, ticket=ticket)
    status = 422
    if form.is_valid():
        try:
            services.ticket_update(
                principal=request.user,  # type: ignore[arg-type]
                ticket_id=ticket.pk,
                via=Via.WEB,
                data=form.changes(),
                now=now,
            )
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            return changed(request, ticket.pk, now=now)
    return refused(
        request,
        ticket,
        now=now,
        template=TEMPLATE,
        partial="properties_form",
        status=status,
        properties_form=form,
    )
