"""The Console's tier paths: a department's support tiers in order (Tier 1 → Tier 2 → ...),
each a team a ticket moves to when escalated (a team of another department takes the ticket
there). Saved through `sla.tiers.tier_path_save` with the version the form was loaded at."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.accounts.models import Department, Team
from sportello.core import clock
from sportello.core.errors import Conflict, ValidationFailed
from sportello.sla import selectors, tiers
from sportello.sla.models import TierPath

from ..views import admin_required, current_admin, render_console
from .holidays_form import int_or_none

SECTION = "tier_paths"
NEW_ROWS = 2
TIERS_MAX = 10
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass
class TierRow:
    key: str = ""
    name: str = ""
    team: int | None = None


@dataclass
class TierPathForm:
    key: str = ""
    name: str = ""
    department: int | None = None
    tiers: list[TierRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "row": r,
                **{f"{p}_error": self.errors.get(f"tier-{i}-{p}", "") for p in ("key", "name", "team")},
            }
            for i, r in enumerate(self.tiers)
        ]


def form_from_definition(definition: dict[str, Any] | None) -> TierPathForm:
    if definition is None:
        return TierPathForm(tiers=[TierRow("t1", _("Tier 1")), TierRow("t2", _("Tier 2"))])
    rows = [TierRow(t["key"], t["name"], t["team"]) for t in definition.get("tiers", [])]
    return TierPathForm(
        key=definition["key"], name=definition["name"], department=definition["department"],
        tiers=rows + [TierRow() for _ in range(NEW_ROWS)],
    )  # fmt: skip


def form_from_post(data: QueryDict, *, key: str | None) -> tuple[TierPathForm, dict[str, Any] | None]:
    form = TierPathForm(
        key=key if key is not None else (data.get("key") or "").strip(),
        name=(data.get("name") or "").strip(),
        department=int_or_none(data.get("department")),
    )
    if not _KEY.fullmatch(form.key):
        form.error(
            "key", _("Use 1 to 64 lowercase letters, digits, “-” or “_”, starting with a letter or digit.")
        )
    if not form.name:
        form.error("name", _("Give the tier path a name."))
    if form.department is None:
        form.error("department", _("Choose the department."))
    teams = dict(Team.objects.values_list("pk", "department_id"))
    out: list[dict[str, Any]] = []
    count = min(int_or_none(data.get("tier-count")) or 0, TIERS_MAX + NEW_ROWS)
    for i in range(count):
        row = TierRow(
            (data.get(f"tier-{i}-key") or "").strip(),
            (data.get(f"tier-{i}-name") or "").strip(),
            int_or_none(data.get(f"tier-{i}-team")),
        )
        if not (row.key or row.name or row.team):
            continue
        form.tiers.append(row)
        n = len(form.tiers) - 1
        if not _KEY.fullmatch(row.key) or any(t["key"] == row.key for t in out):
            form.error(f"tier-{n}-key", _("A short key, unique in the path, e.g. t2."))
        if not row.name:
            form.error(f"tier-{n}-name", _("Give the tier a name."))
        if row.team not in teams:
            form.error(f"tier-{n}-team", _("Choose the tier's team."))
            continue
        tier: dict[str, Any] = {"key": row.key, "name": row.name, "team": row.team}
        if teams[row.team] != form.department:
            tier["department"] = teams[row.team]
        out.append(tier)
    if len(form.tiers) < 2:
        form.error("tiers", _("A tier path has at least two tiers."))
    form.tiers += [TierRow() for _ in range(NEW_ROWS)]
    if form.errors:
        return form, None
    return form, {"key": form.key, "name": form.name, "department": form.department, "tiers": out}


@admin_required
@require_http_methods(["GET"])
def tier_path_list(request: HttpRequest) -> HttpResponse:
    paths = list(selectors.tier_path_list(principal=current_admin(request)))
    teams = dict(Team.objects.values_list("pk", "name"))
    rows = [
        {"path": p, "tiers": [(t["name"], teams.get(t["team"], "")) for t in p.definition.get("tiers", [])]}
        for p in paths
    ]  # fmt: skip
    return render_console(
        request,
        "console/service_levels/tier_paths.html",
        {"section": SECTION, "rows": rows, "now": clock.now()},
    )


def _editor(
    request: HttpRequest, form: TierPathForm, *, path: TierPath | None, version: int | None,
    status: int = 200, stale: bool = False,
) -> HttpResponse:  # fmt: skip
    context = {
        "section": SECTION, "form": form, "path": path, "version": version, "stale": stale,
        "departments": list(Department.objects.order_by("name")),
        "teams": list(Team.objects.select_related("department").order_by("department__name", "name")),
    }  # fmt: skip
    return render_console(request, "console/service_levels/tier_path_edit.html", context, status=status)


def _save(request: HttpRequest, path: TierPath | None) -> HttpResponseBase:
    seen = int_or_none(request.POST.get("version")) if path is not None else None
    form, definition = form_from_post(request.POST, key=path.key if path is not None else None)
    if definition is None:
        return _editor(request, form, path=path, version=seen, status=422)
    try:
        saved, written = tiers.tier_path_save(
            definition=definition,
            actor=current_admin(request),
            now=clock.now(),
            create=path is None,
            expected_version=seen,
        )
    except Conflict as exc:
        if exc.code == "stale_version" and path is not None:
            current = TierPath.objects.get(pk=path.pk)
            return _editor(request, form, path=current, version=current.version, status=409, stale=True)
        if exc.code == "tier_path_exists":
            form.error("key", _("A tier path with this key exists already; choose another key."))
        elif exc.field == "department":
            form.error("department", _("This department follows another tier path already."))
        else:
            form.error("form", exc.message)
        return _editor(request, form, path=path, version=seen, status=exc.status)
    except ValidationFailed as exc:
        m = re.match(r"tiers\[(\d+)\]\.(\w+)", exc.field or "")
        form.error(f"tier-{m.group(1)}-{m.group(2)}" if m else (exc.field or "form"), exc.message)
        if exc.field not in ("key", "name", "department") and not m:
            form.errors["form"] = exc.message
        return _editor(request, form, path=path, version=seen, status=exc.status)
    if written:
        messages.success(request, _("Tier path “%(name)s” saved.") % {"name": saved.name})
    else:
        messages.info(request, _("Nothing changed: the tier path is as it was."))
    return redirect("console:tier_path_edit", key=saved.key)


@admin_required
@require_http_methods(["GET", "POST"])
def tier_path_new(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return _editor(request, form_from_definition(None), path=None, version=None)
    return _save(request, None)


@admin_required
@require_http_methods(["GET", "POST"])
def tier_path_edit(request: HttpRequest, key: str) -> HttpResponseBase:
    path = TierPath.objects.filter(key=key).first()
    if path is None:
        raise Http404
    if request.method != "POST":
        return _editor(request, form_from_definition(path.definition), path=path, version=path.version)
    return _save(request, path)
