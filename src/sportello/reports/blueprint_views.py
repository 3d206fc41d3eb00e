"""The Blueprint dashboard under `/reports/blueprints/`: the blueprints of the reader's scope with
their headline figures for a period, one blueprint's figures (tiles, the flowchart with the
tickets in each state, average time per state as a bar chart, time to complete, transitions,
tickets over their state's limit, limit violations), and each table as CSV.

Admins and supervisors only (`shell.reports_required`: 403 for other agents); a blueprint of a
department outside the reader's scope answers 404, as a missing one. Periods are read in the
viewer's time zone (`periods.report_period`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from sportello.contacts.transfer import csv_lines
from sportello.core import clock
from sportello.core.errors import NotFound
from sportello.engine.blueprint_svg_badges import Badge, render_badged_svg
from sportello.engine.rules import format_duration

from . import blueprint_dashboard as dashboard
from .bar_chart import Series, bar_chart
from .periods import PeriodChoice, ReportPeriod, report_period
from .shell import render_report, reports_required, scope_of

TAB = "reports:blueprints"
TABLES = ("states", "transitions", "overdue")


def span_text(span: timedelta | None) -> str:
    """A duration in words, two units at most ("2 days, 4 hours"); "—" for none."""
    if span is None:
        return "—"
    now = clock.now()
    return timesince(now - span, now, depth=2)


def hours(span: timedelta | None) -> str:
    """Hours with one decimal ("1.5"); empty for none."""
    return "" if span is None else f"{span.total_seconds() / 3600:.1f}"


def seconds(span: timedelta | None) -> str:
    return "" if span is None else str(int(span.total_seconds()))


def _period(request: HttpRequest) -> ReportPeriod:
    return report_period(request.GET, now=clock.now(), zone=timezone.get_current_timezone())


def _period_context(period: ReportPeriod) -> dict[str, Any]:
    return {"period": period, "period_choices": PeriodChoice.choices, "custom": PeriodChoice.CUSTOM}


@reports_required
@require_GET
def blueprints(request: HttpRequest) -> HttpResponse:
    """The blueprints in the reader's scope with their figures for the period."""
    period = _period(request)
    scope = scope_of(request)
    rows = dashboard.blueprint_rows(scope=scope, start=period.start, end=period.end)
    context = {
        **_period_context(period),
        "rows": [{"row": r, "average_completion": span_text(r.metrics.average_completion)} for r in rows],
        "is_admin": scope.everything,
    }
    return render_report(request, "reports/blueprints.html", context, tab=TAB)


def _badges(board: dashboard.BlueprintDashboard) -> dict[str, list[Badge]]:
    out: dict[str, list[Badge]] = {}
    for s in board.states:
        badges = [
            Badge(
                text=_("%(n)s now") % {"n": s.active},
                title=ngettext(
                    "%(n)s ticket in “%(state)s” now", "%(n)s tickets in “%(state)s” now", s.active
                )
                % {"n": s.active, "state": s.name},
            )
        ]
        if s.overdue:
            badges.append(
                Badge(
                    text=_("%(n)s over") % {"n": s.overdue},
                    title=ngettext(
                        "%(n)s of them over the state's time limit",
                        "%(n)s of them over the state's time limit",
                        s.overdue,
                    )
                    % {"n": s.overdue},
                    alert=True,
                )
            )
        out[s.key] = badges
    return out


def _time_chart(board: dashboard.BlueprintDashboard) -> str:
    def value_text(value: float) -> str:
        return _("%(h)s h") % {"h": f"{value:.1f}"}

    return bar_chart(
        chart_id="bp-time-chart",
        title=_("Average time in each state, in hours"),
        description=_("The same numbers are in the table “By state” below."),
        categories=[s.name for s in board.states],
        series=[
            Series(_("Calendar time"), [_hours_value(s.average) for s in board.states]),
            Series(_("Business time"), [_hours_value(s.average_business) for s in board.states]),
        ],
        value_text=value_text,
    )


def _hours_value(span: timedelta | None) -> float | None:
    return None if span is None else span.total_seconds() / 3600


@reports_required
@require_GET
def blueprint(request: HttpRequest, key: str) -> HttpResponse:
    """One blueprint's figures for the period."""
    period = _period(request)
    try:
        board = dashboard.blueprint_dashboard(
            scope=scope_of(request), key=key, start=period.start, end=period.end
        )
    except NotFound:
        raise Http404 from None
    m = board.metrics
    context = {
        **_period_context(period),
        "board": board,
        "m": m,
        "flowchart": render_badged_svg(board.definition, _badges(board)).split("\n", 1)[1],
        "time_chart": _time_chart(board),
        "states": [
            {
                "figures": s,
                "limit": format_duration(s.time_limit) if s.time_limit is not None else "",
                "average": span_text(s.average),
                "average_business": span_text(s.average_business),
            }
            for s in board.states
        ],
        "overdue": [{"o": o, "over_by": span_text(o.over_by)} for o in board.overdue[:100]],
        "more_overdue": max(len(board.overdue) - 100, 0),
        "has_limits": any(s.time_limit is not None for s in board.definition.states),
        "average_completion": span_text(m.average_completion),
        "average_completion_business": span_text(m.average_completion_business),
        "quiet": not (m.active or m.completed or m.transition_counts or m.limit_violations),
    }
    return render_report(request, "reports/blueprint.html", context, tab=TAB)


# -- CSV -------------------------------------------------------------------------------------------


def _csv(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _stamp(period: ReportPeriod) -> str:
    return f"{period.first_day.isoformat()}_{period.last_day.isoformat()}"


@reports_required
@require_GET
def blueprints_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The list's table: one line per blueprint of the reader's scope."""
    period = _period(request)
    rows = dashboard.blueprint_rows(scope=scope_of(request), start=period.start, end=period.end)
    header = [
        _("Blueprint"),
        _("Department"),
        _("Active tickets"),
        _("Over the limit now"),
        _("Runs completed"),
        _("Average time to complete (seconds)"),
        _("Average time to complete (hours)"),
        _("Average time to complete, business (seconds)"),
        _("Average time to complete, business (hours)"),
        _("Transitions performed"),
        _("Limit violations"),
        _("Tickets with violations"),
    ]
    lines: Iterable[Sequence[str]] = (
        [
            r.blueprint.name,
            r.department,
            str(r.metrics.active),
            str(len(r.metrics.overdue)),
            str(r.metrics.completed),
            seconds(r.metrics.average_completion),
            hours(r.metrics.average_completion),
            seconds(r.metrics.average_completion_business),
            hours(r.metrics.average_completion_business),
            str(r.transitions),
            str(r.metrics.limit_violations),
            str(r.metrics.tickets_with_violations),
        ]
        for r in rows
    )
    return _csv(csv_lines(header, lines), f"blueprints_{_stamp(period)}.csv")


def _table(board: dashboard.BlueprintDashboard, table: str) -> tuple[list[str], list[list[str]]]:
    if table == "states":
        return (
            [
                _("State"),
                _("Tickets now"),
                _("Over the limit now"),
                _("Time limit"),
                _("Average time (seconds)"),
                _("Average time (hours)"),
                _("Average business time (seconds)"),
                _("Average business time (hours)"),
            ],
            [
                [
                    s.name,
                    str(s.active),
                    str(s.overdue),
                    format_duration(s.time_limit) if s.time_limit is not None else "",
                    seconds(s.average),
                    hours(s.average),
                    seconds(s.average_business),
                    hours(s.average_business),
                ]
                for s in board.states
            ],
        )
    if table == "transitions":
        return (
            [_("Transition"), _("From state"), _("To state"), _("Times")],
            [
                [
                    t.name,
                    _("Any state") if t.from_states is None else ", ".join(t.from_states),
                    t.to_state,
                    str(t.count),
                ]
                for t in board.transitions
            ],
        )
    return (
        [
            _("Ticket"),
            _("Subject"),
            _("State"),
            _("In the state since"),
            _("Over the limit by (seconds)"),
            _("Over the limit by (hours)"),
        ],
        [
            [
                str(o.number) if o.number is not None else "",
                o.subject,
                o.state,
                timezone.localtime(o.entered_at).isoformat(),
                seconds(o.over_by),
                hours(o.over_by),
            ]
            for o in board.overdue
        ],
    )


@reports_required
@require_GET
def blueprint_csv(request: HttpRequest, key: str, table: str) -> StreamingHttpResponse:
    """One of a blueprint's tables (`TABLES`) for the period."""
    if table not in TABLES:
        raise Http404
    period = _period(request)
    try:
        board = dashboard.blueprint_dashboard(
            scope=scope_of(request), key=key, start=period.start, end=period.end
        )
    except NotFound:
        raise Http404 from None
    header, rows = _table(board, table)
    return _csv(csv_lines(header, rows), f"{board.blueprint.key}_{table}_{_stamp(period)}.csv")
