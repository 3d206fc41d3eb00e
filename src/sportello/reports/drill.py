"""The tickets behind a dashboard number ("drill-down"): the same counts the number sums, found
per ticket (`TicketCount` keeps what each change counted, with its day and dimensions), so the
list holds exactly the tickets the number counted. SLA figures list the tickets of the finished
clocks (`SlaRecord`), satisfaction the answered surveys. Limited to the reader's scope."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from sportello.sla.models import SlaRecord
from sportello.surveys.models import Satisfaction, Survey
from sportello.tickets.models import Ticket
from sportello.web.labels import CHANNEL_LABELS, priority_label, status_label

from .access import ReportScope
from .dashboard import Filters, dimension_q
from .models import TicketCount, TicketFacts

# metric → (label, the TicketCount counter that is positive for it)
COUNTED = {
    "created": ("created", _("Created")),
    "solved": ("solved", _("Solved")),
    "reopened": ("reopened", _("Reopened")),
    "one_touch": ("one_touch", _("Solved with one touch")),
    "merged": ("merged", _("Merged")),
    "first_reply": ("first_replies", _("First replies")),
    "response": ("responses", _("Responses")),
}
METRICS: dict[str, Any] = {
    **{name: label for name, (_counter, label) in COUNTED.items()},
    "backlog": _("Backlog at the end of the period"),
    "sla_breached": _("SLA targets breached"),
    "sla_finished": _("SLA targets finished"),
    "csat_bad": _("Bad satisfaction ratings"),
    "csat_good": _("Good satisfaction ratings"),
}
PAGE_SIZE = 50
# A drill-down opened in the Desk is a personal view listing its tickets by number: at most this
# many (the condition language takes 200 values a list; the view ORs such lists).
VIEW_TICKETS_MAX = 1_000


def narrowed(f: Filters, params: Mapping[str, str]) -> Filters:
    """`f` with what a breakdown's row narrows to that the filter bar has no choice for: no team
    (`team=0`), unassigned (`agent=0`), a tier (`tier=<key>`, empty for none)."""
    out = f
    if params.get("team") == "0":
        out = replace(out, team=0)
    if params.get("agent") == "0":
        out = replace(out, agent=0)
    if "tier" in params:
        out = replace(out, tier=params["tier"][:64])
    return out


def _counted(scope: ReportScope, f: Filters) -> QuerySet[TicketCount]:
    return TicketCount.objects.filter(scope.q("department_id"), dimension_q(f))


def ticket_ids(scope: ReportScope, f: Filters, metric: str, *, sla: str | None = None) -> QuerySet[Any]:
    start, end = f.instants()
    if metric in COUNTED:
        counter = COUNTED[metric][0]
        return (
            _counted(scope, f)
            .filter(day__gte=f.start, day__lte=f.end, **{f"{counter}__gt": 0})
            .values("ticket_id")
        )
    if metric == "backlog":
        return (
            _counted(scope, f)
            .filter(day__lte=f.end)
            .values("ticket_id")
            .annotate(inside=Sum("backlog_in") - Sum("backlog_out"))
            .filter(inside__gt=0)
            .values("ticket_id")
        )
    if metric in ("sla_breached", "sla_finished"):
        qs = SlaRecord.objects.filter(scope.q("department"), ended_at__gte=start, ended_at__lt=end)
        for name, column in (("department", "department_id"), ("team", "team_id"), ("agent", "assignee_id")):
            value = getattr(f, name)
            if value is not None:
                qs = qs.filter(**{column: value or None})
        if f.tier is not None:
            qs = qs.filter(tier=f.tier)
        if sla:
            qs = qs.filter(metric=sla)
        if metric == "sla_breached":
            qs = qs.filter(breached=True)
        return qs.values("ticket_id")
    rating = Satisfaction.BAD if metric == "csat_bad" else Satisfaction.GOOD
    qs2 = Survey.objects.filter(
        scope.q("department"), answered_at__gte=start, answered_at__lt=end, satisfaction=rating
    )
    for name, column in (("department", "department_id"), ("team", "team_id"), ("agent", "agent_id")):
        value = getattr(f, name)
        if value is not None:
            qs2 = qs2.filter(**{column: value or None})
    return qs2.values("ticket_id")


class Listing:
    def __init__(self, qs: QuerySet[Ticket]) -> None:
        self.qs = qs

    def all(self) -> QuerySet[Ticket]:
        return self.qs


def tickets(scope: ReportScope, f: Filters, metric: str, *, sla: str | None = None) -> Listing:
    ids = ticket_ids(scope, f, metric, sla=sla)
    qs = (
        Ticket.objects.filter(Q(pk__in=ids), scope.q("department"))
        .select_related("department", "assignee", "status", "requester")
        .order_by("-id")
    )
    return Listing(qs)


def page(listing: Listing, number: str | None) -> Page[Any]:
    paginator = Paginator(listing.all(), PAGE_SIZE)
    found = paginator.get_page(number)
    facts = TicketFacts.objects.in_bulk([t.pk for t in found.object_list])
    for t in found.object_list:
        fx = facts.get(t.pk)
        t.report_facts = fx  # type: ignore[attr-defined]
        t.first_reply_hours = _h(fx.first_reply_seconds if fx else None)  # type: ignore[attr-defined]
        t.resolution_hours = _h(fx.resolution_seconds if fx else None)  # type: ignore[attr-defined]
    return found


CSV_HEADER = [
    _("Number"),
    _("Subject"),
    _("Department"),
    _("Assignee"),
    _("Status"),
    _("Priority"),
    _("Channel"),
    _("Created"),
    _("First reply (hours)"),
    _("Time to resolution (hours)"),
    _("Reopens"),
]


def _h(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.1f}"


def csv_rows(qs: QuerySet[Ticket]) -> Iterator[list[Any]]:
    """The listing's rows, read 1,000 tickets at a time with their facts."""
    last = None
    while True:
        batch_qs = qs.order_by("-id")
        if last is not None:
            batch_qs = batch_qs.filter(pk__lt=last)
        batch = list(batch_qs[:1000])
        if not batch:
            return
        facts = TicketFacts.objects.in_bulk([t.pk for t in batch])
        for t in batch:
            fx = facts.get(t.pk)
            yield [
                t.number,
                t.subject,
                t.department.name,
                t.assignee.name if t.assignee else "",
                status_label(t.status.key, t.status.name),
                priority_label(t.priority),
                str(CHANNEL_LABELS.get(t.channel, t.channel)),
                t.created_at.isoformat(),
                _h(fx.first_reply_seconds if fx else None),
                _h(fx.resolution_seconds if fx else None),
                fx.reopens if fx else 0,
            ]
        last = batch[-1].pk


def view_condition(numbers: list[int]) -> dict[str, Any]:
    """A saved view's condition holding exactly these tickets (`queues`' condition language)."""
    chunks = [numbers[i : i + 200] for i in range(0, len(numbers), 200)]
    return {"any": [{"field": "ticket.number", "op": "in", "value": chunk} for chunk in chunks]}
