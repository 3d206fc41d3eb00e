"""The agent's notifications: the bell's unread count (polled, ETag/304) and its panel (the latest,
unread first, loaded when the bell is opened), the list, opening one (marks it read and lands on
its ticket), marking all read, and the agents a note may mention."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import User
from sportello.core import clock
from sportello.core.errors import NotFound
from sportello.core.http import HtmxRequest
from sportello.tickets import selectors as ticket_selectors
from sportello.web.shell import agent_required
from sportello.web.timeline import METRIC_LABELS

from . import selectors, services
from .hooks import mentionable_agents
from .models import Notification, NotificationKind

MENTION_LIMIT = 8


def _me(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@agent_required
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The bell with the unread count. Its ETag is the (unread, latest) pair: a poll that finds
    nothing new is answered 304 without rendering."""
    unread, latest = selectors.notification_summary(user=_me(request))
    etag = f'"inbox-{_me(request).pk}-{unread}-{latest}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = render(request, "inbox/_bell.html", {"unread": unread, "loaded": True, "etag": etag})
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["Cookie", "HX-Request"])
    return response


@agent_required
@require_GET
def bell_panel(request: HttpRequest) -> HttpResponse:
    """The bell's panel, loaded each time the bell is opened."""
    return _panel(request)


def _panel(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    rows = [
        {"n": n, "sentence": sentence(n), "kind": n.kind} for n in selectors.notification_latest(user=user)
    ]
    unread, _latest = selectors.notification_summary(user=user)
    response = render(request, "inbox/_bell_panel.html", {"rows": rows, "unread": unread, "now": clock.now()})
    patch_cache_control(response, private=True, no_cache=True)
    return response


def sentence(n: Notification) -> str:
    """What happened, in the viewer's language."""
    who = n.actor_label or _("Someone")
    if n.kind == NotificationKind.MENTION:
        return _("%(who)s mentioned you in a note") % {"who": who}
    if n.kind == NotificationKind.ASSIGNED:
        return _("%(who)s assigned this ticket to you") % {"who": who}
    metric_key = str(n.parts.get("metric", ""))
    metric = str(METRIC_LABELS.get(metric_key, metric_key.replace("_", " ")))
    if n.kind == NotificationKind.SLA_WARNING:
        return _("%(metric)s target is near") % {"metric": metric}
    if n.kind == NotificationKind.SLA_BREACH:
        return _("%(metric)s target breached") % {"metric": metric}
    title = str(n.parts.get("title", ""))
    if n.parts.get("overdue"):
        return _("Your task “%(title)s” is overdue") % {"title": title}
    return _("Your task “%(title)s” is due soon") % {"title": title}


@agent_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    items = list(selectors.notification_list(user=_me(request)))
    rows = [{"n": n, "sentence": sentence(n), "kind": n.kind} for n in items]
    unread = sum(1 for n in items if n.read_at is None)
    context = {"rows": rows, "unread": unread, "section": "inbox", "now": clock.now()}
    return render(request, "inbox/list.html", context)


@agent_required
@require_POST
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    try:
        found = services.notification_mark_read(
            user=_me(request), notification_id=notification_id, now=clock.now()
        )
    except NotFound:
        raise Http404 from None
    return redirect("web:ticket", ticket_id=found.ticket_id)


@agent_required
@require_POST
def notification_read_all(request: HtmxRequest) -> HttpResponse:
    services.notification_mark_all_read(user=_me(request), now=clock.now())
    if request.htmx:
        # From the bell's panel: the panel again, and the bell's count refreshed.
        response = _panel(request)
        response["HX-Trigger"] = "inbox:changed"
        return response
    return redirect(reverse("inbox:list"))


@agent_required
@require_GET
def mention_agents(request: HttpRequest, ticket_id: int) -> JsonResponse:
    """Agents who may see the ticket whose name or address starts with `q` (any word of the name
    for names): what the composer offers after `@`."""
    try:
        ticket = ticket_selectors.ticket_get_for(principal=_me(request), ticket_id=ticket_id)
    except NotFound:
        raise Http404 from None
    prefix = " ".join(request.GET.get("q", "").split())[:100].lower()
    agents = User.objects.filter(mentionable_agents(ticket)).distinct().order_by("name", "id")
    if prefix:
        agents = agents.filter(name__icontains=prefix) | agents.filter(email__istartswith=prefix)
    found: list[dict[str, Any]] = []
    for pk, name, email in agents.values_list("pk", "name", "email")[: MENTION_LIMIT * 4]:
        words = [name.lower(), *name.lower().split()]
        if prefix and not (any(w.startswith(prefix) for w in words) or email.startswith(prefix)):
            continue
        found.append({"id": pk, "name": name, "email": email, "handle": name or email})
        if len(found) == MENTION_LIMIT:
            break
    return JsonResponse({"agents": found})
