"""The Console's teams: the list (each with its department and members), creating one, and
editing its name and members (a team's department never changes; only that department's agents
can be members)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.accounts import selectors, services
from sportello.core.errors import DomainError, NotFound

from ..views import admin_required
from .common import attach as _attach
from .common import me as _me
from .common import page as _render
from .forms import TeamForm


@admin_required
@require_http_methods(["GET"])
def team_list(request: HttpRequest) -> HttpResponse:
    """Every team, by department then name, with its members' names."""
    teams = selectors.team_directory(actor=_me(request))
    return _render(request, "console/people/teams.html", {"section": "teams", "teams": teams})


@admin_required
@require_http_methods(["GET", "POST"])
def team_create(request: HttpRequest) -> HttpResponseBase:
    form = TeamForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                team = services.team_create(
                    name=data["name"],
                    department=data["department"],
                    members=data["members"],
                    actor=_me(request),
                )
            except DomainError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("Team “%(name)s” created.") % {"name": team.name})
                return redirect("console:teams")
        status = 422
    return _render(
        request,
        "console/people/team_form.html",
        {"section": "teams", "form": form, "team": None},
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, team_id: int) -> HttpResponseBase:
    try:
        team = selectors.team_get(user=_me(request), team_id=team_id)
    except NotFound:
        raise Http404 from None
    initial = {"name": team.name, "members": [m.pk for m in team.members.all()]}
    form = TeamForm(
        request.POST if request.method == "POST" else None, initial=initial, department=team.department
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.team_update(
                    team=team, actor=_me(request), name=data["name"], members=data["members"]
                )
            except DomainError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("Team “%(name)s” saved.") % {"name": team.name})
                return redirect("console:teams")
        status = 422
    context = {"section": "teams", "form": form, "team": team}
    return _render(request, "console/people/team_form.html", context, status=status)
