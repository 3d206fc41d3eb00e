"""Ticket page writes of the workflow panels: perform a blueprint transition, create, complete
and reopen a task, escalate to the next tier; and the blueprint's flowchart with the ticket's
state highlighted. Each write goes through its service with `via=web` and answers through
`changed` (the refreshed ticket) or `refused` (the panel again, the refusal in words)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import User
from sportello.blueprints import selectors as bp_selectors
from sportello.blueprints import services as bp_services
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from sportello.core.http import HtmxRequest
from sportello.engine.blueprint_svg import render_svg
from sportello.sla import tiers
from sportello.ticket_tasks import selectors as task_selectors
from sportello.ticket_tasks import services as task_services
from sportello.tickets import attachments
from sportello.tickets.models import Ticket

from ..errors import attach_error
from ..panels import workflow as panel
from ..shell import agent_required
from ..ticket_page import changed, refused, submitted, ticket_for
from ..workflow_forms import (
    ATTACHMENT,
    EscalateForm,
    TaskForm,
    TransitionForm,
    custom_fields_of,
    transition_problem_message,
)

BLUEPRINT = "web/ticket/_blueprint.html"
TASKS = "web/ticket/_tasks.html"
TIER = "web/ticket/_tier.html"
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-cache",
}


def _agent(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# -- blueprint ---------------------------------------------------------------------------------


def _process(request: HttpRequest, ticket: Ticket) -> bp_selectors.TicketProcess:
    try:
        process = bp_selectors.ticket_process_of(principal=_agent(request), ticket=ticket)
    except (NotFound, PermissionDenied):
        raise Http404 from None
    if process.run is None or process.blueprint is None:
        raise Http404
    return process


def _refusal_on_form(form: TransitionForm, exc: DomainError) -> int:
    """Put a refused transition's problems on its form, each next to the input it names."""
    details = getattr(exc, "details", None)
    if not details:
        if isinstance(exc, Conflict) and exc.code == "transition_not_allowed":
            form.add_error(
                None,
                transition_problem_message(
                    {"code": "not_available"}, form=form, transition=form.transition.name, label=None
                ),
            )
            return exc.status
        return attach_error(form, exc)
    names = {form.api_name(name): name for name in form.fields if name != "version"}
    for problem in details:
        name = names.get(problem.get("field", ""))
        label = str(form.fields[name].label) if name is not None else None
        message = transition_problem_message(problem, form=form, transition=form.transition.name, label=label)
        form.add_error(name, message)
    return exc.status


def _transition_refusal(form: TransitionForm, exc: DomainError) -> int:
    if exc.field == "file":  # the upload itself was refused
        form.add_error(ATTACHMENT, exc.message)
        return exc.status
    return _refusal_on_form(form, exc)


@agent_required
@require_POST
def ticket_transition(request: HtmxRequest, ticket_id: int, transition_key: str) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    process = _process(request, ticket)
    assert process.blueprint is not None
    transition = process.blueprint.transition(transition_key)
    if transition is None:
        raise Http404
    form = TransitionForm(
        request.POST,
        request.FILES,
        transition=transition,
        ticket=process.ticket,
        custom=custom_fields_of([transition]),
    )

    def write() -> None:
        upload = form.cleaned_data.get(ATTACHMENT)
        ids = []
        if upload:
            staged = attachments.attachment_upload(
                principal=_agent(request),
                ticket_id=ticket.pk,
                stream=upload,
                filename=upload.name,
                declared_content_type=upload.content_type,
                via=Via.WEB,
                now=now,
            )
            ids.append(staged.pk)
        bp_services.blueprint_transition(
            actor=_agent(request),
            ticket_id=ticket.pk,
            transition_key=transition.key,
            inputs=form.transition_request(ids),
            expected_version=form.cleaned_data["version"],
            via=Via.WEB,
            now=now,
        )

    def again(current: Ticket) -> dict[str, Any]:
        # The form again, with the ticket's current version: the agent sees the panel as it now is.
        data = request.POST.copy()
        data["version"] = str(current.version)
        form.data = data
        return {"blueprint": panel.blueprint_panel(request, current, now=now, bound=form)}

    return submitted(
        request,
        ticket,
        now=now,
        form=form,
        write=write,
        template=BLUEPRINT,
        partial="blueprint_panel",
        again=again,
        attach=_transition_refusal,
        reload=True,
    )


@agent_required
@require_GET
def ticket_flowchart(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket's blueprint as an SVG flowchart, its current state highlighted."""
    ticket = ticket_for(request, ticket_id)
    process = _process(request, ticket)
    assert process.blueprint is not None
    assert process.run is not None
    current = process.run.state if process.run.active else None
    response = HttpResponse(
        render_svg(process.blueprint, current=current), content_type="image/svg+xml; charset=utf-8"
    )
    for name, value in SVG_HEADERS.items():
        response[name] = value
    return response


# -- tasks -------------------------------------------------------------------------------------


@agent_required
@require_POST
def ticket_task_create(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    form = TaskForm(request.POST, ticket=ticket, me=_agent(request))

    def write() -> None:
        data = form.cleaned_data
        task_services.task_create(
            actor=_agent(request),
            ticket_id=ticket.pk,
            title=data["title"],
            assignee_id=data["assignee"],
            due_at=data.get("due_at"),
            reminders=[data["reminder"]] if data.get("reminder") else [],
            via=Via.WEB,
            now=now,
        )

    return submitted(
        request,
        ticket,
        now=now,
        form=form,
        write=write,
        template=TASKS,
        partial="tasks_panel",
        again=lambda t: {"tasks_panel": panel.tasks_panel(request, t, now=now, form=form)},
        attach=_task_refusal,
    )


def _task_refusal(form: TaskForm, exc: DomainError) -> int:
    aliases = {"assignee_id": "assignee", "reminders": "reminder"}
    if exc.field in aliases or (exc.field or "").startswith("reminders["):
        exc.field = aliases.get(exc.field or "", "reminder")
    return attach_error(form, exc)


def _task_status(request: HtmxRequest, ticket_id: int, task_id: int, *, done: bool) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    me = _agent(request)
    try:
        if task_selectors.task_get(principal=me, task_id=task_id).ticket_id != ticket.pk:
            raise Http404
        write = task_services.task_complete if done else task_services.task_reopen
        task = write(actor=me, task_id=task_id, via=Via.WEB, now=now)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        notice, status = str(exc.message), exc.status
    else:
        if task.updated_at == now:
            return changed(request, ticket.pk, now=now)
        # Someone else got there first: nothing was written; say who did it.
        if done:
            who = task.completed_by.name if task.completed_by is not None else _("someone else")
            notice = _("%(name)s had already completed “%(task)s”.") % {"name": who, "task": task.title}
        else:
            notice = _("“%(task)s” was already open.") % {"task": task.title}
        status = 409
    return refused(
        request,
        ticket,
        now=now,
        template=TASKS,
        partial="tasks_panel",
        status=status,
        tasks_panel=panel.tasks_panel(request, ticket, now=now, notice=notice),
    )


@agent_required
@require_POST
def ticket_task_complete(request: HtmxRequest, ticket_id: int, task_id: int) -> HttpResponse:
    return _task_status(request, ticket_id, task_id, done=True)


@agent_required
@require_POST
def ticket_task_reopen(request: HtmxRequest, ticket_id: int, task_id: int) -> HttpResponse:
    return _task_status(request, ticket_id, task_id, done=False)


# -- tier --------------------------------------------------------------------------------------

TIER_CONFLICTS = {
    "last_tier": lambda: _("The ticket is already at the last tier."),
    "not_above": lambda: _("Choose a tier above the current one."),
    "no_tier_path": lambda: _("This ticket's department has no tier path."),
}


@agent_required
@require_POST
def ticket_escalate(request: HtmxRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = ticket_for(request, ticket_id)
    memo: dict[str, Any] = {}
    found = tiers.ticket_tier(ticket, memo)
    above: list[tuple[str, str]] = []
    if found is not None:
        path, current = found
        above = [(t.key, t.name) for t in path.tiers[path.index(current.key) + 1 :]]
    form = EscalateForm(request.POST, tiers=above)

    def write() -> None:
        tiers.ticket_escalate(
            actor=_agent(request),
            ticket_id=ticket.pk,
            reason=form.cleaned_data["reason"],
            to=form.cleaned_data.get("to") or None,
            via=Via.WEB,
            now=now,
        )

    return submitted(
        request,
        ticket,
        now=now,
        form=form,
        write=write,
        template=TIER,
        partial="tier_panel",
        again=lambda t: {"tier_panel": panel.tier_panel(request, t, memo={}, form=form)},
        attach=_escalation_refusal,
    )


def _escalation_refusal(form: EscalateForm, exc: DomainError) -> int:
    if isinstance(exc, NotFound):
        raise Http404 from None
    if isinstance(exc, Conflict):
        message = TIER_CONFLICTS.get(exc.code)
        form.add_error(None, message() if message else exc.message)
        return exc.status
    return attach_error(form, exc)
