"""`/api/v1/reports/process`: process mining over a department's status flow or a blueprint
(docs/process-mining.md), and its event log as CSV or XES.

Admins and supervisors only (403 for everyone else); a source outside the reader's scope, or
one that does not exist, is a 404. The period is [from, to): cases (tickets) that started in it;
default the last 90 days up to now."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import StreamingHttpResponse
from ninja import Field, Query, Router, Schema

from sportello.accounts.http import ApiRequest
from sportello.blueprints.selectors import Period
from sportello.core import clock
from sportello.core.errors import ValidationFailed
from sportello.core.instants import Instant

from .access import report_scope
from .mining import CASES_MAX, EXAMPLES_MAX, ProcessFigures, process_figures, process_log
from .mining_export import export_response

router = Router(tags=["reports"])
DEFAULT_DAYS = 90


class ProcessMiningQuery(Schema):
    source: str = Field(description="`department:<id>` (its status flow) or `blueprint:<key>`")
    start: Instant | None = Field(default=None, alias="from", description="default: 90 days before `to`")
    end: Instant | None = Field(default=None, alias="to", description="default (and at most): now")


class MiningActivityOut(Schema):
    key: str
    name: str
    visits: int
    tickets: int
    starts: int
    ends: int
    median_seconds: float | None
    total_seconds: float


class MiningEdgeOut(Schema):
    source: str
    target: str
    count: int
    median_wait_seconds: float
    allowed: bool


class MiningVariantOut(Schema):
    activities: list[str]
    count: int
    share: float


class MiningTicketRef(Schema):
    id: int
    number: int


class MiningDeviationOut(Schema):
    kind: str
    count: int
    share: float
    steps: list[list[str]]
    tickets: list[MiningTicketRef]


class MiningBottleneckOut(Schema):
    key: str
    name: str
    median_seconds: float | None
    total_seconds: float
    visits: int


class MiningDesignedOut(Schema):
    activities: list[str]
    edges: list[list[str]]
    starts: list[str]
    ends: list[str]
    resolved: list[str]


class ProcessMiningOut(Schema):
    source: str
    name: str
    department_id: int
    start: datetime | None
    end: datetime
    cases: int
    events: int
    completed: int
    truncated: bool
    cases_max: int
    designed: MiningDesignedOut
    activities: list[MiningActivityOut]
    edges: list[MiningEdgeOut]
    variants: list[MiningVariantOut]
    conforming: int
    conforming_share: float | None
    deviations: list[MiningDeviationOut]
    bottleneck: MiningBottleneckOut | None


def _log(request: ApiRequest, params: ProcessMiningQuery) -> Any:
    scope = report_scope(request.auth)
    now = clock.now()
    end = params.end or now
    try:
        start = params.start if params.start is not None else min(end, now) - timedelta(days=DEFAULT_DAYS)
    except OverflowError:
        raise ValidationFailed("is too early", field="to") from None
    return process_log(scope=scope, source=params.source, period=Period.of(start=start, end=end, now=now))


def process_out(figures: ProcessFigures) -> dict[str, Any]:
    log, m = figures.log, figures.mining
    model = log.model
    return {
        "source": log.source.token,
        "name": log.name,
        "department_id": log.department.pk,
        "start": log.period.start,
        "end": log.period.end,
        "cases": m.cases,
        "events": m.events,
        "completed": m.completed,
        "truncated": figures.truncated,
        "cases_max": CASES_MAX,
        "designed": {
            "activities": list(model.activities),
            "edges": [list(e) for e in sorted(model.edges)],
            "starts": sorted(model.starts),
            "ends": sorted(model.ends),
            "resolved": sorted(model.resolved),
        },
        "activities": [
            {
                "key": s.activity,
                "name": log.labels.get(s.activity, s.activity),
                "visits": s.visits,
                "tickets": s.cases,
                "starts": s.starts,
                "ends": s.ends,
                "median_seconds": s.median_time.total_seconds() if s.median_time is not None else None,
                "total_seconds": s.total_time.total_seconds(),
            }
            for s in m.activities
        ],
        "edges": [
            {
                "source": e.source,
                "target": e.target,
                "count": e.count,
                "median_wait_seconds": e.median_wait.total_seconds(),
                "allowed": e.allowed,
            }
            for e in m.edges
        ],
        "variants": [
            {"activities": list(v.activities), "count": v.count, "share": v.share} for v in m.variants
        ],
        "conforming": m.conforming,
        "conforming_share": m.conforming_share,
        "deviations": [
            {
                "kind": d.kind.value,
                "count": d.count,
                "share": d.share,
                "steps": [list(s) for s in d.steps],
                "tickets": [
                    {"id": pk, "number": figures.numbers.get(pk, pk)} for pk in d.cases[:EXAMPLES_MAX]
                ],
            }
            for d in m.deviations
        ],
        "bottleneck": None
        if m.bottleneck is None
        else {
            "key": m.bottleneck.activity,
            "name": log.labels.get(m.bottleneck.activity, m.bottleneck.activity),
            "median_seconds": m.bottleneck.median_time.total_seconds()
            if m.bottleneck.median_time is not None
            else None,
            "total_seconds": m.bottleneck.total_time.total_seconds(),
            "visits": m.bottleneck.finished_visits,
        },
    }


@router.get(
    "/reports/process", response=ProcessMiningOut, summary="Process mining of a status flow or a blueprint"
)
def process(request: ApiRequest, params: Query[ProcessMiningQuery]) -> dict[str, Any]:
    """The directly-follows graph (counts, median waits), every variant with its share,
    conformance against the designed model by deviation kind (with up to 100 tickets each) and the
    bottleneck, for the tickets that started in [from, to)."""
    return process_out(process_figures(_log(request, params)))


@router.get("/reports/process/export.csv", summary="The process's event log as CSV")
def process_csv(request: ApiRequest, params: Query[ProcessMiningQuery]) -> StreamingHttpResponse:
    """One row per event: case_id (the ticket number), activity, timestamp, resource, department."""
    return export_response(_log(request, params), "csv")


@router.get("/reports/process/export.xes", summary="The process's event log as XES (IEEE 1849-2016)")
def process_xes(request: ApiRequest, params: Query[ProcessMiningQuery]) -> StreamingHttpResponse:
    """One trace per ticket, one event per step, for process-mining tools."""
    return export_response(_log(request, params), "xes")
