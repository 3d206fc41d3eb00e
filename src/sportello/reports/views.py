"""The report pages under `/reports/`: admins and supervisors (`reports.access`).

- `/reports/`: the dashboard — tiles beside the previous period, volume and backlog, times per
  day, SLA compliance per target, satisfaction, a breakdown by a dimension; each chart with its
  numbers as a table and a CSV link, every number a link to its tickets.
- `/reports/tickets/`: the tickets behind a number (`drill.py`), with CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import drill
from .forms import ReportFilterForm
from .overview import SLA_LABELS, filters_params, report_context
from .rollups import zone
from .shell import render_report, reports_required, scope_of


def _context(request: HttpRequest) -> dict[str, Any]:
    scope = scope_of(request)
    form = ReportFilterForm(request.GET or None, scope=scope)
    today = timezone.localdate(timezone=zone())
    return {**report_context(scope, form.filters(today), form.chosen_group), "form": form}


@reports_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    context = _context(request)
    status = 422 if context["form"].is_bound and not context["form"].is_valid() else 200
    return render_report(request, "reports/dashboard.html", context, tab="reports:dashboard", status=status)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(name: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    """A CSV download, streamed; cells that a spreadsheet would run as a formula are quoted."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([_safe(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@reports_required
@require_GET
def dashboard_csv(request: HttpRequest, table: str) -> StreamingHttpResponse | HttpResponse:
    context = _context(request)
    f = context["filters"]
    stem = f"{table}-{f.start.isoformat()}-{f.end.isoformat()}"
    if table == "days":
        header = [
            _("Day"),
            _("Created"),
            _("Solved"),
            _("Backlog"),
            _("First reply, average"),
            _("Response time, average"),
            _("Time to resolution, average"),
        ]
        rows = [
            [
                d["label"],
                d["created"],
                d["solved"],
                d["backlog"],
                d["first_reply"],
                d["response"],
                d["resolution"],
            ]
            for d in context["days"]
        ]
    elif table == "breakdown":
        header = [
            str(context["group_label"]),
            _("Created"),
            _("Solved"),
            _("First reply, average"),
            _("Response time, average"),
            _("Time to resolution, average"),
            _("Reopen rate"),
            _("One-touch resolution"),
        ]
        rows = [
            [
                g["name"],
                g["created"],
                g["solved"],
                g["first_reply"],
                g["response"],
                g["resolution"],
                g["reopen_rate"],
                g["one_touch"],
            ]
            for g in context["group_rows"]
        ]
    elif table == "sla":
        header = [_("Target"), _("Finished"), _("Breached"), _("Compliance"), _("Previous period")]
        rows = [
            [r["label"], r["finished"], r["breached"], r["compliance"], r["previous"]]
            for r in context["sla_rows"]
        ]
    else:
        return HttpResponse(status=404)
    return csv_response(stem, [str(h) for h in header], rows)


@reports_required
@require_GET
def tickets(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    scope = scope_of(request)
    form = ReportFilterForm(request.GET or None, scope=scope)
    today = timezone.localdate(timezone=zone())
    f = drill.narrowed(form.filters(today), request.GET)
    metric = request.GET.get("metric", "")
    if metric not in drill.METRICS:
        return render_report(
            request,
            "reports/tickets.html",
            {"error": _("Choose a figure on the dashboard."), "form": form},
            tab="reports:dashboard",
            status=404,
        )
    listing = drill.tickets(scope, f, metric, sla=request.GET.get("sla") or None)
    if request.GET.get("format") == "csv":
        return csv_response(
            f"tickets-{metric}-{f.start.isoformat()}-{f.end.isoformat()}",
            [str(h) for h in drill.CSV_HEADER],
            drill.csv_rows(listing.all()),
        )
    page = drill.page(listing, request.GET.get("page"))
    back = f"{reverse('reports:dashboard')}?{urlencode(filters_params(f))}"
    query = request.GET.copy()
    query.pop("page", None)
    return render_report(
        request,
        "reports/tickets.html",
        {
            "form": form,
            "filters": f,
            "metric_label": drill.METRICS[metric],
            "sla_label": SLA_LABELS.get(request.GET.get("sla") or "", ""),
            "page": page,
            "back_url": back,
            "csv_url": f"?{query.urlencode()}&format=csv",
            "query": query.urlencode(),
        },
        tab="reports:dashboard",
    )
