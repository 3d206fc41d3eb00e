"""The Console's macros (group Workflows): every active macro with who may use it and what it
does, and a macro's page with a preview on a chosen ticket — what applying it would change and
the reply or note it would add, through `automation.macros.macro_preview` (the Desk's preview:
the same application in a savepoint, rolled back; nothing is written)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.automation import macros
from sportello.automation.models import Macro, MacroVersion
from sportello.core import clock
from sportello.core.errors import DomainError, NotFound
from sportello.notifications import selectors as notification_selectors
from sportello.notifications.canned import canned_render
from sportello.tickets.models import Ticket
from sportello.web.ticket_views.composer import change_rows

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
    rows = list(
        macros.macro_list_for(agent=current_admin(request)).select_related(
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
    try:
        macro = macros.macro_get_for(agent=me, key=key)
    except NotFound:
        raise Http404 from None
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


def _ticket_numbered(context: dict[str, Any]) -> Ticket | None:
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
    ticket = _ticket_numbered(context)
    if ticket is None:
        return 422
    context["ticket"] = ticket
    try:
        preview = macros.macro_preview(key=macro.key, ticket_id=ticket.pk, agent=user, now=clock.now())
    except DomainError as exc:
        context["preview_error"] = exc.message
        return 200
    context["preview"] = {
        "rows": change_rows(preview.changes, user),
        "message": preview.message,
        "effects": len(preview.effects),
    }
    return 200


# --------------------------------------------------------------------------------------------
# Canned responses


@admin_required
@require_http_methods(["GET"])
def canned_list(request: HttpRequest) -> HttpResponse:
    """The canned responses shared with departments, and the admin's own."""
    rows = list(notification_selectors.canned_list(principal=current_admin(request)))
    context = {"section": "canned", "items": rows, "now": clock.now()}
    return render_console(request, "console/macros/canned_list.html", context)


@admin_required
@require_http_methods(["GET"])
def canned_detail(request: HttpRequest, canned_id: int) -> HttpResponse:
    """A canned response and (with `?ticket=<number>`) its text filled for that ticket."""
    me = current_admin(request)
    try:
        canned = notification_selectors.canned_get(principal=me, canned_id=canned_id)
    except NotFound:
        raise Http404 from None
    context: dict[str, Any] = {
        "section": "canned",
        "canned": canned,
        "now": clock.now(),
        "number": request.GET.get("ticket", "").strip().lstrip("#"),
    }
    status = 200
    if context["number"]:
        ticket = _ticket_numbered(context)
        if ticket is None:
            status = 422
        else:
            try:
                context["rendered"] = canned_render(
                    actor=me, canned_id=canned.pk, ticket_id=ticket.pk, now=clock.now()
                )
            except DomainError as exc:
                context["preview_error"] = exc.message
    return render_console(request, "console/macros/canned_detail.html", context, status=status)


urlpatterns = [
    path("macros/", macro_list, name="macros"),
    path("macros/<slug:key>/", macro_detail, name="macro"),
    path("canned-responses/", canned_list, name="canned"),
    path("canned-responses/<int:canned_id>/", canned_detail, name="canned_detail"),
]
