"""Ticket page writes: properties. `ticket_properties` saves the form; `properties_form`
draws it again for a department the agent picked, before saving (its layout, teams, agents)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import DomainError, ValidationFailed
from sportello.core.http import HtmxRequest
from sportello.tickets import permissions, services

from ..errors import CUSTOM_PREFIX, attach_error, error_message
from ..properties_form import TicketPropertiesForm, custom_name
from ..shell import agent_required
from ..ticket_page import submitted, ticket_for

TEMPLATE = "web/ticket/_properties.html"


def _attach(form: TicketPropertiesForm, exc: DomainError) -> int:
    """A custom field's error goes next to that field, naming it; the rest as elsewhere."""
    where = exc.field or ""
    name = custom_name(where.removeprefix(CUSTOM_PREFIX))
    if isinstance(exc, ValidationFailed) and where.startswith(CUSTOM_PREFIX) and name in form.fields:
        form.add_error(name, error_message(exc))
        return exc.status
    return attach_error(form, exc)


@agent_required
@require_POST
def ticket_properties(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    data = request.POST.copy()
    if "assign_me" in data:
        data["assignee"] = str(request.user.pk)
    form = TicketPropertiesForm(
        data,
        ticket=ticket,
        user=request.user,  # type: ignore[arg-type]
        department_id=_int(data.get("department")),
    )
    return submitted(
        request,
        ticket,
        now=now,
        form=form,
        write=lambda: services.ticket_update(
            principal=request.user,  # type: ignore[arg-type]
            ticket_id=ticket.pk,
            via=Via.WEB,
            data=form.changes(),
            now=now,
        ),
        template=TEMPLATE,
        partial="properties_form",
        again=lambda t: {"properties_form": form},
        attach=_attach,
    )


@agent_required
@require_POST
def properties_form(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The form for the department picked in it, keeping what was typed; nothing is saved."""
    ticket = ticket_for(request, ticket_id)
    if not permissions.can_edit_fields(request.user):  # type: ignore[arg-type]
        return HttpResponse(status=403)
    form = TicketPropertiesForm.redrawn(request.POST, ticket=ticket, user=request.user)  # type: ignore[arg-type]
    return render(request, f"{TEMPLATE}#properties_form", {"ticket": ticket, "properties_form": form})


def _int(raw: str | None) -> int | None:
    try:
        return int(raw or "")
    except ValueError:
        return None
