"""The Console's SLA policies: the list in match order, and the editor (what it applies to, its
targets per metric and priority, business hours of a calendar or calendar time, pauses,
warnings and escalations). Every save goes through `sla.services.policy_save` with the version
the form was loaded at: a policy saved by someone else meanwhile is never overwritten."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import version_diff
from sportello.sla import selectors, services
from sportello.sla.models import BusinessCalendar

from ..views import admin_required, current_admin, render_console
from .calendars import changed_areas
from .holidays_form import int_or_none
from .policy_form import (
    METRIC_LABELS,
    PAUSE_LABELS,
    PRIORITY_LABELS,
    WHEN_CHOICES,
    PolicyForm,
    error_field,
    form_from_definition,
    form_from_post,
)

SECTION = "sla_policies"


@admin_required
@require_http_methods(["GET"])
def policy_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.policy_rows(principal=current_admin(request))
    names = dict(BusinessCalendar.objects.values_list("key", "name"))
    items = []
    for row in rows:
        form = form_from_definition(row.definition)
        items.append(
            {
                "row": row,
                "applies": _("VIP customers")
                if form.when_mode == "vip"
                else dict(WHEN_CHOICES)[form.when_mode],
                "calendar": names.get(form.calendar, form.calendar) if form.calendar else None,
                "targets": _target_summary(form.targets),
            }
        )
    return render_console(
        request,
        "console/service_levels/policies.html",
        {"section": SECTION, "items": items, "now": clock.now()},
    )


def _target_summary(targets: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per metric with targets, its label and (priority label, duration) pairs."""
    out = []
    for metric, label in METRIC_LABELS.items():
        cells = [
            (str(PRIORITY_LABELS[p]), targets[f"{metric}.{p}"])
            for p in PRIORITY_LABELS
            if f"{metric}.{p}" in targets
        ]
        if cells:
            out.append((str(label), cells))
    return out


def _editor(
    request: HttpRequest,
    form: PolicyForm,
    *,
    row: selectors.PolicyRow | None,
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
        "when_choices": WHEN_CHOICES,
        "calendars": list(BusinessCalendar.objects.filter(active=True).order_by("name")),
        "pause_choices": list(PAUSE_LABELS.items()),
        "priorities": list(PRIORITY_LABELS.values()),
    }
    return render_console(request, "console/service_levels/policy_edit.html", context, status=status)


def _service_error(form: PolicyForm, exc: ValidationFailed | Conflict) -> None:
    name = error_field(exc.field or "")
    form.error(name, exc.message if name != "form" or not exc.field else f"{exc.field}: {exc.message}")


@admin_required
@require_http_methods(["GET", "POST"])
def policy_new(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return _editor(request, form_from_definition(None), row=None, version=None)
    form, definition = form_from_post(request.POST, key=None)
    if definition is None:
        return _editor(request, form, row=None, version=None, status=422)
    try:
        saved, _written = services.policy_save(
            definition=definition, actor=current_admin(request), now=clock.now(), create=True
        )
    except Conflict as exc:
        form.error("key", _("A policy with this key exists already; choose another key."))
        return _editor(request, form, row=None, version=None, status=exc.status)
    except ValidationFailed as exc:
        _service_error(form, exc)
        return _editor(request, form, row=None, version=None, status=exc.status)
    messages.success(request, _("SLA policy “%(name)s” created.") % {"name": saved.name})
    return redirect("console:sla_policy_edit", key=saved.key)


def _row(request: HttpRequest, key: str) -> selectors.PolicyRow:
    found = selectors.policy_rows(principal=current_admin(request), key=key)
    if not found:
        raise Http404
    return found[0]


@admin_required
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, key: str) -> HttpResponseBase:
    row = _row(request, key)
    if request.method != "POST":
        return _editor(request, form_from_definition(row.definition), row=row, version=row.policy.version)
    seen = int_or_none(request.POST.get("version"))
    form, definition = form_from_post(request.POST, key=key)
    if definition is None:
        return _editor(request, form, row=row, version=seen, status=422)
    try:
        saved, written = services.policy_save(
            definition=definition,
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
        current = _row(request, key)
        try:
            paths = [
                c.path
                for c in version_diff(services.POLICIES, key=key, a=seen or 1, b=current.policy.version)
            ]
        except NotFound:
            paths = []
        return _editor(
            request, form, row=current, version=current.policy.version, status=409, stale=_policy_areas(paths)
        )
    except ValidationFailed as exc:
        _service_error(form, exc)
        return _editor(request, form, row=row, version=seen, status=exc.status)
    if written:
        messages.success(request, _("SLA policy “%(name)s” saved.") % {"name": saved.name})
    else:
        messages.info(request, _("Nothing changed: the policy is as it was."))
    return redirect("console:sla_policy_edit", key=saved.key)


def _policy_areas(paths: list[str]) -> list[str]:
    labels = {
        "targets": _("targets"),
        "when": _("which tickets it applies to"),
        "warnings": _("warnings"),
        "escalations": _("escalations"),
        "calendar": _("business hours"),
        "pause": _("pauses"),
        "position": _("order"),
        "name": _("name"),
    }
    out: list[str] = []
    for path in paths:
        label = next((v for k, v in labels.items() if path.startswith(k)), None)
        if label is None:
            out += [a for a in changed_areas([path]) if a not in out]
        elif label not in out:
            out.append(label)
    return out
