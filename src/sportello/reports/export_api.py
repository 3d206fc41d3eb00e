"""`GET /api/v1/reports/tickets.csv`: the per-ticket CSV export (`reports.export`) for the API,
with the Export tab's filters: `from`/`to` (ISO 8601 instants with an offset) on the tickets'
creation or latest solve (`dates`), `department_id`, `assignee_id`, `channel`, `status` (a
status key). Admins and supervisors only (403 otherwise); a supervisor's export holds their
departments' tickets, and another department answers 404. The header is in the request's
language (`Accept-Language`) and the instants in the caller's time zone."""

from __future__ import annotations

import zoneinfo
from typing import Literal

from django.http import StreamingHttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.core import clock
from sportello.core.errors import ValidationFailed
from sportello.core.instants import Instant

from . import export
from .access import report_scope
from .export_views import csv_response

router = Router(tags=["reports"])


class TicketExportQuery(Schema):
    start: Instant | None = Field(default=None, alias="from", description="default: every ticket")
    end: Instant | None = Field(default=None, alias="to", description="default: up to now")
    dates: Literal["created", "solved"] = "created"
    department_id: int | None = None
    assignee_id: int | None = None
    channel: str | None = None
    status: str | None = None


@router.get(
    "/reports/tickets.csv",
    summary="Tickets with their figures, as CSV",
    response={200: None},
    openapi_extra={
        "responses": {
            "200": {"description": "text/csv; charset=utf-8, UTF-8 with a BOM", "content": {"text/csv": {}}}
        }
    },
)
def tickets_csv(request: ApiRequest, params: Query[TicketExportQuery]) -> StreamingHttpResponse:
    scope = report_scope(request.auth)
    for name, instant in (("from", params.start), ("to", params.end)):
        if instant is not None and instant.tzinfo is None:
            raise ValidationFailed("needs a UTC offset (e.g. 2026-12-01T00:00:00Z)", field=name)
    filters = export.ExportFilters(
        start=params.start,
        end=params.end,
        dates=params.dates,
        department_id=params.department_id,
        assignee_id=params.assignee_id,
        channel=params.channel,
        status=params.status,
    )
    try:
        zone: zoneinfo.ZoneInfo = zoneinfo.ZoneInfo(scope.user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    now = clock.now()
    lines = export.ticket_csv(scope=scope, filters=filters, zone=zone, now=now)
    return csv_response(lines, export.export_filename(filters, zone=zone, now=now))
