"""The Console's blueprints: the list, the editor (states, transitions, owners, mandatory fields,
time limits, the conditions it applies to) with its flowchart redrawn from the draft on every
change, and a blueprint's dashboard. Saves go through `blueprints.services.blueprint_save`, with
the version the editor started from (a save made meanwhile is reported, what was typed kept)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.accounts import selectors as accounts
from sportello.accounts.models import Role
from sportello.blueprints import selectors, services
from sportello.blueprints.services import StaleBlueprint
from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import definition_diff
from sportello.engine import blueprints as engine
from sportello.engine.blueprint_svg import render_svg
from sportello.engine.rules import format_duration
from sportello.tickets.fields_services import custom_field_list
from sportello.tickets.models import Status

from ..views import admin_required, current_admin, render_console
from . import draft as drafts
from .draft import Draft

SECTION = "blueprints"
# The standard fields a transition may ask for (the status it sets itself).
STANDARD_FIELDS = (
    ("ticket.subject", gettext_lazy("Subject")),
    ("ticket.priority", gettext_lazy("Priority")),
    ("ticket.team", gettext_lazy("Team")),
    ("ticket.assignee", gettext_lazy("Assignee")),
    ("ticket.due_at", gettext_lazy("Due date")),
)
ROLE_LABELS = {"admin": gettext_lazy("Admins"), "agent": gettext_lazy("Agents")}
NOTE_LABELS = {
    "": gettext_lazy("Not asked"),
    "optional": gettext_lazy("Optional"),
    "required": gettext_lazy("Required"),
}


# -- the list ------------------------------------------------------------------------------------


@admin_required
@require_GET
def blueprint_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.blueprint_summaries(principal=current_admin(request))
    return render_console(
        request,
        "console/blueprints/list.html",
        {"section": SECTION, "rows": rows, "now": clock.now()},
    )


# -- the editor ----------------------------------------------------------------------------------


def _choices(request: HttpRequest) -> dict[str, Any]:
    """What the editor's pickers offer: departments, statuses, agents, teams, fields."""
    me = current_admin(request)
    return {
        "departments": list(accounts.department_list(user=me, is_active=True)),
        "statuses": list(Status.objects.filter(is_active=True).order_by("position", "id")),
        "agents": [
            a for a in accounts.agent_list(user=me, is_active=True) if a.role in (Role.ADMIN, Role.AGENT)
        ],
        "teams": list(accounts.team_list(user=me)),
        "input_fields": _input_fields(request),
        "role_choices": [(k, str(v)) for k, v in ROLE_LABELS.items()],
        "note_choices": [(k, str(v)) for k, v in NOTE_LABELS.items()],
    }


def _input_fields(request: HttpRequest) -> list[tuple[str, str]]:
    return [(path, str(label)) for path, label in STANDARD_FIELDS] + [
        (f"ticket.custom.{f.key}", f.label)
        for f in custom_field_list(user=current_admin(request), is_active=True)
    ]


def _check(request: HttpRequest, draft: Draft, *, place: bool = True) -> engine.Blueprint | None:
    """The draft validated as a save would: the parsed blueprint, or None with its problem in
    `draft.problems` (and, with `place`, next to the field it names)."""
    try:
        definition = draft.definition()
    except ValueError as exc:
        draft.problem("entry", _("This condition is not valid YAML: %(error)s") % {"error": exc}, place=place)
        return None
    try:
        return services.blueprint_check(definition=definition, actor=current_admin(request))
    except ValidationFailed as exc:
        draft.problem(exc.field, exc.message, place=place)
        return None


def _preview(bp: engine.Blueprint | None, labels: dict[str, str]) -> dict[str, Any]:
    """The flowchart (inline SVG, without its XML declaration), its text form and the YAML;
    `labels`: the names of fields and statuses, by path and key."""
    if bp is None:
        return {"chart": None}
    svg = render_svg(bp).split("\n", 1)[1]
    names = {s.key: s.name for s in bp.states}
    return {
        "chart": svg,
        "chart_states": [
            {
                "name": s.name,
                "status": labels.get(s.status, s.status),
                "initial": s.key in bp.initial,
                "terminal": s.terminal,
                "limit": format_duration(s.time_limit) if s.time_limit is not None else "",
            }
            for s in bp.states
        ],
        "chart_transitions": [
            {
                "name": t.name,
                "from": None if t.from_states is None else [names.get(k, k) for k in t.from_states],
                "to": names.get(t.to, t.to),
                "fields": [labels.get(f.field, f.field) for f in t.during.fields if f.required],
            }
            for t in bp.transitions
        ],
        "yaml": services.blueprints_dump(
            {"schema": services.SCHEMA, "blueprints": [services.definitions.normalised(bp)]}
        ),
    }


def _editor(
    request: HttpRequest,
    draft: Draft,
    *,
    status: int = 200,
    stale: dict[str, Any] | None = None,
    place: bool = True,
) -> HttpResponse:
    bp = None if draft.problems else _check(request, draft, place=place)
    choices = _choices(request)
    keys = draft.state_keys()
    labels = {**dict(choices["input_fields"]), **{st.key: st.name for st in choices["statuses"]}}
    context = {
        "section": SECTION,
        "draft": draft,
        "state_refs": [(f"s{i}", s.name or keys[i]) for i, s in enumerate(draft.states)],
        "stale": stale,
        **choices,
        **_preview(bp, labels),
    }
    return render_console(request, "console/blueprints/editor.html", context, status=status)


def _current(request: HttpRequest, key: str) -> tuple[Any, Any]:
    try:
        version = selectors.blueprint_version_get(principal=current_admin(request), key=key)
    except NotFound:
        raise Http404 from None
    return version.blueprint, version


def _act(request: HttpRequest, draft: Draft) -> HttpResponse | None:
    """A structural change asked by a button of the form (add or remove a row): the editor
    again with it made; None when the button was Save."""
    action = request.POST.get("action", "save")
    if action == "add-state":
        draft.states.append(drafts.StateRow(status="open"))
    elif action == "add-transition":
        draft.transitions.append(drafts.TransitionRow())
    elif action.startswith("remove-state-") and action[13:].isdigit():
        drafts.remove_state(draft, int(action[13:]))
    elif action.startswith("remove-transition-") and action[18:].isdigit():
        index = int(action[18:])
        if index < len(draft.transitions):
            del draft.transitions[index]
    else:
        return None
    return _editor(request, draft, place=False)


def _save(request: HttpRequest, draft: Draft) -> HttpResponse:
    bp = _check(request, draft)
    if bp is None:
        return _editor(request, draft, status=422)
    me = current_admin(request)
    try:
        row, written = services.blueprint_save(
            definition=draft.definition(), actor=me, now=clock.now(), expected_version=draft.version
        )
    except StaleBlueprint as exc:
        if exc.expected == 0:
            draft.errors["key"] = _("A blueprint with this key exists already: choose another key.")
            return _editor(request, draft, status=409)
        return _stale(request, draft, exc)
    except ValidationFailed as exc:
        draft.problem(exc.field, exc.message)
        return _editor(request, draft, status=422)
    except Conflict:
        draft.errors["key"] = _("A blueprint with this key was saved at the same time: choose another key.")
        return _editor(request, draft, status=409)
    if written:
        messages.success(request, _("Blueprint “%(name)s” saved as version %(version)s.") % {
            "name": row.name, "version": row.version})  # fmt: skip
    else:
        messages.success(request, _("Nothing changed: “%(name)s” stays at version %(version)s.") % {
            "name": row.name, "version": row.version})  # fmt: skip
    return redirect("console:blueprint_edit", key=row.key)


def _stale(request: HttpRequest, draft: Draft, exc: StaleBlueprint) -> HttpResponse:
    """Someone saved meanwhile: the draft as typed, what their save changed (paths of the
    definition between the version the editor started from and the current one), and the
    editor now based on the current version, so that saving again replaces it."""
    me = current_admin(request)
    try:
        then = selectors.blueprint_version_get(principal=me, key=draft.key, version=exc.expected).definition
        now_ = selectors.blueprint_version_get(principal=me, key=draft.key).definition
        changes = [c.path for c in definition_diff(then, now_)][:20]
    except NotFound:
        changes = []
    stale = {"expected": exc.expected, "current": exc.current, "changes": changes}
    draft.version = exc.current
    return _editor(request, draft, status=409, stale=stale)


@admin_required
@require_http_methods(["GET", "POST"])
def blueprint_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _editor(request, drafts.starter(request.GET.get("department", "")), place=False)
    draft = drafts.from_post(request.POST)
    draft.version = 0
    return _act(request, draft) or _save(request, draft)


@admin_required
@require_http_methods(["GET", "POST"])
def blueprint_edit(request: HttpRequest, key: str) -> HttpResponse:
    row, version = _current(request, key)
    if request.method != "POST":
        return _editor(request, drafts.from_definition(version.definition, version=row.version), place=False)
    draft = drafts.from_post(request.POST)
    draft.key = row.key  # keys do not change
    if not draft.version:
        draft.version = row.version
    return _act(request, draft) or _save(request, draft)


@admin_required
@require_POST
def blueprint_preview(request: HttpRequest) -> HttpResponse:
    """The flowchart of the posted draft (HTMX, on every change of the editor), or its errors."""
    draft = drafts.from_post(request.POST)
    bp = _check(request, draft, place=False)
    labels = {**dict(_input_fields(request)), **dict(Status.objects.values_list("key", "name"))}
    context = {"draft": draft, **_preview(bp, labels)}
    return render_console(request, "console/blueprints/_preview.html", context)


def _span(span: timedelta | None, now: datetime) -> str | None:
    """A duration in words, two units at most ("2 days, 4 hours")."""
    return None if span is None else timesince(now - span, now, depth=2)


# -- the dashboard -------------------------------------------------------------------------------


@admin_required
@require_GET
def blueprint_dashboard(request: HttpRequest, key: str) -> HttpResponse:
    """The blueprint's figures over its whole log (`selectors.blueprint_metrics`): tickets in
    each state now, those over their state's limit, average time per state, completions."""
    now = clock.now()
    period = selectors.Period.of(start=None, end=None, now=now)
    try:
        row, m = selectors.blueprint_metrics(principal=current_admin(request), key=key, period=period)
        version = selectors.blueprint_version_get(principal=current_admin(request), key=key)
    except NotFound:
        raise Http404 from None
    bp = selectors.parsed_version(version).blueprint
    overdue: dict[str, int] = {}
    for o in m.overdue:
        overdue[o.state] = overdue.get(o.state, 0) + 1
    states = [
        {
            "name": s.name,
            "terminal": s.terminal,
            "active": m.active_per_state.get(s.key, 0),
            "overdue": overdue.get(s.key, 0),
            "limit": format_duration(s.time_limit) if s.time_limit is not None else "",
            "average": _span(m.average_per_state.get(s.key), now),
        }
        for s in bp.states
        if not s.terminal
    ]
    names = {t.key: t.name for t in bp.transitions}
    names_of_states = {s.key: s.name for s in bp.states}
    context = {
        "section": SECTION,
        "blueprint": row,
        "m": m,
        "states": states,
        "average_completion": _span(m.average_completion, now),
        "overdue": [
            {
                "ticket": o.ticket,
                "state": names_of_states.get(o.state, o.state),
                "over_by": _span(o.over_by, now),
            }
            for o in m.overdue[:50]
        ],
        "transitions": [(names.get(k, k), n) for k, n in m.transition_counts],
        "now": now,
    }
    return render_console(request, "console/blueprints/dashboard.html", context)
