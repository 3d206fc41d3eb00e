"""Ticket page writes: composer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from sportello.accounts.models import User
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import DomainError
from sportello.tickets import permissions, services

from ..errors import attach_error
from ..forms import ReplyForm
from ..shell import agent_required
from ..ticket_page import changed, refused, ticket_for

TEMPLATE = "web/ticket/_composer.html"


@agent_required
@require_POST
def ticket_reply(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    form = ReplyForm(request.POST, may_reply_publicly=permissions.can_edit_fields(user))
    status = 422
    if form.is_valid():
        try:
            services.message_add(
                principal=user,
                ticket_id=ticket.pk,
                via=Via.WEB,
                body=form.cleaned_data["body"],
                body_html="",
                public=form.public,
                attachment_ids=[],
                version=None,
                now=now,
            )
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            return changed(request, ticket.pk, now=now)
    return refused(
        request, ticket, now=now, template=TEMPLATE, partial="reply_form", status=status, reply_form=form
    )
