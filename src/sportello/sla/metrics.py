"""SLA reports: compliance, breaches and response/resolution times per department, policy,
team or agent over a period, from the finished clock instances (`SlaRecord`).

Compliance of a metric = the share of its instances finished in the period that met their
target (instances without a target are counted in the times, not in compliance). Times are
given in the clock's own time (business time for business targets) and in calendar time:
average and the 50th, 90th and 95th percentiles (nearest rank). PostgreSQL aggregates in the
database (one GROUP BY query, `percentile_disc`); SQLite reads the rows, at most 500,000 per
report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Aggregate, BigIntegerField, Count, Q, QuerySet, Sum

from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import PermissionDenied, ValidationFailed

from .models import SlaRecord

GROUPS = {
    "department": "department_id",
    "policy": "policy__key",
    "team": "team_id",
    "agent": "assignee_id",
    "tier": "tier",
}
PERCENTILES = (50, 90, 95)
ROWS_MAX = 500_000


@dataclass(frozen=True, slots=True)
class Query:
    start: datetime
    end: datetime
    department_id: int | None = None
    policy: str | None = None
    agent_id: int | None = None
    team_id: int | None = None
    metric: str | None = None
    group_by: str | None = None


def _scope(principal: User | Contact) -> Q:
    """Admins see every department; agents their own departments'."""
    if (
        not isinstance(principal, User)
        or principal.role not in (Role.ADMIN, Role.AGENT)
        or not principal.is_active
    ):
        raise PermissionDenied("only admins and agents read SLA reports")
    if principal.role == Role.ADMIN:
        return Q()
    return Q(department__in=principal.departments.values("pk"))


def percentile(sorted_values: list[int], p: int) -> int | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _times(values: list[int]) -> dict[str, Any]:
    values = sorted(values)
    return {
        "avg": round(sum(values) / len(values)) if values else None,
        **{f"p{p}": percentile(values, p) for p in PERCENTILES},
    }


class _Percentile(Aggregate):
    """PostgreSQL's `percentile_disc`: the first value whose rank reaches the fraction, i.e. the
    nearest-rank percentile `percentile()` computes."""

    function = "percentile_disc"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = BigIntegerField()

    def __init__(self, expression: str, p: int) -> None:
        super().__init__(expression, fraction=f"{p / 100!r}")


@dataclass(frozen=True, slots=True)
class _Bucket:
    group: Any
    metric: str
    finished: int
    with_target: int
    breached: int
    met: int
    own: dict[str, Any]
    calendar: dict[str, Any]


def _filtered(principal: User | Contact, query: Query) -> QuerySet[SlaRecord]:
    if query.end <= query.start:
        raise ValidationFailed("must be after `from`", field="to")
    if query.group_by is not None and query.group_by not in GROUPS:
        raise ValidationFailed(f"must be one of {', '.join(GROUPS)}", field="group_by")
    qs = SlaRecord.objects.filter(_scope(principal), ended_at__gte=query.start, ended_at__lt=query.end)
    if query.department_id is not None:
        qs = qs.filter(department_id=query.department_id)
    if query.policy is not None:
        qs = qs.filter(policy__key=query.policy)
    if query.agent_id is not None:
        qs = qs.filter(assignee_id=query.agent_id)
    if query.team_id is not None:
        qs = qs.filter(team_id=query.team_id)
    if query.metric is not None:
        qs = qs.filter(metric=query.metric)
    return qs


def _in_database(qs: QuerySet[SlaRecord], group: str | None) -> list[_Bucket]:
    """PostgreSQL: one GROUP BY query, however many clocks finished in the period."""
    times = {
        f"{kind}_{name}": aggregate
        for kind, column in (("own", "own_seconds"), ("calendar", "calendar_seconds"))
        for name, aggregate in (
            ("sum", Sum(column)),
            *((f"p{p}", _Percentile(column, p)) for p in PERCENTILES),
        )
    }
    rows = (
        qs.order_by()
        .values(*([group] if group else []), "metric")
        .annotate(
            finished=Count("id"),
            with_target=Count("target_seconds"),
            breached_count=Count("id", filter=Q(breached=True)),
            met=Count("id", filter=Q(target_seconds__isnull=False, breached=False)),
            **times,
        )
    )

    def summary(row: dict[str, Any], kind: str) -> dict[str, Any]:
        return {
            "avg": round(row[f"{kind}_sum"] / row["finished"]),
            **{f"p{p}": row[f"{kind}_p{p}"] for p in PERCENTILES},
        }

    return [
        _Bucket(
            group=row[group] if group else None,
            metric=row["metric"],
            finished=row["finished"],
            with_target=row["with_target"],
            breached=row["breached_count"],
            met=row["met"],
            own=summary(row, "own"),
            calendar=summary(row, "calendar"),
        )
        for row in rows
    ]


def _in_python(qs: QuerySet[SlaRecord], group: str | None) -> list[_Bucket]:
    """SQLite (no percentile aggregate): the rows read and aggregated here, at most ROWS_MAX."""
    columns = ["metric", "own_seconds", "calendar_seconds", "target_seconds", "breached"]
    rows = qs.values_list(*columns, *([group] if group else []))[: ROWS_MAX + 1]
    buckets: dict[tuple[Any, str], list[tuple[Any, ...]]] = defaultdict(list)
    for count, row in enumerate(rows.iterator(), start=1):
        if count > ROWS_MAX:
            raise ValidationFailed(
                f"more than {ROWS_MAX:,} finished clocks: narrow the period or the filters"
            )
        buckets[(row[5] if group else None, row[0])].append(row)
    out = []
    for (group_value, metric), items in buckets.items():
        targeted = [r for r in items if r[3] is not None]
        out.append(
            _Bucket(
                group=group_value,
                metric=metric,
                finished=len(items),
                with_target=len(targeted),
                breached=sum(1 for r in items if r[4]),
                met=sum(1 for r in targeted if not r[4]),
                own=_times([r[1] for r in items]),
                calendar=_times([r[2] for r in items]),
            )
        )
    return out


def sla_report(*, principal: User | Contact, query: Query) -> list[dict[str, Any]]:
    qs = _filtered(principal, query)
    group = GROUPS.get(query.group_by or "")
    aggregate = _in_database if connection.vendor == "postgresql" else _in_python
    buckets = sorted(aggregate(qs, group), key=lambda b: (str(b.group), b.metric))
    return [
        {
            "group": None if group is None else {query.group_by: b.group},
            "metric": b.metric,
            "finished": b.finished,
            "with_target": b.with_target,
            "breached": b.breached,
            "compliance": round(b.met / b.with_target, 4) if b.with_target else None,
            "own_time_seconds": b.own,
            "calendar_time_seconds": b.calendar,
        }
        for b in buckets
    ]
