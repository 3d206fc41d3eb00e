"""The overview's figures as the page and the scheduled mails show them: tiles beside the
previous period, SLA compliance per target, the day-by-day series, a breakdown by a dimension,
each number with the link to its tickets (`drill_url`). Needs no request: `report_context`
takes a scope, filters and a group."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sportello.accounts.models import Department, Team, User
from sportello.kb.deflection import deflection_stats
from sportello.web.labels import CHANNEL_LABELS, priority_label

from . import charts
from .access import ReportScope
from .dashboard import Figures, Filters, breakdown, changed, figures, series
from .forms import GROUP_LABELS

SLA_LABELS = {
    "first_response": gettext_lazy("First response"),
    "next_response": gettext_lazy("Next response"),
    "periodic_update": gettext_lazy("Periodic update"),
    "resolution": gettext_lazy("Resolution"),
}


def hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    value = seconds / 3600
    return _("%(h)s h") % {"h": f"{value:,.1f}"}


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.0f}%"


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def filters_params(f: Filters) -> dict[str, Any]:
    params: dict[str, Any] = {"period": "custom", "start": f.start.isoformat(), "end": f.end.isoformat()}
    for name in ("department", "team", "agent", "channel", "priority", "tier"):
        value = getattr(f, name)
        if value is not None:
            params[name] = value
    return params


def drill_url(f: Filters, metric: str, **narrow: Any) -> str:
    params = {**filters_params(f), **{k: v for k, v in narrow.items() if v is not None}, "metric": metric}
    return f"{reverse('reports:tickets')}?{urlencode(params)}"


def _tile(
    label: str,
    now: float | None,
    before: float | None,
    show: Callable[[float | None], str],
    *,
    lower_is_better: bool = False,
    url: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    delta = changed(now, before)
    trend = ""
    if delta is not None and abs(delta) >= 0.005:
        better = (delta < 0) if lower_is_better else (delta > 0)
        trend = "better" if better else "worse"
    return {
        "label": label,
        "value": show(now),
        "previous": show(before),
        "delta": None if delta is None else f"{delta:+.0%}",
        "trend": trend,
        "url": url,
        "note": note,
    }


def _deflection(scope: ReportScope, f: Filters) -> list[dict[str, Any]]:
    """The knowledge base's deflection rate (desk-wide: portal sessions have no department), for
    readers of every department."""
    if not scope.everything:
        return []
    moment = timezone.now()
    now = deflection_stats(since=f.instants()[0], until=f.instants()[1], now=moment)
    p = f.previous()
    before = deflection_stats(since=p.instants()[0], until=p.instants()[1], now=moment)
    note = _("%(n)s portal sessions decided, whole desk") % {"n": now.deflected + now.not_deflected}
    return [_tile(_("Self-service deflection"), now.rate, before.rate, percent, note=note)]


def _tiles(f: Filters, now: Figures, before: Figures) -> list[dict[str, Any]]:
    c, p = now.counts, before.counts
    sat, psat = now.satisfaction, before.satisfaction
    return [
        _tile(_("Created"), c["created"], p["created"], number, url=drill_url(f, "created")),
        _tile(_("Solved"), c["solved"], p["solved"], number, url=drill_url(f, "solved")),
        _tile(
            _("Backlog at the end"),
            now.backlog_end,
            before.backlog_end,
            number,
            lower_is_better=True,
            url=drill_url(f, "backlog"),
        ),
        _tile(
            _("First reply, average"),
            now.first_reply,
            before.first_reply,
            hours,
            lower_is_better=True,
            url=drill_url(f, "first_reply"),
            note=_("%(h)s in business hours") % {"h": hours(now.first_reply_business)},
        ),
        _tile(
            _("Response time, average"),
            now.response,
            before.response,
            hours,
            lower_is_better=True,
            url=drill_url(f, "response"),
            note=_("%(h)s in business hours") % {"h": hours(now.response_business)},
        ),
        _tile(
            _("Time to resolution, average"),
            now.resolution,
            before.resolution,
            hours,
            lower_is_better=True,
            url=drill_url(f, "solved"),
            note=_("%(h)s in business hours") % {"h": hours(now.resolution_business)},
        ),
        _tile(
            _("Reopen rate"),
            now.reopen_rate,
            before.reopen_rate,
            percent,
            lower_is_better=True,
            url=drill_url(f, "reopened"),
        ),
        _tile(
            _("One-touch resolution"),
            now.one_touch_rate,
            before.one_touch_rate,
            percent,
            url=drill_url(f, "one_touch"),
        ),
        _tile(
            _("CSAT"),
            sat.get("csat"),
            psat.get("csat"),
            percent,
            url=drill_url(f, "csat_bad"),
            note=_("%(n)s ratings") % {"n": sat.get("rated", 0)},
        ),
        _tile(
            _("CES, average (1 to 7)"),
            sat.get("ces"),
            psat.get("ces"),
            lambda v: "—" if v is None else f"{v:.1f}",
            lower_is_better=True,
            note=_("%(n)s answers") % {"n": sat.get("ces_n", 0)},
        ),
        _tile(
            _("NPS"),
            sat.get("nps"),
            psat.get("nps"),
            lambda v: "—" if v is None else f"{v:+.0f}",
            note=_("%(n)s answers") % {"n": sat.get("nps_n", 0)},
        ),
    ]


def _sla_rows(f: Filters, now: Figures, before: Figures) -> list[dict[str, Any]]:
    out = []
    for metric, label in SLA_LABELS.items():
        row = now.sla.get(metric)
        if row is None and metric not in before.sla:
            continue
        row = row or {"finished": 0, "with_target": 0, "breached": 0, "met": 0}
        out.append(
            {
                "label": label,
                "finished": row["finished"],
                "breached": row["breached"],
                "compliance": percent(now.compliance(metric)),
                "previous": percent(before.compliance(metric)),
                "breached_url": drill_url(f, "sla_breached", sla=metric),
                "finished_url": drill_url(f, "sla_finished", sla=metric),
            }
        )
    return out


def _day_label(d: date) -> str:
    return date_format(d, "M j")


def group_labels(group: str, values: Iterable[Any]) -> dict[Any, str]:
    values = list(values)
    ids = [v for v in values if isinstance(v, int) and v]
    if group == "department":
        found = dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif group == "team":
        found = dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif group == "agent":
        found = {u.pk: u.name or u.email for u in User.objects.filter(pk__in=ids)}
    elif group == "channel":
        found = {v: str(CHANNEL_LABELS.get(v, v)) for v in values}
    elif group == "priority":
        found = {v: priority_label(v) for v in values}
    else:
        found = {v: v for v in values if v}
    none = {
        "team": _("No team"),
        "agent": _("Unassigned"),
        "tier": _("No tier"),
    }.get(group, _("None"))
    return {v: found.get(v) or none for v in values}


def report_context(scope: ReportScope, f: Filters, group: str) -> dict[str, Any]:
    """Everything the overview shows for `f` within `scope`, broken down by `group`: the tiles
    beside the previous period, SLA rows, the day-by-day charts and rows, the breakdown. What
    the page and the scheduled mails share; it needs no request."""
    now, before = figures(scope, f), figures(scope, f.previous())
    days = series(scope, f)
    labels = [_day_label(d.day) for d in days]
    volume = charts.bars(
        _("Created and solved per day"),
        labels,
        [
            charts.Series(_("Created"), [d.counts["created"] for d in days]),
            charts.Series(_("Solved"), [d.counts["solved"] for d in days]),
        ],
    )
    backlog = charts.lines(
        _("Backlog at the end of each day"), labels, [charts.Series(_("Backlog"), [d.backlog for d in days])]
    )

    def avg_hours(d: Any, total: str, count: str) -> float | None:
        n = d.counts[count]
        return round(d.counts[total] / n / 3600, 2) if n else None

    times = charts.lines(
        _("First reply and response, average per day (hours)"),
        labels,
        [
            charts.Series(
                _("First reply"), [avg_hours(d, "first_reply_seconds", "first_replies") for d in days]
            ),
            charts.Series(_("Response"), [avg_hours(d, "response_seconds", "responses") for d in days]),
        ],
        unit="h",
    )
    resolution = charts.lines(
        _("Time to resolution, average per day (hours)"),
        labels,
        [charts.Series(_("Resolution"), [avg_hours(d, "resolution_seconds", "solved") for d in days])],
        unit="h",
    )
    groups = breakdown(scope, f, group)
    names = group_labels(group, [g.value for g in groups])
    group_rows = []
    for g in groups:
        narrow = {group: g.value if g.value not in (None, "") else 0}
        if group == "tier" and not g.value:
            narrow = {"tier": ""}
        solved = g.counts["solved"]
        group_rows.append(
            {
                "name": names[g.value],
                "created": g.counts["created"],
                "created_url": drill_url(f, "created", **narrow),
                "solved": solved,
                "solved_url": drill_url(f, "solved", **narrow),
                "first_reply": hours(g.avg("first_reply_seconds", "first_replies")),
                "response": hours(g.avg("response_seconds", "responses")),
                "resolution": hours(g.avg("resolution_seconds", "solved")),
                "reopen_rate": percent(g.counts["reopened"] / solved if solved else None),
                "one_touch": percent(g.counts["one_touch"] / solved if solved else None),
            }
        )
    return {
        "scope": scope,
        "filters": f,
        "previous": f.previous(),
        "tiles": _tiles(f, now, before) + _deflection(scope, f),
        "sla_rows": _sla_rows(f, now, before),
        "volume": volume,
        "backlog": backlog,
        "times": times,
        "resolution": resolution,
        "days": [
            {
                "label": labels[i],
                "created": d.counts["created"],
                "solved": d.counts["solved"],
                "backlog": d.backlog,
                "first_reply": hours(d.counts["first_reply_seconds"] / d.counts["first_replies"])
                if d.counts["first_replies"]
                else "—",
                "response": hours(d.counts["response_seconds"] / d.counts["responses"])
                if d.counts["responses"]
                else "—",
                "resolution": hours(d.counts["resolution_seconds"] / d.counts["solved"])
                if d.counts["solved"]
                else "—",
                "created_url": drill_url(Filters(**{**_plain(f), "start": d.day, "end": d.day}), "created"),
                "solved_url": drill_url(Filters(**{**_plain(f), "start": d.day, "end": d.day}), "solved"),
            }
            for i, d in enumerate(days)
        ],
        "group": group,
        "group_label": GROUP_LABELS[group],
        "group_rows": group_rows,
        "csv_params": urlencode({**filters_params(f), "group": group}),
    }


def _plain(f: Filters) -> dict[str, Any]:
    return {name: getattr(f, name) for name in f.__slots__}
