"""SLA reports: compliance, breaches and response/resolution times per department, policy,
team or agent over a period, from the finished clock instances (`SlaRecord`).

Compliance of a metric = the share of its instances finished in the period that met their
target (instances without a target are counted in the times, not in compliance). Times are
given in the clock's own time (business time for business targets) and in calendar time:
average and the 50th, 90th and 95th percentiles (nearest rank).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

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


def sla_report(*, principal: User | Contact, query: Query) -> list[dict[str, Any]]:
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
    group = GROUPS.get(query.group_by or "")
    columns = ["metric", "own_seconds", "calendar_seconds", "target_seconds", "breached"]
    rows = qs.values_list(*columns, *([group] if group else []))[: ROWS_MAX + 1]
    buckets: dict[tuple[Any, str], list[tuple[Any, ...]]] = defaultdict(list)
    for count, row in enumerate(rows.iterator(), start=1):
        if count > ROWS_MAX:
            raise ValidationFailed(
                f"more than {ROWS_MAX:,} finished clocks: narrow the period or the filters"
            )
        key = (row[5] if group else None, row[0])
        buckets[key].append(row)
    out = []
    for (group_value, metric), items in sorted(buckets.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        targeted = [r for r in items if r[3] is not None]
        met = sum(1 for r in targeted if not r[4])
        out.append(
            {
                "group": None if group is None else {query.group_by: group_value},
                "metric": metric,
                "finished": len(items),
                "with_target": len(targeted),
                "breached": sum(1 for r in items if r[4]),
                "compliance": round(met / len(targeted), 4) if targeted else None,
                "own_time_seconds": _times([r[1] for r in items]),
                "calendar_time_seconds": _times([r[2] for r in items]),
            }
        )
    return out
