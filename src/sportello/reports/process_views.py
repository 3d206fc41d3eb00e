"""The process map, `/reports/process/`: a source (a department's status flow or a blueprint)
and a period chosen in a GET form; the directly-follows graph as SVG with its edges as a table,
the variants, conformance with example tickets, the bottleneck, and the log's exports (CSV, XES).
Admins and supervisors, within their `ReportScope` (a source outside it: 404)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET

from sportello.blueprints.selectors import Period
from sportello.core import clock
from sportello.core.errors import NotFound, ValidationFailed
from sportello.engine.mining import DeviationKind
from sportello.engine.mining_svg import Words, render_svg, short_duration

from .mining import (
    CASES_MAX,
    ProcessFigures,
    ProcessLog,
    SourceKind,
    process_figures,
    process_log,
    process_sources,
)
from .mining_export import export_response
from .shell import render_report, reports_required, scope_of

DEFAULT_DAYS = 90
NO_VALUE = "\u2013"  # an en dash: no figure
EXAMPLES_SHOWN = 20
VARIANTS_SHOWN = 10

DEVIATION_LABELS = {
    DeviationKind.REOPENED: gettext_lazy("Reopened after being solved"),
    DeviationKind.BOUNCED: gettext_lazy("Bounced back to a lower tier"),
    DeviationKind.SKIPPED: gettext_lazy("Skipped a step"),
    DeviationKind.OTHER: gettext_lazy("Another step outside the design"),
}
DEVIATION_HELP = {
    DeviationKind.REOPENED: gettext_lazy("Went back from a solved or closed step to an unsolved one."),
    DeviationKind.BOUNCED: gettext_lazy("Was escalated to a higher tier, then moved back down."),
    DeviationKind.SKIPPED: gettext_lazy("Jumped ahead past a step the design goes through, or started late."),
    DeviationKind.OTHER: gettext_lazy("Took a step the design has no way to reach."),
}


@dataclass(frozen=True, slots=True)
class Choice:
    source: str
    start: date
    end: date  # inclusive


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(_("Enter a date like 2026-11-30."), field=field) from None


def _period(start: date, end: date, now: datetime) -> Period:
    zone = timezone.get_current_timezone()
    assert isinstance(zone, zoneinfo.ZoneInfo)
    since = datetime.combine(start, time(0), zone)
    until = datetime.combine(end + timedelta(days=1), time(0), zone)
    return Period.of(start=since, end=until, now=now)


def _read(request: HttpRequest, now: datetime) -> tuple[Choice, ProcessLog | None, list[Any], str | None]:
    """The form's choice, the log it names (None when there is nothing to mine), the sources to
    choose from and an error for the form."""
    scope = scope_of(request)
    sources = process_sources(scope=scope)
    today = timezone.localdate(now)
    error = None
    try:
        start = _day(request.GET.get("from"), "from") or today - timedelta(days=DEFAULT_DAYS - 1)
        end = _day(request.GET.get("to"), "to") or today
    except ValidationFailed as exc:
        start, end, error = today - timedelta(days=DEFAULT_DAYS - 1), today, exc.message
    if end < start:
        start, end, error = (
            end,
            start,
            _("The end of the period was before its start: the two dates were swapped."),
        )
    token = request.GET.get("source") or (sources[0].token if sources else "")
    choice = Choice(token, start, end)
    if not token:
        return choice, None, sources, error
    try:
        period = _period(start, end, now)
    except (OverflowError, ValidationFailed):
        start, end = today - timedelta(days=DEFAULT_DAYS - 1), today
        error = _("Choose dates from the past up to today.")
        period = _period(start, end, now)
    choice = Choice(token, start, end)
    try:
        log = process_log(scope=scope, source=token, period=period)
    except (NotFound, ValidationFailed):
        raise Http404 from None
    return choice, log, sources, error


def percent(share: float) -> str:
    """A share as a percentage: whole when it is, else to one decimal (25%, 33.3%)."""
    value = round(share * 100, 1)
    return f"{value:.0f}%" if value == int(value) else f"{value:.1f}%"


def _label_map(log: ProcessLog) -> dict[str, str]:
    return dict(log.labels)


def _context(figures: ProcessFigures) -> dict[str, Any]:
    log, m = figures.log, figures.mining
    labels = _label_map(log)

    def name(key: str) -> str:
        return labels.get(key, key) if key else _("(start)")

    stats = {s.activity: s for s in m.activities}
    details = {
        s.activity: ngettext("%(cases)s ticket · %(time)s", "%(cases)s tickets · %(time)s", s.cases)
        % {"cases": s.cases, "time": short_duration(s.median_time) if s.median_time is not None else NO_VALUE}
        for s in m.activities
    }
    words = Words(
        title=_("Process map: %(name)s") % {"name": log.name},
        allowed=_("Designed step"),
        deviant=_("Not in the design"),
        bottleneck=_("Bottleneck"),
    )
    svg = render_svg(m, log.model, labels=labels, details=details, words=words, key="process")
    svg = svg.split("\n", 1)[1]  # inline: without the XML declaration
    edges = [
        {
            "source": name(e.source),
            "target": name(e.target),
            "count": e.count,
            "wait": short_duration(e.median_wait),
            "allowed": e.allowed,
        }
        for e in sorted(m.edges, key=lambda e: -e.count)
    ]
    top = max((v.count for v in m.variants), default=1)
    variants = [
        {
            "steps": [name(a) for a in v.activities],
            "count": v.count,
            "share": v.share,
            "percent": percent(v.share),
            "bar": round(100 * v.count / top),
        }
        for v in m.variants[:VARIANTS_SHOWN]
    ]
    deviations = [
        {
            "kind": d.kind.value,
            "label": DEVIATION_LABELS[d.kind],
            "help": DEVIATION_HELP[d.kind],
            "count": d.count,
            "percent": percent(d.share),
            "steps": [f"{name(a)} → {name(b)}" for a, b in d.steps[:5]],
            "tickets": [(pk, figures.numbers.get(pk, pk)) for pk in d.cases[:EXAMPLES_SHOWN]],
            "more": max(0, d.count - EXAMPLES_SHOWN),
        }
        for d in m.deviations
    ]
    bottleneck = None
    if m.bottleneck is not None:
        b = m.bottleneck
        bottleneck = {
            "name": name(b.activity),
            "median": short_duration(b.median_time) if b.median_time is not None else "",
            "total": short_duration(b.total_time),
            "visits": b.finished_visits,
        }
    activities = [
        {
            "name": name(s.activity),
            "visits": s.visits,
            "cases": s.cases,
            "median": short_duration(s.median_time) if s.median_time is not None else NO_VALUE,
            "total": short_duration(s.total_time) if s.finished_visits else NO_VALUE,
        }
        for s in m.activities
        if s.visits
    ]
    return {
        "figures": figures,
        "mining": m,
        "svg": svg,
        "edges": edges,
        "variants": variants,
        "more_variants": max(0, len(m.variants) - VARIANTS_SHOWN),
        "deviations": deviations,
        "bottleneck": bottleneck,
        "activities": activities,
        "conforming_percent": percent(m.conforming_share or 0),
        "stats": stats,
        "cases_max": CASES_MAX,
    }


@reports_required
@require_GET
def process(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    choice, log, sources, error = _read(request, now)
    context: dict[str, Any] = {
        "choice": choice,
        "sources": sources,
        "department_sources": [s for s in sources if s.kind == SourceKind.DEPARTMENT],
        "blueprint_sources": [s for s in sources if s.kind == SourceKind.BLUEPRINT],
        "form_error": error,
        "log": log,
        "query": request.GET.urlencode(),
    }
    if log is not None:
        context["query"] = (
            f"source={log.source.token}&from={choice.start.isoformat()}&to={choice.end.isoformat()}"
        )
        context.update(_context(process_figures(log)))
    return render_report(request, "reports/process.html", context, tab="reports:process")


def _export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    _, log, _, _ = _read(request, clock.now())
    if log is None:
        raise Http404
    return export_response(log, fmt)


@reports_required
@require_GET
def process_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "csv")


@reports_required
@require_GET
def process_export_xes(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "xes")
