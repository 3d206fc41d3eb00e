"""What every report page shares: admins and supervisors only (a styled 403 for other agents),
the agent's time zone, and the reports' tabs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from sportello.web.shell import agent_required

from .access import ReportScope, may_read_reports, report_scope

View = Callable[..., HttpResponseBase]

# The tabs across the report pages: (url name, label). Each report page names its tab.
TABS: list[tuple[str, Any]] = [
    ("reports:dashboard", _("Overview")),
    ("reports:blueprints", _("Blueprints")),
    ("reports:process", _("Process")),
    ("reports:export", _("Export")),
    ("reports:subscriptions", _("Scheduled")),
]


def reports_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not may_read_reports(request.user):
            raise HttpForbidden
        return view(request, *args, **kwargs)

    return agent_required(wrapper)


def scope_of(request: HttpRequest) -> ReportScope:
    return report_scope(request.user)


def render_report(
    request: HttpRequest, template: str, context: dict[str, Any], *, tab: str, status: int = 200
) -> HttpResponse:
    return render(request, template, {"report_tabs": TABS, "report_tab": tab, **context}, status=status)
