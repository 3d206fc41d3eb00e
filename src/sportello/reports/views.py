"""The report pages under `/reports/`: admins and supervisors (`reports.access`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from .shell import render_report, reports_required, scope_of


@reports_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    return render_report(request, "reports/dashboard.html", {"scope": scope}, tab="reports:dashboard")
