"""History everywhere: any configured thing's versions (who saved each, when), the difference
between any two of them, "restore this version" through a confirmation that shows what it will
change, and the admin audit log — every configuration change across kinds, newest first.

Generic over every registered configuration kind (`core.versioning`); the reading and the
restore are `core.history`'s. Restoring saves a new version equal to the old one through the
kind's own save, as the API's `POST …/revert` does."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any
from urllib.parse import urlencode

import yaml
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.accounts.models import Role, User
from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.history import (
    Comparison,
    History,
    config_changes,
    config_compare,
    config_history,
    version_restore,
)
from sportello.core.versioning import Change

from .kinds import kind_choices, kind_label
from .views import admin_required, current_admin, int_or_none, render_console

PAGE_SIZE = 50


# -- the two definitions side by side -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the side-by-side view: the line before (number, text) and after; `change`:
    same, changed, removed (only before) or added (only after)."""

    old_no: int | None
    old: str
    new_no: int | None
    new: str
    change: str


def as_yaml(definition: Any) -> list[str]:
    """A definition as the YAML an admin would write (keys sorted, as the diff compares them)."""
    text = yaml.safe_dump(definition, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)
    return text.rstrip("\n").splitlines()


def side_by_side(old: Any, new: Any) -> list[Line]:
    """The lines of both definitions as YAML, aligned, each pair told same, changed, removed
    or added."""
    a, b = as_yaml(old), as_yaml(new)
    rows: list[Line] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [
                Line(i + 1, a[i], j + 1, b[j], "same")
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
            continue
        for i, j in zip_longest(range(i1, i2), range(j1, j2)):
            change = "changed" if i is not None and j is not None else ("removed" if j is None else "added")
            rows.append(
                Line(
                    None if i is None else i + 1,
                    "" if i is None else a[i],
                    None if j is None else j + 1,
                    "" if j is None else b[j],
                    change,
                )
            )
    return rows


def _changes(changes: list[Change]) -> list[dict[str, Any]]:
    labels = {"added": _("Added"), "removed": _("Removed"), "changed": _("Changed")}
    return [
        {
            "path": c.path,
            "change": c.change,
            "label": labels.get(c.change, c.change),
            "old": c.old,
            "new": c.new,
        }
        for c in changes
    ]


# -- pages ---------------------------------------------------------------------------------------


def _history_or_404(kind: str, key: str) -> History:
    try:
        return config_history(kind, key=key)
    except NotFound:
        raise Http404 from None


def _history_page(
    request: HttpRequest, found: History, *, a: Any = None, b: Any = None, error: str = "", status: int = 200
) -> HttpResponse:
    numbers = [v.version for v in found.versions]
    context = {
        "section": "audit",
        "now": clock.now(),
        "history": found,
        "kind": found.kind.name,
        "kind_label": kind_label(found.kind.name),
        "pick_a": a if a is not None else (numbers[1] if len(numbers) > 1 else numbers[0]),
        "pick_b": b if b is not None else numbers[0],
        "error": error,
    }
    return render_console(request, "console/history/versions.html", context, status=status)


@admin_required
@require_http_methods(["GET"])
def history(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    """A configured thing's versions, newest first; pick two to compare, restore any."""
    return _history_page(request, _history_or_404(kind, key))


def _compare_or_404(kind: str, key: str, a: int, b: int) -> Comparison:
    try:
        return config_compare(kind, key=key, a=a, b=b)
    except NotFound:
        raise Http404 from None


@admin_required
@require_http_methods(["GET"])
def diff(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    """What changed from version `a` to version `b` (`?a=&b=`): the changes by path, and both
    definitions side by side as YAML. Two versions not picked: the history again, with the
    error, what was picked kept."""
    a, b = int_or_none(request.GET.get("a")), int_or_none(request.GET.get("b"))
    if a is None or b is None or a == b:
        found = _history_or_404(kind, key)
        error = _("Pick two different versions to compare.")
        return _history_page(request, found, a=a, b=b, error=error, status=400)
    compared = _compare_or_404(kind, key, a, b)
    context = {
        "section": "audit",
        "now": clock.now(),
        "history": compared.history,
        "kind": kind,
        "kind_label": kind_label(kind),
        "compared": compared,
        "changes": _changes(compared.changes),
        "lines": side_by_side(compared.old, compared.new),
    }
    return render_console(request, "console/history/diff.html", context)


def _restore_page(
    request: HttpRequest, kind: str, key: str, version: int, *, error: str = "", stale: bool = False,
    status: int = 200,
) -> HttpResponse:  # fmt: skip
    found = _history_or_404(kind, key)
    target = next((v for v in found.versions if v.version == version), None)
    if target is None:
        raise Http404
    current = found.current
    compared = _compare_or_404(kind, key, current if current is not None else version, version)
    old = compared.old if current is not None else {}
    context = {
        "section": "audit",
        "now": clock.now(),
        "history": found,
        "kind": kind,
        "kind_label": kind_label(kind),
        "target": target,
        "latest": found.versions[0],
        "is_current": current == version,
        "changes": _changes(compared.changes if current is not None else []),
        "lines": side_by_side(old, compared.new),
        "error": error,
        "stale": stale,
    }
    return render_console(request, "console/history/restore.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def restore(request: HttpRequest, kind: str, key: str, version: int) -> HttpResponse:
    """GET: what restoring version `version` would change, from the current one, to confirm.
    POST: restore it (a new version equal to it; nothing when it is in force already), then
    back to the history with a message. A version saved since the confirmation was shown: the
    confirmation again, against what is current now."""
    if request.method != "POST":
        return _restore_page(request, kind, key, version)
    seen = int_or_none(request.POST.get("current"))
    try:
        saved = version_restore(
            kind, key=key, version=version, actor=current_admin(request), now=clock.now(), seen=seen
        )
    except NotFound:
        raise Http404 from None
    except Conflict as e:
        if e.code != "stale":
            return _restore_page(request, kind, key, version, error=_("It could not be restored: %s") % e,
                                 status=409)  # fmt: skip
        return _restore_page(request, kind, key, version, stale=True, status=409)
    except ValidationFailed as e:
        error = _("It can no longer be saved as it was: %s") % e
        return _restore_page(request, kind, key, version, error=error, status=422)
    if saved.written:
        text = _("Version %(old)d restored: it is now version %(new)d.") % {
            "old": version,
            "new": saved.head.version,
        }
    else:
        text = _("Version %(old)d is already what applies: nothing was saved.") % {"old": version}
    messages.success(request, text)
    return redirect(reverse("console:history", args=[kind, key]))


# -- the audit log -------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET"])
def audit(request: HttpRequest) -> HttpResponse:
    """Every configuration change across kinds, newest first, PAGE_SIZE a page after `cursor`;
    filtered by `kind` (a kind's name) and `agent` (who saved it)."""
    choices = kind_choices()
    kind = request.GET.get("kind") or None
    if kind not in dict(choices):
        kind = None
    agent_id = int_or_none(request.GET.get("agent"))
    cursor = request.GET.get("cursor") or None
    try:
        rows, next_cursor = config_changes(kind=kind, author_id=agent_id, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        raise BadRequest("invalid cursor") from None
    base = {k: v for k, v in (("kind", kind), ("agent", agent_id)) if v is not None}
    here = reverse("console:audit")
    agents = User.objects.filter(role__in=[Role.ADMIN, Role.AGENT]).only("pk", "name", "email")
    context = {
        "section": "audit",
        "now": clock.now(),
        "changes": rows,
        "kinds": choices,
        "kind": kind,
        "agent_id": agent_id,
        "agents": list(agents.order_by("name", "pk")),
        "filtered": bool(base),
        "next_url": f"{here}?{urlencode({**base, 'cursor': next_cursor})}" if next_cursor else None,
        "first_url": f"{here}?{urlencode(base)}" if cursor else None,
    }
    return render_console(request, "console/history/audit.html", context)


urlpatterns = [
    path("audit/", audit, name="audit"),
    path("history/<str:kind>/<path:key>/diff/", diff, name="history_diff"),
    path("history/<str:kind>/<path:key>/restore/<int:version>/", restore, name="history_restore"),
    path("history/<str:kind>/<path:key>/", history, name="history"),
]
