"""The support dashboard's figures for a period and filters, each beside the previous period's.

Volume, first reply, responses, resolution, reopens and one-touch come from the daily roll-ups
(`DailyRollup`: a period is a sum over its days, whatever the number of tickets); SLA
compliance from the finished clocks (`sla.models.SlaRecord`), satisfaction from the answered
surveys, deflection from the knowledge base's suggestion log. Every read is limited to the
reader's `ReportScope`. Definitions: docs/metrics.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from sportello.engine import reporting
from sportello.sla.models import SlaRecord
from sportello.surveys.models import Satisfaction, Survey

from .access import ReportScope
from .models import DailyRollup
from .rollups import zone

GROUPS = ("department", "team", "agent", "channel", "priority", "tier")
GROUP_COLUMN = {
    "department": "department_id",
    "team": "team_id",
    "agent": "assignee_id",
    "channel": "channel",
    "priority": "priority",
    "tier": "tier",
}
SLA_METRICS = ("first_response", "next_response", "periodic_update", "resolution")
DAYS_MAX = 400


@dataclass(frozen=True, slots=True)
class Filters:
    start: date  # local dates, both included
    end: date
    department: int | None = None
    team: int | None = None
    agent: int | None = None
    channel: str | None = None
    priority: str | None = None
    tier: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of the same length just before."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def instants(self) -> tuple[datetime, datetime]:
        """[start, end) as instants: the first instant of `start` to the first of the day after `end`."""
        tz = zone()
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )


def dimension_q(f: Filters) -> Q:
    q = Q()
    for name, column in (
        ("department", "department_id"),
        ("team", "team_id"),
        ("agent", "assignee_id"),
        ("channel", "channel"),
        ("priority", "priority"),
        ("tier", "tier"),
    ):
        value = getattr(f, name)
        if value is not None:
            q &= Q(**{column: value})
    return q


def rollups(scope: ReportScope, f: Filters) -> QuerySet[DailyRollup]:
    return DailyRollup.objects.filter(scope.q("department_id"), dimension_q(f))


def _sums(qs: QuerySet[DailyRollup]) -> dict[str, int]:
    found = qs.aggregate(**{name: Sum(name) for name in reporting.COUNTERS})
    return {name: int(found[name] or 0) for name in reporting.COUNTERS}


@dataclass(slots=True)
class Figures:
    """One period's figures (averages in seconds; rates 0..1; None where nothing was measured)."""

    counts: dict[str, int]
    backlog_start: int
    backlog_end: int
    sla: dict[str, dict[str, int]] = field(default_factory=dict)  # metric: finished, breached, met
    satisfaction: dict[str, Any] = field(default_factory=dict)

    def avg(self, total: str, count: str) -> float | None:
        n = self.counts[count]
        return self.counts[total] / n if n else None

    @property
    def first_reply(self) -> float | None:
        return self.avg("first_reply_seconds", "first_replies")

    @property
    def first_reply_business(self) -> float | None:
        return self.avg("first_reply_business_seconds", "first_replies")

    @property
    def response(self) -> float | None:
        return self.avg("response_seconds", "responses")

    @property
    def response_business(self) -> float | None:
        return self.avg("response_business_seconds", "responses")

    @property
    def resolution(self) -> float | None:
        return self.avg("resolution_seconds", "solved")

    @property
    def resolution_business(self) -> float | None:
        return self.avg("resolution_business_seconds", "solved")

    @property
    def reopen_rate(self) -> float | None:
        n = self.counts["solved"]
        return self.counts["reopened"] / n if n else None

    @property
    def one_touch_rate(self) -> float | None:
        n = self.counts["solved"]
        return self.counts["one_touch"] / n if n else None

    def compliance(self, metric: str) -> float | None:
        row = self.sla.get(metric)
        if not row or not row["with_target"]:
            return None
        return row["met"] / row["with_target"]


def backlog_at(scope: ReportScope, f: Filters, day: date) -> int:
    """Unresolved tickets at the end of `day`: every entry into the backlog up to it, less every exit."""
    found = rollups(scope, f).filter(day__lte=day).aggregate(i=Sum("backlog_in"), o=Sum("backlog_out"))
    return int(found["i"] or 0) - int(found["o"] or 0)


def sla_figures(scope: ReportScope, f: Filters) -> dict[str, dict[str, int]]:
    start, end = f.instants()
    qs = SlaRecord.objects.filter(scope.q("department"), ended_at__gte=start, ended_at__lt=end)
    for name, column in (("department", "department_id"), ("team", "team_id"), ("agent", "assignee_id")):
        value = getattr(f, name)
        if value is not None:
            qs = qs.filter(**{column: value or None})  # 0: none (no team, unassigned)
    if f.tier is not None:
        qs = qs.filter(tier=f.tier)
    if f.channel is not None:
        qs = qs.filter(ticket__channel=f.channel)
    rows = (
        qs.order_by()
        .values("metric")
        .annotate(
            finished=Count("id"),
            with_target=Count("target_seconds"),
            breached_n=Count("id", filter=Q(breached=True)),
            met=Count("id", filter=Q(target_seconds__isnull=False, breached=False)),
        )
    )
    return {
        r["metric"]: {
            "finished": r["finished"],
            "with_target": r["with_target"],
            "breached": r["breached_n"],
            "met": r["met"],
        }
        for r in rows
    }


def satisfaction_figures(scope: ReportScope, f: Filters) -> dict[str, Any]:
    """CSAT (share of good among every rating, neutral ones included), CES (average, 1-7) and
    NPS (-100..100) of the surveys answered in the period."""
    start, end = f.instants()
    qs = Survey.objects.filter(scope.q("department"), answered_at__gte=start, answered_at__lt=end)
    for name, column in (("department", "department_id"), ("team", "team_id"), ("agent", "agent_id")):
        value = getattr(f, name)
        if value is not None:
            qs = qs.filter(**{column: value or None})
    if f.tier is not None:
        qs = qs.filter(tier=f.tier)
    found = qs.aggregate(
        rated=Count(
            "id", filter=Q(satisfaction__in=[Satisfaction.GOOD, Satisfaction.NEUTRAL, Satisfaction.BAD])
        ),
        good=Count("id", filter=Q(satisfaction=Satisfaction.GOOD)),
        ces_n=Count("ces"),
        ces_sum=Sum("ces"),
        nps_n=Count("nps"),
        promoters=Count("id", filter=Q(nps__gte=9)),
        detractors=Count("id", filter=Q(nps__lte=6)),
    )
    rated, nps_n, ces_n = found["rated"], found["nps_n"], found["ces_n"]
    return {
        "rated": rated,
        "good": found["good"],
        "csat": found["good"] / rated if rated else None,
        "ces_n": ces_n,
        "ces": (found["ces_sum"] or 0) / ces_n if ces_n else None,
        "nps_n": nps_n,
        "nps": 100 * (found["promoters"] - found["detractors"]) / nps_n if nps_n else None,
    }


def figures(scope: ReportScope, f: Filters) -> Figures:
    qs = rollups(scope, f)
    return Figures(
        counts=_sums(qs.filter(day__gte=f.start, day__lte=f.end)),
        backlog_start=backlog_at(scope, f, f.start - timedelta(days=1)),
        backlog_end=backlog_at(scope, f, f.end),
        sla=sla_figures(scope, f),
        satisfaction=satisfaction_figures(scope, f),
    )


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    counts: dict[str, int]
    backlog: int


def series(scope: ReportScope, f: Filters) -> list[Day]:
    """Each day of the period with its counts and the backlog at its end."""
    qs = rollups(scope, f)
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(reporting.COUNTERS, 0))
    rows = (
        qs.filter(day__gte=f.start, day__lte=f.end)
        .order_by()
        .values("day")
        .annotate(**{f"s_{name}": Sum(name) for name in reporting.COUNTERS})
    )
    for values in rows:
        r: dict[str, Any] = dict(values)
        by_day[r["day"]] = {name: int(r[f"s_{name}"] or 0) for name in reporting.COUNTERS}
    backlog = backlog_at(scope, f, f.start - timedelta(days=1))
    out = []
    for i in range(f.days):
        day = f.start + timedelta(days=i)
        counts = by_day[day]
        backlog += counts["backlog_in"] - counts["backlog_out"]
        out.append(Day(day=day, counts=counts, backlog=backlog))
    return out


@dataclass(frozen=True, slots=True)
class Group:
    value: Any  # the dimension's value (an id, a channel, a priority name, a tier key)
    counts: dict[str, int]

    def avg(self, total: str, count: str) -> float | None:
        n = self.counts[count]
        return self.counts[total] / n if n else None


def breakdown(scope: ReportScope, f: Filters, group: str) -> list[Group]:
    """The period's counts per value of a dimension, largest volume first."""
    column = GROUP_COLUMN[group]
    rows = (
        rollups(scope, f)
        .filter(day__gte=f.start, day__lte=f.end)
        .order_by()
        .values(column)
        .annotate(**{f"s_{name}": Sum(name) for name in reporting.COUNTERS})
    )
    out = [
        Group(value=r[column], counts={name: int(r[f"s_{name}"] or 0) for name in reporting.COUNTERS})
        for r in rows
    ]
    out = [g for g in out if any(g.counts[n] for n in ("created", "solved", "first_replies", "responses"))]
    return sorted(out, key=lambda g: (-g.counts["created"] - g.counts["solved"], str(g.value)))


def changed(now: float | None, before: float | None) -> float | None:
    """The relative change from the previous period (None when either is missing or it was 0)."""
    if now is None or before is None or before == 0:
        return None
    return (now - before) / abs(before)
