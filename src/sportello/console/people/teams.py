"""The Console's teams: the list (each with its department and members), creating one, and
editing its name and members (a team's department never changes; only that department's agents
can be members)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.accounts import selectors, services
from sportello.accounts.models import Team
from sportello.core.errors import Conflict, DomainError, NotFound

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


def _team_initial(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "members": [m.pk for m in team.members.all()],
        "seen": services.team_fingerprint(team),
    }


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, team_id: int) -> HttpResponseBase:
    team = _team(request, team_id)
    initial = _team_initial(team)
    form = TeamForm(
        request.POST if request.method == "POST" else None, initial=initial, department=team.department
    )
    status = 200
    changed: list[tuple[Any, Any]] = []
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.team_update(
                    team=team,
                    actor=_me(request),
                    name=data["name"],
                    members=data["members"],
                    expected=data.get("seen") or None,
                )
            except Conflict as exc:
                if exc.code != "stale":
                    _attach(form, exc)
                else:
                    form, changed = _stale_team(request, team_id)
                    status = 409
            except DomainError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("Team “%(name)s” saved.") % {"name": team.name})
                return redirect("console:teams")
    context = {"section": "teams", "form": form, "team": team, "changed": changed}
    return _render(request, "console/people/team_form.html", context, status=status)


def _team(request: HttpRequest, team_id: int) -> Team:
    try:
        return selectors.team_get(user=_me(request), team_id=team_id)
    except NotFound:
        raise Http404 from None


def _stale_team(request: HttpRequest, team_id: int) -> tuple[TeamForm, list[tuple[Any, Any]]]:
    """Someone saved the team since the form was drawn: the form again with what was typed (kept,
    now carrying the stored fingerprint, so saving again replaces theirs) and what differs from
    it as stored."""
    current = _team(request, team_id)
    saved = _team_initial(current)
    data = request.POST.copy()
    data["seen"] = saved["seen"]
    form = TeamForm(data, initial=saved, department=current.department)
    form.is_valid()
    form.add_error(
        None,
        _(
            "Someone saved this team since you opened it. Your changes are still here; "
            "save again to replace theirs."
        ),
    )
    changed: list[tuple[Any, Any]] = []
    if current.name.strip() != str(data.get("name", "")).strip():
        changed.append((form.fields["name"].label, current.name))
    typed = {str(v) for v in data.getlist("members")}
    if typed != {str(pk) for pk in saved["members"]}:
        names = ", ".join(sorted(m.name or m.email for m in current.members.all()))
        changed.append((form.fields["members"].label, names))
    return form, changed
