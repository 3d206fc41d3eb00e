"""The Console's macros (group Workflows): every macro with who may use it and what it does
(deactivated ones last), a macro's page with a preview on a chosen ticket — what applying it
would change and the reply or note it would add, through `automation.macros.macro_preview` (the
Desk's preview: the same application in a savepoint, rolled back; nothing is written) — and the
editor: name, who may use it, the actions as YAML, "Check" and "Preview on ticket #…" of the
unsaved draft (`macro_check`, `macro_preview_draft`), and a save refused when someone saved
since the editor was opened (its expected version), with the typed text kept and what their
version changed listed. Deactivating and activating keep the history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.accounts.models import Department, Role, Team, User
from sportello.automation import macros, refs
from sportello.automation.models import Macro, MacroVersion, Visibility
from sportello.automation.services import load_rules_text
from sportello.core import clock
from sportello.core.errors import BadRequest, Conflict, DomainError, NotFound, ValidationFailed
from sportello.core.versioning import version_diff
from sportello.tickets.models import Ticket
from sportello.web.ticket_views.composer import change_rows

from . import rule_text
from .views import admin_required, current_admin, render_console

ACTION_LABELS = {
    "set": gettext_lazy("Set a field"),
    "add_tags": gettext_lazy("Add tags"),
    "remove_tags": gettext_lazy("Remove tags"),
    "set_tags": gettext_lazy("Set the tags"),
    "assign": gettext_lazy("Assign"),
    "note": gettext_lazy("Add an internal note"),
    "reply": gettext_lazy("Reply to the customer"),
    "notify": gettext_lazy("Send a notification"),
    "webhook": gettext_lazy("Call a webhook"),
}


def _available_to(macro: Macro) -> str:
    if macro.owner_user is not None:
        return _("Only %(name)s") % {"name": macro.owner_user.name or macro.owner_user.email}
    if macro.owner_team is not None:
        return _("Team %(name)s") % {"name": macro.owner_team.name}
    if macro.owner_department is not None:
        return _("Department %(name)s") % {"name": macro.owner_department.name}
    return _("Everyone")


def _does(definition: dict[str, Any]) -> list[str]:
    names = [next(iter(a)) for a in definition.get("actions", []) if isinstance(a, dict) and a]
    return [str(ACTION_LABELS.get(n, n)) for n in dict.fromkeys(names)]


def _text(definition: dict[str, Any]) -> str | None:
    """The reply or note the macro writes, as saved (its placeholders unfilled)."""
    for action in definition.get("actions", []):
        body = action.get("reply") or action.get("note") if isinstance(action, dict) else None
        if isinstance(body, dict):
            return str(body.get("body", ""))
    return None


def _current(rows: list[Macro]) -> dict[int, dict[str, Any]]:
    """Each macro's current definition, by id (one query)."""
    wanted = {(m.pk, m.version) for m in rows}
    versions = MacroVersion.objects.filter(macro_id__in=[m.pk for m in rows])
    return {v.macro_id: v.definition for v in versions if (v.macro_id, v.version) in wanted}


@admin_required
@require_http_methods(["GET"])
def macro_list(request: HttpRequest) -> HttpResponse:
    current_admin(request)
    rows = list(
        Macro.objects.order_by("-active", "position", "name", "id").select_related(
            "owner_user", "owner_team", "owner_department"
        )
    )
    current = _current(rows) if rows else {}
    items = [
        {"macro": m, "available_to": _available_to(m), "does": _does(current.get(m.pk, {}))} for m in rows
    ]
    return render_console(
        request, "console/macros/list.html", {"section": "macros", "items": items, "now": clock.now()}
    )


@admin_required
@require_http_methods(["GET"])
def macro_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The macro, what it does, and (with `?ticket=<number>`) its preview on that ticket."""
    me = current_admin(request)
    macro = _macro_or_404(key)
    definition = _current([macro]).get(macro.pk, {})
    context: dict[str, Any] = {
        "section": "macros",
        "macro": macro,
        "available_to": _available_to(macro),
        "does": _does(definition),
        "reply": _text(definition),
        "now": clock.now(),
        "number": request.GET.get("ticket", "").strip().lstrip("#"),
    }
    status = 200
    if context["number"]:
        status = _preview(context, macro=macro, user=me)
    return render_console(request, "console/macros/detail.html", context, status=status)


def _macro_or_404(key: str) -> Macro:
    """Any macro, active or not (admins see every macro)."""
    macro = (
        Macro.objects.filter(key=key).select_related("owner_user", "owner_team", "owner_department").first()
    )
    if macro is None:
        raise Http404
    return macro


def ticket_numbered(context: dict[str, Any]) -> Ticket | None:
    """The ticket numbered `context["number"]`, put in the context; else None and the error."""
    try:
        number = int(context["number"])
    except ValueError:
        context["ticket_error"] = _("Type a ticket number, such as 1024.")
        return None
    ticket = Ticket.objects.filter(number=number).only("pk", "number", "subject").first()
    if ticket is None:
        context["ticket_error"] = _("There is no ticket #%(number)s.") % {"number": number}
        return None
    context["ticket"] = ticket
    return ticket


def _preview(context: dict[str, Any], *, macro: Macro, user: Any) -> int:
    """The preview on the ticket numbered `context["number"]` into the context; its status."""
    ticket = ticket_numbered(context)
    if ticket is None:
        return 422
    context["ticket"] = ticket
    if not macro.active:
        context["preview_error"] = _("This macro is deactivated: activate it to preview it.")
        return 200
    try:
        preview = macros.macro_preview(key=macro.key, ticket_id=ticket.pk, agent=user, now=clock.now())
    except DomainError as exc:
        context["preview_error"] = exc.message
        return 200
    context["preview"] = _preview_rows(preview, user)
    return 200


def _preview_rows(preview: macros.MacroPreview, user: Any) -> dict[str, Any]:
    return {
        "rows": change_rows(preview.changes, user),
        "message": preview.message,
        "effects": len(preview.effects),
    }


# --------------------------------------------------------------------------------------------
# The editor

NEW_ACTIONS = """- add_tags: [needs_reply]
- reply:
    body: |
      Hello {{ requester.name }},

      Thank you for writing to us.
"""


class _ActionsDumper(yaml.SafeDumper):
    """Actions as an admin writes them: a mapping of plain values and a list of plain values on
    one line; a text with line breaks as a block."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) and "\n" not in str(v) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_ActionsDumper.add_representer(dict, _represent_dict)
_ActionsDumper.add_representer(list, _represent_list)
_ActionsDumper.add_representer(str, _represent_str)


def _actions_yaml(definition: dict[str, Any]) -> str:
    """The saved actions as YAML, records named by key (departments and teams by slug, agents
    by e-mail), as documents name them."""
    keyed = refs.document_to_keys({"macros": [dict(definition)]})["macros"][0]
    text: str = yaml.dump(
        keyed.get("actions", []), Dumper=_ActionsDumper, sort_keys=False, allow_unicode=True, width=100
    )
    return text


@dataclass(frozen=True, slots=True)
class Owner:
    value: str  # "everyone", "department:3", "team:2", "personal:5"
    label: str


def _owner_choices() -> list[tuple[str, list[Owner]]]:
    """Who may use a macro, grouped: everyone, a department, a team, one agent (three queries)."""
    departments = Department.objects.filter(is_active=True).order_by("name").only("pk", "name")
    teams = Team.objects.order_by("name").only("pk", "name")
    agents = (
        User.objects.filter(is_active=True, role__in=[Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT])
        .order_by("name", "email")
        .only("pk", "name", "email")
    )
    return [
        ("", [Owner("everyone", _("Everyone"))]),
        (_("A department's agents"), [Owner(f"department:{d.pk}", d.name) for d in departments]),
        (_("A team's members"), [Owner(f"team:{t.pk}", t.name) for t in teams]),
        (_("One agent only"), [Owner(f"personal:{u.pk}", u.name or u.email) for u in agents]),
    ]


def _owner_value(macro: Macro) -> str:
    ident = macro.owner_user_id or macro.owner_team_id or macro.owner_department_id
    return "everyone" if macro.visibility == Visibility.EVERYONE else f"{macro.visibility}:{ident}"


@dataclass(slots=True)
class Draft:
    """What the editor's form holds, as a definition, or the errors by field."""

    values: dict[str, str]
    definition: dict[str, Any] | None = None
    errors: dict[str, str] | None = None


def _draft(request: HttpRequest, macro: Macro | None) -> Draft:
    values = {
        "key": macro.key if macro is not None else request.POST.get("key", "").strip(),
        "name": request.POST.get("name", ""),
        "available_to": request.POST.get("available_to", "everyone"),
        "actions": request.POST.get("actions", ""),
    }
    errors: dict[str, str] = {}
    scope, _sep, ident = values["available_to"].partition(":")
    if scope == Visibility.EVERYONE and not ident:
        visibility: dict[str, Any] = {"scope": "everyone", "ids": []}
    elif scope in (Visibility.DEPARTMENT, Visibility.TEAM, Visibility.PERSONAL) and ident.isdecimal():
        visibility = {"scope": scope, "ids": [int(ident)]}
    else:
        errors["available_to"] = _("Choose who may use the macro.")
        visibility = {"scope": "everyone", "ids": []}
    actions: Any = []
    if not values["actions"].strip():
        errors["actions"] = _("Write at least one action, such as “- add_tags: [vip]”.")
    else:
        try:
            actions = load_rules_text(values["actions"])
        except (ValidationFailed, BadRequest) as exc:
            errors["actions"] = rule_text.error(exc)
    if errors:
        return Draft(values=values, errors=errors)
    definition = {"key": values["key"], "name": values["name"], "visibility": visibility, "actions": actions}
    try:
        refs.document_to_ids({"macros": [definition]})
    except ValidationFailed as exc:
        return Draft(values=values, errors=_errors_of(exc))
    return Draft(values=values, definition=definition)


FIELDS = ("key", "name", "available_to", "actions")


def _errors_of(exc: DomainError) -> dict[str, str]:
    """A service's error beside the field it is about (the path kept for the actions)."""
    where = (exc.field or "") if isinstance(exc, ValidationFailed | Conflict) else ""
    where = where.removeprefix("macros[0]").lstrip(".")
    if where.startswith("actions"):
        return {"actions": f"{where}: {exc.message}"}
    if where.startswith("visibility"):
        return {"available_to": str(exc.message)}
    if where in ("key", "name"):
        return {where: str(exc.message)}
    return {"form": f"{where}: {exc.message}" if where else str(exc.message)}


def _editor(
    request: HttpRequest,
    *,
    macro: Macro | None,
    values: dict[str, str],
    version: int,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "section": "macros",
        "now": clock.now(),
        "macro": macro,
        "values": values,
        "version": version,
        "owners": _owner_choices(),
        "placeholder_example": "{{ requester.name }}",
        "errors": {},
        **extra,
    }
    return render_console(request, "console/macros/edit.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def macro_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        values = {"key": "", "name": "", "available_to": "everyone", "actions": NEW_ACTIONS}
        return _editor(request, macro=None, values=values, version=0)
    return _post(request, macro=None)


@admin_required
@require_http_methods(["GET", "POST"])
def macro_edit(request: HttpRequest, key: str) -> HttpResponse:
    macro = _macro_or_404(key)
    if request.method != "POST":
        definition = _current([macro]).get(macro.pk, {})
        values = {
            "key": macro.key,
            "name": macro.name,
            "available_to": _owner_value(macro),
            "actions": _actions_yaml(definition),
        }
        return _editor(request, macro=macro, values=values, version=macro.version)
    return _post(request, macro=macro)


def _posted_version(request: HttpRequest) -> int:
    try:
        return max(0, int(request.POST.get("version") or 0))
    except ValueError:
        return 0


def _post(request: HttpRequest, *, macro: Macro | None) -> HttpResponse:
    """The editor's form: `do=check` checks the draft, `do=preview` previews it on the ticket
    numbered `ticket` (HTMX: the fragment alone; else the editor with it), else saves it."""
    draft = _draft(request, macro)
    version = _posted_version(request)
    do = request.POST.get("do", "save")
    if do in ("check", "preview"):
        context = _try(request, draft, do)
        if request.headers.get("HX-Request"):
            return render_console(request, "console/macros/_try.html", context)
        return _editor(request, macro=macro, values=draft.values, version=version, **context)

    def again(errors: dict[str, str], status: int = 422, **extra: Any) -> HttpResponse:
        return _editor(
            request, macro=macro, values=draft.values, version=version, status=status, errors=errors, **extra
        )

    if draft.definition is None:
        return again(draft.errors or {})
    me, now = current_admin(request), clock.now()
    try:
        if macro is None:
            saved, written = macros.macro_create(definition=draft.definition, actor=me, now=now), True
        elif not macro.active:
            return again({"form": _("This macro is deactivated: activate it before changing it.")})
        else:
            saved, written = macros.macro_update(
                key=macro.key, definition=draft.definition, actor=me, now=now, expected_version=version
            )
    except ValidationFailed as exc:
        return again(_errors_of(exc))
    except NotFound:
        raise Http404 from None
    except Conflict as exc:
        if exc.code == "stale_version" and macro is not None:
            return _stale(request, macro=macro, values=draft.values, version=version)
        return again({"key": _("A macro with this key exists already: choose another key.")}, status=409)
    if written:
        messages.success(
            request,
            _("Macro “%(name)s” saved as version %(version)s.")
            % {"name": saved.name, "version": saved.version},
        )
    else:
        messages.success(
            request,
            _("Nothing changed: macro “%(name)s” stays at version %(version)s.")
            % {"name": saved.name, "version": saved.version},
        )
    return redirect(reverse("console:macro", args=[saved.key]))


def _stale(request: HttpRequest, *, macro: Macro, values: dict[str, str], version: int) -> HttpResponse:
    """Someone saved the macro since this editor loaded it: keep what was typed, say which
    version is current, by whom, and what it changed since the editor's version."""
    macro.refresh_from_db()
    try:
        changes = version_diff(macros.MACROS, key=macro.key, a=version, b=macro.version) if version else []
    except NotFound:
        changes = []
    latest = (
        MacroVersion.objects.filter(macro=macro).select_related("created_by").order_by("-version").first()
    )
    who = (
        (latest.created_by.name or latest.created_by.email) if latest and latest.created_by else _("someone")
    )
    error = _(
        "%(who)s saved version %(current)s of this macro after you opened version %(yours)s. "
        "Your text is kept below: compare, then save again to replace their version."
    ) % {"who": who, "current": macro.version, "yours": version}
    return _editor(
        request,
        macro=macro,
        values=values,
        version=macro.version,  # saving again replaces the version now current, knowingly
        status=409,
        errors={"form": error},
        stale_changes=[rule_text.change_line(c) for c in changes],
    )


def _try(request: HttpRequest, draft: Draft, do: str) -> dict[str, Any]:
    """Check the draft (the error with its path, or what it does), or preview it on a ticket."""
    context: dict[str, Any] = {"tried": do, "number": request.POST.get("ticket", "").strip().lstrip("#")}
    if draft.definition is None:
        context["try_errors"] = draft.errors
        return context
    try:
        item = macros.macro_check(definition=draft.definition)
    except ValidationFailed as exc:
        context["try_errors"] = _errors_of(exc)
        return context
    context.update(does=_does(item), reply=_text(item))
    if do == "check":
        return context
    ticket = ticket_numbered(context)
    if ticket is None:
        return context
    try:
        preview = macros.macro_preview_draft(
            definition=draft.definition, ticket_id=ticket.pk, agent=current_admin(request), now=clock.now()
        )
    except DomainError as exc:
        context["preview_error"] = exc.message
    else:
        context["preview"] = _preview_rows(preview, current_admin(request))
    return context


@admin_required
@require_http_methods(["POST"])
def macro_toggle(request: HttpRequest, key: str) -> HttpResponse:
    """Activate (`active=1`) or deactivate (`active=0`) a macro; its versions are kept."""
    macro = _macro_or_404(key)
    me, now = current_admin(request), clock.now()
    try:
        if request.POST.get("active") == "1":
            macro, written = macros.macro_activate(key=key, actor=me, now=now)
            text = _("Macro “%(name)s” activated.") if written else _("Macro “%(name)s” was already active.")
        else:
            macro, written = macros.macro_deactivate(key=key, actor=me, now=now)
            text = (
                _("Macro “%(name)s” deactivated: agents no longer see it.")
                if written
                else _("Macro “%(name)s” was already deactivated.")
            )
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        messages.error(
            request, _("The macro cannot be activated: %(error)s") % {"error": rule_text.error(exc)}
        )
        return redirect(reverse("console:macro", args=[key]))
    messages.success(request, text % {"name": macro.name})
    return redirect(reverse("console:macro", args=[key]))


urlpatterns = [
    path("macros/", macro_list, name="macros"),
    path("macros/new/", macro_new, name="macro_new"),
    path("macros/<slug:key>/", macro_detail, name="macro"),
    path("macros/<slug:key>/edit/", macro_edit, name="macro_edit"),
    path("macros/<slug:key>/toggle/", macro_toggle, name="macro_toggle"),
]
