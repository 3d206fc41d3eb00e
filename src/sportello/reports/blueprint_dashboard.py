"""The Blueprint dashboard's reads: the blueprints of a reader's report scope with their headline
figures for a period, and one blueprint's figures laid out for its page and its CSV files.

The figures are `blueprints.selectors.blueprint_metrics`' (the blueprint's current definition over
the log of every version): tickets in each working state at the end of the period and those over
the state's time limit, average time per state and to complete (calendar and business time),
transitions performed, limit violations. Everything is named by its label (state and transition
names), never by key.

Scope: admins read every blueprint, supervisors those of their departments; a blueprint of
another department is `NotFound` (as a missing one). An overdue ticket that has since left the
reader's departments is listed by number only, without its subject or a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sportello.accounts.models import Department
from sportello.blueprints import selectors
from sportello.blueprints.models import Blueprint
from sportello.core.errors import NotFound
from sportello.engine import blueprints as engine
from sportello.tickets.models import Ticket

from .access import ReportScope


def metrics_period(*, start: datetime, end: datetime) -> selectors.Period:
    return selectors.Period(start=start, end=max(end, start))


@dataclass(frozen=True, slots=True)
class BlueprintRow:
    """A blueprint with its headline figures, as the list shows it."""

    blueprint: Blueprint
    department: str
    metrics: engine.BlueprintMetrics

    @property
    def transitions(self) -> int:
        return sum(n for _, n in self.metrics.transition_counts)


def blueprint_rows(*, scope: ReportScope, start: datetime, end: datetime) -> list[BlueprintRow]:
    """The blueprints in `scope`, by department name and name, with their figures over
    [start, end)."""
    found = [
        (row, m)
        for row, m in selectors.blueprints_metrics(
            principal=scope.user, period=metrics_period(start=start, end=end)
        )
        if scope.allows(row.department_id)
    ]
    names = dict(
        Department.objects.filter(pk__in={row.department_id for row, _ in found}).values_list("pk", "name")
    )
    rows = [BlueprintRow(row, names.get(row.department_id, ""), m) for row, m in found]
    rows.sort(key=lambda r: (r.department.casefold(), r.blueprint.name.casefold(), r.blueprint.key))
    return rows


@dataclass(frozen=True, slots=True)
class StateFigures:
    key: str
    name: str
    active: int
    overdue: int
    time_limit: timedelta | None
    business_limit: bool
    average: timedelta | None
    average_business: timedelta | None


@dataclass(frozen=True, slots=True)
class TransitionFigures:
    key: str
    name: str
    from_states: tuple[str, ...] | None  # names; None: from any state
    to_state: str
    count: int


@dataclass(frozen=True, slots=True)
class OverdueTicket:
    ticket_id: int
    number: int | None  # None: no longer in the reader's departments (nor its subject)
    subject: str
    state: str
    entered_at: datetime
    over_by: timedelta


@dataclass(frozen=True, slots=True)
class BlueprintDashboard:
    blueprint: Blueprint
    department: str
    definition: engine.Blueprint
    metrics: engine.BlueprintMetrics
    states: list[StateFigures]  # the working (non-terminal) states, in definition order
    transitions: list[TransitionFigures]  # performed in the period, most frequent first
    overdue: list[OverdueTicket]  # most overdue first

    @property
    def transitions_performed(self) -> int:
        return sum(t.count for t in self.transitions)


def blueprint_in_scope(*, scope: ReportScope, key: str) -> Blueprint:
    row = selectors.blueprint_get(principal=scope.user, key=key)
    if not scope.allows(row.department_id):
        raise NotFound("blueprint not found")
    return row


def blueprint_dashboard(
    *, scope: ReportScope, key: str, start: datetime, end: datetime
) -> BlueprintDashboard:
    """One blueprint's figures over [start, end); NotFound outside the reader's scope."""
    blueprint_in_scope(scope=scope, key=key)
    row, m = selectors.blueprint_metrics(
        principal=scope.user, key=key, period=metrics_period(start=start, end=end)
    )
    bp = selectors.parsed_version(selectors.blueprint_version_get(principal=scope.user, key=key)).blueprint
    state_names = {s.key: s.name for s in bp.states}
    overdue_in: dict[str, int] = {}
    for o in m.overdue:
        overdue_in[o.state] = overdue_in.get(o.state, 0) + 1
    states = [
        StateFigures(
            key=s.key,
            name=s.name,
            active=m.active_per_state.get(s.key, 0),
            overdue=overdue_in.get(s.key, 0),
            time_limit=s.time_limit,
            business_limit=s.business,
            average=m.average_per_state.get(s.key),
            average_business=m.average_per_state_business.get(s.key),
        )
        for s in bp.states
        if not s.terminal
    ]
    by_key = {t.key: t for t in bp.transitions}
    transitions = []
    for key_, count in m.transition_counts:
        t = by_key.get(key_)
        transitions.append(
            TransitionFigures(
                key=key_,
                # A transition since removed from the definition keeps its key as its name.
                name=t.name if t is not None else key_,
                from_states=(
                    None
                    if t is None or t.from_states is None
                    else tuple(state_names.get(k, k) for k in t.from_states)
                ),
                to_state=state_names.get(t.to, t.to) if t is not None else "",
                count=count,
            )
        )
    visible = {
        pk: (number, subject)
        for pk, number, subject in Ticket.objects.filter(
            scope.q(), pk__in=[o.ticket for o in m.overdue]
        ).values_list("pk", "number", "subject")
    }
    overdue = [
        OverdueTicket(
            ticket_id=o.ticket,
            number=visible[o.ticket][0] if o.ticket in visible else None,
            subject=visible[o.ticket][1] if o.ticket in visible else "",
            state=state_names.get(o.state, o.state),
            entered_at=o.entered_at,
            over_by=o.over_by,
        )
        for o in m.overdue
    ]
    department = Department.objects.filter(pk=row.department_id).values_list("name", flat=True).first() or ""
    return BlueprintDashboard(
        blueprint=row,
        department=department,
        definition=bp,
        metrics=m,
        states=states,
        transitions=transitions,
        overdue=overdue,
    )
