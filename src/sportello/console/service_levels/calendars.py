"""The Console's business calendars: the list, the editor (name, time zone, the weekly hours
grid, holidays whole or partial, the departments following it, the desk's default) and the
import of a country's or region's public holidays from the `holidays` package (preview, then
add the chosen ones). Every save goes through `sla.calendars` with the version the form was
loaded at, so a calendar saved by someone else meanwhile is never overwritten: the form comes
back with what was typed and what changed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from sportello.accounts.models import Department
from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import version_diff
from sportello.sla import calendars as service
from sportello.sla import selectors

from ..views import admin_required, current_admin, render_console
from . import holidays_form
from .calendar_form import CalendarForm, form_from_definition, form_from_post, time_zones

SECTION = "calendars"


@admin_required
@require_http_methods(["GET"])
def calendar_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.calendar_rows(principal=current_admin(request))
    return render_console(
        request,
        "console/service_levels/calendars.html",
        {"section": SECTION, "rows": rows, "now": clock.now()},
    )


def _row(request: HttpRequest, key: str) -> selectors.CalendarRow:
    found = selectors.calendar_rows(principal=current_admin(request), key=key)
    if not found:
        raise Http404
    return found[0]


def _editor(
    request: HttpRequest,
    form: CalendarForm,
    *,
    row: selectors.CalendarRow | None,
    version: int | None,
    status: int = 200,
    stale: list[str] | None = None,
) -> HttpResponse:
    context = {
        "section": SECTION,
        "form": form,
        "row": row,
        "version": version,
        "stale": stale,
        "zones": time_zones(),
        "all_departments": list(Department.objects.order_by("name")),
        "countries": holidays_form.countries(),
        "country": holidays_form.country_of_zone(form.time_zone),
        "years": holidays_form.default_years(clock.now()),
        "now": clock.now(),
    }
    return render_console(request, "console/service_levels/calendar_edit.html", context, status=status)


_AREAS = (
    ("holidays", lambda: _("holidays")),
    ("special_days", lambda: _("special days")),
    ("weekly", lambda: _("weekly hours")),
    ("always_open", lambda: _("weekly hours")),
    ("time_zone", lambda: _("time zone")),
    ("name", lambda: _("name")),
)


def changed_areas(paths: list[str]) -> list[str]:
    """What changed, in words, from the paths of a definition diff."""
    out: list[str] = []
    for path in paths:
        label = next((f() for area, f in _AREAS if area in path), _("other settings"))
        if label not in out:
            out.append(label)
    return out


def _service_error(form: CalendarForm, exc: ValidationFailed | Conflict) -> None:
    where = exc.field or ""
    if where in ("key", "name", "time_zone", "departments"):
        form.error(where, exc.message)
    else:
        form.error("form", exc.message)


@admin_required
@require_http_methods(["GET", "POST"])
def calendar_new(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return _editor(request, form_from_definition(None), row=None, version=None)
    form, definition = form_from_post(request.POST, current=None, key=None)
    if definition is None:
        return _editor(request, form, row=None, version=None, status=422)
    try:
        saved, _written = service.calendar_save(
            definition=definition,
            departments=form.departments,
            is_default=form.is_default,
            actor=current_admin(request),
            now=clock.now(),
            create=True,
        )
    except Conflict as exc:
        form.error("key", _("A calendar with this key exists already; choose another key."))
        return _editor(request, form, row=None, version=None, status=exc.status)
    except ValidationFailed as exc:
        _service_error(form, exc)
        return _editor(request, form, row=None, version=None, status=exc.status)
    messages.success(request, _("Calendar “%(name)s” created.") % {"name": saved.name})
    return redirect("console:calendar_edit", key=saved.key)


@admin_required
@require_http_methods(["GET", "POST"])
def calendar_edit(request: HttpRequest, key: str) -> HttpResponseBase:
    row = _row(request, key)
    if request.method != "POST":
        form = form_from_definition(
            row.definition, departments=[d.pk for d in row.departments], is_default=row.calendar.is_default
        )
        return _editor(request, form, row=row, version=row.calendar.version)
    seen = holidays_form.int_or_none(request.POST.get("version"))
    form, definition = form_from_post(request.POST, current=row.definition, key=key)
    if definition is None:
        return _editor(request, form, row=row, version=seen, status=422)
    try:
        saved, written = service.calendar_save(
            definition=definition,
            departments=form.departments,
            is_default=form.is_default,
            actor=current_admin(request),
            now=clock.now(),
            create=False,
            expected_version=seen,
        )
    except NotFound:
        raise Http404 from None
    except Conflict as exc:
        if exc.code != "stale_version":
            _service_error(form, exc)
            return _editor(request, form, row=row, version=seen, status=exc.status)
        return _stale(request, form, key=key, seen=seen)
    except ValidationFailed as exc:
        _service_error(form, exc)
        return _editor(request, form, row=row, version=seen, status=exc.status)
    if written:
        messages.success(request, _("Calendar “%(name)s” saved.") % {"name": saved.name})
    else:
        messages.info(request, _("Nothing changed: the calendar is as it was."))
    return redirect("console:calendar_edit", key=saved.key)


def _stale(request: HttpRequest, form: CalendarForm, *, key: str, seen: int | None) -> HttpResponse:
    """Someone saved the calendar after this form was loaded: the form again, as typed, saying
    what they changed; its version is now the current one, so saving again keeps what is here."""
    row = _row(request, key)
    try:
        paths = [
            c.path for c in version_diff(service.CALENDARS, key=key, a=seen or 1, b=row.calendar.version)
        ]
    except NotFound:
        paths = []
    return _editor(
        request, form, row=row, version=row.calendar.version, status=409, stale=changed_areas(paths)
    )


# --------------------------------------------------------------------------------------------
# Public holidays from the `holidays` package


@admin_required
@require_http_methods(["GET", "POST"])
def calendar_holidays(request: HttpRequest, key: str) -> HttpResponseBase:
    """GET: the public holidays of the chosen country (region, years), each ticked unless the
    calendar has a holiday on its date. POST: add the ticked ones."""
    row = _row(request, key)
    data = request.POST if request.method == "POST" else request.GET
    query = holidays_form.read(data)
    context: dict[str, Any] = {
        "section": SECTION,
        "row": row,
        "query": query,
        "countries": holidays_form.countries(),
    }
    if query.errors:
        return render_console(request, "console/service_levels/calendar_holidays.html", context, status=422)
    if request.method != "POST":
        try:
            found = service.holidays_lookup(
                country=query.country, subdivision=query.subdivision or None, years=query.years
            )
        except ValidationFailed as exc:
            query.errors[exc.field or "country"] = exc.message
            return render_console(
                request, "console/service_levels/calendar_holidays.html", context, status=422
            )
        have = {h["date"]: h.get("name") or "" for h in service.calendar_holidays(row.definition)}
        context["found"] = [{**h, "have": have.get(h["date"])} for h in found]
        context["version"] = row.calendar.version
        return render_console(request, "console/service_levels/calendar_holidays.html", context)
    chosen = request.POST.getlist("date")
    seen = holidays_form.int_or_none(request.POST.get("version"))
    try:
        saved, added = service.calendar_import_holidays(
            key=key,
            country=query.country,
            subdivision=query.subdivision or None,
            years=query.years,
            dates=chosen,
            expected_version=seen,
            actor=current_admin(request),
            now=clock.now(),
        )
    except NotFound:
        raise Http404 from None
    except Conflict:
        messages.error(
            request,
            _("The calendar changed since the list was shown; check the holidays below and choose again."),
        )
        return redirect(f"{reverse('console:calendar_holidays', kwargs={'key': key})}?{query.urlencode()}")
    except ValidationFailed as exc:
        query.errors[exc.field or "country"] = exc.message
        return render_console(request, "console/service_levels/calendar_holidays.html", context, status=422)
    if added:
        messages.success(
            request,
            ngettext("%(count)d holiday added.", "%(count)d holidays added.", len(added))
            % {"count": len(added)},
        )
    else:
        messages.info(request, _("No holiday added: none was chosen, or the calendar had them all."))
    return redirect("console:calendar_edit", key=saved.key)
