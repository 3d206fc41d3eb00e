"""The Export tab, `/reports/export/`: the filters of the per-ticket CSV (`reports.export`) and its
Download button. The form is read by the same page: with `download` and filters that read right
it answers the CSV itself (streamed); otherwise it shows the form, with each problem next to its
field. Admins and supervisors only; a supervisor's export holds their departments' tickets, and
a department outside their scope is refused (404)."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from sportello.core import clock
from sportello.core.errors import NotFound, ValidationFailed
from sportello.tickets.models import Channel, Status
from sportello.web import labels

from . import export
from .access import ReportScope
from .periods import PeriodChoice, ReportPeriod, report_period
from .shell import render_report, reports_required, scope_of

TAB = "reports:export"


def csv_response(lines: Iterable[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _number(request: HttpRequest, name: str, errors: dict[str, str]) -> int | None:
    raw = (request.GET.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        errors[name] = _("Choose one from the list.")
        return None
    return int(raw)


def _filters(
    request: HttpRequest, scope: ReportScope, period: ReportPeriod
) -> tuple[export.ExportFilters, dict[str, str]]:
    errors: dict[str, str] = dict(period.errors)
    dates = request.GET.get("dates") or export.DateField.CREATED
    if dates not in export.DateField.values:
        errors["dates"] = _("Choose one from the list.")
        dates = export.DateField.CREATED
    department_id = _number(request, "department", errors)
    if department_id is not None and not scope.allows(department_id):
        raise Http404
    channel = request.GET.get("channel") or None
    if channel is not None and channel not in Channel.values:
        errors["channel"] = _("Choose one from the list.")
        channel = None
    status = request.GET.get("status") or None
    filters = export.ExportFilters(
        start=period.start,
        end=period.end,
        dates=dates,
        department_id=department_id,
        assignee_id=_number(request, "agent", errors),
        channel=channel,
        status=status,
    )
    return filters, errors


@reports_required
@require_GET
def export_page(request: HttpRequest) -> HttpResponseBase:
    now = clock.now()
    zone = timezone.get_current_timezone()
    scope = scope_of(request)
    period = report_period(request.GET, now=now, zone=zone)
    filters, errors = _filters(request, scope, period)
    if "download" in request.GET and not errors:
        try:
            lines = export.ticket_csv(scope=scope, filters=filters, zone=zone, now=now)
        except NotFound:
            raise Http404 from None
        except ValidationFailed as exc:
            errors[{"assignee_id": "agent"}.get(exc.field or "", exc.field or "")] = _(
                "Choose one from the list."
            )
        else:
            return csv_response(lines, export.export_filename(filters, zone=zone, now=now))
    context = {
        "period": period,
        "period_choices": PeriodChoice.choices,
        "custom": PeriodChoice.CUSTOM,
        "filters": filters,
        "errors": errors,
        "date_fields": export.DateField.choices,
        "departments": export.departments_in(scope),
        "agents": export.agents_in(scope),
        "channels": [(c, labels.CHANNEL_LABELS.get(c, c)) for c in Channel.values],
        "statuses": [
            (key, labels.status_label(key, name))
            for key, name in Status.objects.filter(is_active=True)
            .order_by("position", "pk")
            .values_list("key", "name")
        ],
        "columns": export.header(str(zone)),
    }
    return render_report(request, "reports/export.html", context, tab=TAB, status=422 if errors else 200)
