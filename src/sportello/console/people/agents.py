"""The Console's agents: the list (filtered by state, role and department), inviting one by
e-mail, sending a new invitation, editing name, role and departments, deactivating (their open
tickets go back to assignment) and reactivating. Each view parses, calls one service or selector
and renders; errors land next to the field they concern, in the admin's language."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_http_methods, require_POST

from sportello.accounts import selectors, services
from sportello.accounts.models import Role, User
from sportello.accounts.selectors import AgentState
from sportello.core import clock, paging
from sportello.core.actors import Via
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from sportello.notifications import invites
from sportello.tickets import services as tickets

from ..views import admin_required
from .common import attach as _attach
from .common import error_text
from .common import int_or_none as _int_or_none
from .common import me as _me
from .common import page as _render
from .forms import ROLE_CHOICES, AgentForm, InviteForm

PAGE_SIZE = 100
AGENT_KEYS = [paging.SortKey("name", kind="str"), paging.SortKey("id")]


def _agent(request: HttpRequest, agent_id: int) -> User:
    try:
        return selectors.agent_get_any(actor=_me(request), agent_id=agent_id)
    except NotFound:
        raise Http404 from None


def state_of(agent: User) -> str:
    if agent.is_active:
        return AgentState.ACTIVE.value
    return AgentState.INVITED.value if agent.invited_at is not None else AgentState.DEACTIVATED.value


def _states() -> list[tuple[str, str]]:
    return [
        (AgentState.ALL.value, pgettext("agents", "All")),
        (AgentState.ACTIVE.value, pgettext("agents", "Active")),
        (AgentState.INVITED.value, pgettext("agents", "Invited")),
        (AgentState.DEACTIVATED.value, pgettext("agents", "Deactivated")),
    ]


@admin_required
@require_http_methods(["GET"])
def agent_list(request: HttpRequest) -> HttpResponse:
    """Every agent, by name, PAGE_SIZE a page: `state` (all, the default; active; invited;
    deactivated), `role` and `department` narrow it, all in the address."""
    me = _me(request)
    try:
        state = AgentState(request.GET.get("state") or AgentState.ALL)
    except ValueError:
        state = AgentState.ALL
    role = request.GET.get("role") or None
    role = role if role in Role.values else None
    department_id = _int_or_none(request.GET.get("department"))
    cursor = request.GET.get("cursor") or None
    qs = selectors.agent_directory(actor=me, state=state, role=role, department_id=department_id)
    try:
        rows, next_cursor = paging.paginate(qs, keys=AGENT_KEYS, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        raise BadRequest("invalid cursor") from None
    base = {
        k: v
        for k, v in (("state", state.value), ("role", role), ("department", department_id))
        if v is not None
    }
    here = reverse("console:agents")
    context = {
        "section": "agents",
        "now": clock.now(),
        "agents": [(a, state_of(a)) for a in rows],
        "me": me,
        "departments": list(selectors.department_list(user=me).order_by("name", "pk")),
        "roles": ROLE_CHOICES,
        "states": _states(),
        "state": state.value,
        "role": role,
        "department_id": department_id,
        "filtered": state is not AgentState.ALL or role is not None or department_id is not None,
        "next_url": f"{here}?{urlencode({**base, 'cursor': next_cursor})}" if next_cursor else None,
        "first_url": f"{here}?{urlencode(base)}" if cursor else None,
    }
    return _render(request, "console/people/agents.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def agent_invite(request: HttpRequest) -> HttpResponseBase:
    """GET: the invitation form. POST: the agent created inactive and their invitation mailed;
    back to the list, which shows them invited."""
    form = InviteForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                agent = invites.agent_invite(
                    email=data["email"],
                    name=data["name"],
                    role=data["role"],
                    departments=data["departments"],
                    language=data["language"],
                    actor=_me(request),
                    now=clock.now(),
                )
            except DomainError as exc:
                _attach(form, exc)
            else:
                messages.success(
                    request,
                    _("Invitation sent to %(email)s. The link works for %(hours)s hours.")
                    % {"email": agent.email, "hours": invites.INVITE_HOURS},
                )
                return redirect(reverse("console:agents") + "?state=invited")
        status = 422
    return _render(
        request, "console/people/agent_invite.html", {"section": "agents", "form": form}, status=status
    )


@admin_required
@require_POST
def agent_resend(request: HttpRequest, agent_id: int) -> HttpResponseBase:
    """A new invitation mailed; the earlier link stops working."""
    agent = _agent(request, agent_id)
    try:
        invites.agent_invite_resend(agent=agent, actor=_me(request), now=clock.now())
    except Conflict as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("A new invitation was sent to %(email)s; the earlier link no longer works.")
            % {"email": agent.email},
        )
    return redirect("console:agent", agent_id=agent.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def agent_edit(request: HttpRequest, agent_id: int) -> HttpResponseBase:
    """GET: the agent, their state and what can be done. POST: name, role and departments
    saved (the last admin stays an admin)."""
    agent = _agent(request, agent_id)
    initial = {
        "name": agent.name,
        "role": agent.role,
        "supervisor": agent.supervisor,
        "departments": list(agent.departments.all()),
    }
    form = AgentForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.agent_update(
                    agent=agent,
                    actor=_me(request),
                    name=data["name"],
                    role=data["role"],
                    departments=data["departments"],
                    supervisor=data["supervisor"],
                )
            except DomainError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("%(name)s is saved.") % {"name": data["name"]})
                return redirect("console:agent", agent_id=agent.pk)
        status = 422
    context = {
        "section": "agents",
        "agent": agent,
        "state": state_of(agent),
        "form": form,
        "me": _me(request),
        "now": clock.now(),
    }
    return _render(request, "console/people/agent_edit.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def agent_deactivate(request: HttpRequest, agent_id: int) -> HttpResponseBase:
    """GET: what deactivating means, with how many open tickets go back to assignment. POST:
    deactivate and hand the tickets back; then back to the agent with what was done."""
    agent = _agent(request, agent_id)
    me = _me(request)
    error = None
    if request.method == "POST":
        try:
            agent, handed = tickets.agent_deactivate(agent=agent, actor=me, via=Via.WEB, now=clock.now())
        except Conflict as exc:
            error = error_text(exc)
        else:
            messages.success(
                request,
                ngettext(
                    "%(name)s is deactivated; %(count)s open ticket went back to assignment.",
                    "%(name)s is deactivated; %(count)s open tickets went back to assignment.",
                    handed,
                )
                % {"name": agent.name, "count": handed},
            )
            return redirect("console:agent", agent_id=agent.pk)
    context = {
        "section": "agents",
        "agent": agent,
        "state": state_of(agent),
        "open_tickets": tickets.open_tickets_of(agent=agent),
        "error": error,
        "is_me": agent.pk == me.pk,
    }
    return _render(request, "console/people/agent_deactivate.html", context, status=409 if error else 200)


@admin_required
@require_POST
def agent_reactivate(request: HttpRequest, agent_id: int) -> HttpResponseBase:
    """The agent can sign in again."""
    agent = _agent(request, agent_id)
    services.agent_reactivate(agent=agent, actor=_me(request))
    messages.success(request, _("%(name)s is active again and can sign in.") % {"name": agent.name})
    return redirect("console:agent", agent_id=agent.pk)
