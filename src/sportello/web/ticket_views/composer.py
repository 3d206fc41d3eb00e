"""Ticket page writes: the composer. A reply or note sent with an optional status (one change
through the pipeline), file uploads for it, canned responses rendered for the ticket, macros
previewed then applied, and the follow-up of a closed ticket."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.core.files.uploadhandler import load_handler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from sportello.accounts.models import User
from sportello.automation import macros
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import DomainError, PayloadTooLarge
from sportello.core.http import HtmxRequest
from sportello.notifications.canned import canned_render
from sportello.notifications.selectors import canned_list
from sportello.tickets import attachments, permissions, services
from sportello.tickets.api.attachments import FILE_FIELD, MULTIPART_OVERHEAD, SizeLimitHandler
from sportello.tickets.models import EventKind, TicketEvent

from .. import timeline
from ..composer_forms import FollowUpForm
from ..errors import attach_error, error_message
from ..panels.composer import MODE_KEY, reply_form
from ..shell import agent_required
from ..ticket_page import refused, ticket_context, ticket_for

TEMPLATE = "web/ticket/_composer.html"
MACRO_TEMPLATE = "web/ticket/_macro_preview.html"
PICKERS_TEMPLATE = "web/ticket/_pickers.html"


@agent_required
@require_POST
def ticket_reply(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    """Send a reply or a note, with the split button's status in the same change: a refused
    status writes nothing and the form comes back with what was typed and the error inline."""
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    form = reply_form(request, ticket, may_edit=permissions.can_edit_fields(user), data=request.POST)
    status = 422
    if form.is_valid():
        try:
            services.message_add(
                principal=user,
                ticket_id=ticket.pk,
                via=Via.WEB,
                body=form.cleaned_data["body"],
                body_html=form.body_html,
                public=form.public,
                attachment_ids=form.cleaned_data["attachment_ids"],
                version=None,
                status=form.cleaned_data["status"] or None,
                now=now,
            )
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            # The mode stays the agent's until they change it (a note does not turn public).
            request.session[MODE_KEY] = form.cleaned_data["kind"]
            if not request.htmx:
                return redirect("web:ticket", ticket_id=ticket.pk)
            ticket = ticket_for(request, ticket.pk)
            response = render(request, "web/ticket.html#ticket", ticket_context(request, ticket, now=now))
            response["HX-Trigger"] = "composer:sent"
            return response
    return refused(
        request, ticket, now=now, template=TEMPLATE, partial="reply_form", status=status, reply_form=form
    )


def _upload_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt  # checked below, once the size guard is in place: the token check reads the body
@agent_required
@require_POST
def attachment_upload(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """One file staged on the ticket for the message being written (the API's upload, signed in
    by session): JSON with its id, or an error for the composer to show beside the file. The
    body is read only for a ticket the agent may upload to, through a guard that stops an
    oversized file while it streams in."""
    ticket = ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    limit = attachments.max_bytes()
    try:
        attachments.check_may_upload(principal=user, ticket=ticket)
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except DomainError as exc:
        return _upload_error(error_message(exc), exc.status)
    except ValueError:
        return _upload_error(_("The upload could not be read."), 400)
    if declared > limit + MULTIPART_OVERHEAD:
        return _upload_error(_too_large(limit), 413)
    guard = SizeLimitHandler(request, limit)
    request.upload_handlers = [guard, *(load_handler(h, request) for h in settings.FILE_UPLOAD_HANDLERS)]
    return _upload_checked(request, ticket.pk, guard)


def _too_large(limit: int) -> str:
    return _("The file is larger than %(size)s.") % {"size": filesizeformat(limit)}


@csrf_protect
def _upload_checked(request: HttpRequest, ticket_id: int, guard: SizeLimitHandler) -> HttpResponse:
    limit = attachments.max_bytes()
    try:
        files = request.FILES.getlist(FILE_FIELD)
    except (TooManyFilesSent, RequestDataTooBig, MultiPartParserError, SuspiciousOperation):
        return _upload_error(_("The upload could not be read."), 400)
    if guard.too_large:
        return _upload_error(_too_large(limit), 413)
    if len(files) != 1:
        return _upload_error(_("Send one file at a time."), 400)
    upload = files[0]
    try:
        attachment = attachments.attachment_upload(
            principal=request.user,  # type: ignore[arg-type]
            ticket_id=ticket_id,
            stream=upload,
            filename=upload.name,
            declared_content_type=upload.content_type,
            via=Via.WEB,
            now=clock.now(),
        )
    except PayloadTooLarge:
        return _upload_error(_too_large(limit), 413)
    except DomainError as exc:
        return _upload_error(error_message(exc), exc.status)
    finally:
        upload.close()
    return JsonResponse(
        {"id": attachment.pk, "filename": attachment.filename, "size": attachment.size}, status=201
    )


@agent_required
@require_GET
def canned_picker(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The canned responses picker's list, loaded when the agent first opens it: the agent's own
    and the shared ones they see (light agents write notes only and get none)."""
    ticket = ticket_for(request, ticket_id)
    try:
        found = list(canned_list(principal=request.user))  # type: ignore[arg-type]
    except DomainError as exc:
        return render(request, f"{PICKERS_TEMPLATE}#error", {"error": error_message(exc)}, status=exc.status)
    return render(request, f"{PICKERS_TEMPLATE}#canned", {"ticket": ticket, "canned_responses": found})


@agent_required
@require_GET
def macro_picker(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The macros picker's list, loaded when the agent first opens it: the macros they may use."""
    ticket = ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    found = list(macros.macro_list_for(agent=user))
    return render(request, f"{PICKERS_TEMPLATE}#macros", {"ticket": ticket, "macros": found})


@agent_required
@require_GET
def canned_insert(request: HttpRequest, ticket_id: int, canned_id: int) -> JsonResponse:
    """A canned response's text with its placeholders rendered for this ticket."""
    ticket = ticket_for(request, ticket_id)
    try:
        rendered = canned_render(
            actor=request.user,  # type: ignore[arg-type]
            canned_id=canned_id,
            ticket_id=ticket.pk,
            now=clock.now(),
        )
    except DomainError as exc:
        return JsonResponse({"error": error_message(exc)}, status=exc.status)
    return JsonResponse({"text": rendered.text})


def change_rows(changes: list[Any], user: User) -> list[timeline.EventRow]:
    """A preview's field changes in the words of the history (labels, names, from → to)."""
    at = clock.now()

    def event(c: Any) -> TicketEvent:
        kind = EventKind.TAGS if c.field == "tags" else EventKind.FIELD
        return TicketEvent(
            kind=kind,
            field=c.field,
            old_value=c.old,
            new_value=c.new,
            actor_kind="agent",
            actor_id=user.pk,
            at=at,
        )

    events = [event(c) for c in changes]
    rows: list[timeline.EventRow] = []
    for change in timeline.changes(events):
        rows += change.rows
    return rows


@agent_required
@require_GET
def macro_preview(request: HtmxRequest, ticket_id: int, key: str) -> HttpResponse:
    """What the macro would change on this ticket now (nothing written), with Apply."""
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    context: dict[str, Any] = {"ticket": ticket, "macro_key": key}
    try:
        preview = macros.macro_preview(key=key, ticket_id=ticket.pk, agent=user, now=now)
    except DomainError as exc:
        context["error"] = error_message(exc)
        return render(request, MACRO_TEMPLATE, context, status=200 if request.htmx else exc.status)
    context.update(
        macro=preview.macro,
        version=preview.version,
        rows=change_rows(preview.changes, user),
        message=preview.message,
        effects=len(preview.effects),
    )
    return render(request, MACRO_TEMPLATE, context)


@agent_required
@require_POST
def macro_apply(request: HtmxRequest, ticket_id: int, key: str) -> HttpResponse:
    """Apply the macro as previewed (its `version`): the refreshed ticket, or the refusal in the
    dialog."""
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    try:
        macros.macro_apply(key=key, ticket_id=ticket.pk, agent=user, via=Via.WEB, version=version, now=now)
    except DomainError as exc:
        context = {"ticket": ticket, "macro_key": key, "error": error_message(exc)}
        response = render(request, MACRO_TEMPLATE, context, status=exc.status)
        return reswap(retarget(response, "#macro-preview"), "outerHTML") if request.htmx else response
    if not request.htmx:
        return redirect("web:ticket", ticket_id=ticket.pk)
    ticket = ticket_for(request, ticket.pk)
    response = render(request, "web/ticket.html#ticket", ticket_context(request, ticket, now=now))
    response["HX-Trigger"] = "composer:macro-applied"
    return response


@agent_required
@require_POST
def ticket_followup(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    """Open a follow-up of a closed ticket with the agent's message, then go to it."""
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    form = FollowUpForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            outcome = services.ticket_followup_open(
                principal=request.user,  # type: ignore[arg-type]
                closed_ticket_id=ticket.pk,
                via=Via.WEB,
                body=form.cleaned_data["body"],
                body_html=form.body_html,
                now=now,
            )
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            if request.htmx:
                return HttpResponseClientRedirect(reverse("web:ticket", args=[outcome.ticket.pk]))
            return redirect("web:ticket", ticket_id=outcome.ticket.pk)
    return refused(
        request,
        ticket,
        now=now,
        template=TEMPLATE,
        partial="followup_form",
        status=status,
        followup_form=form,
    )
