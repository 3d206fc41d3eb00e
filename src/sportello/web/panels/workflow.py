"""Ticket page panels: the SLA clocks, the blueprint (state, transitions, flowchart), the tasks
and the support tier. Each part reads through its domain's selectors, in the viewer's scope; a
part that does not apply to the ticket (no SLA policy, no blueprint, no tier path) is None and
its panel is not shown.

SLA clocks carry their due instant and, while active, the instant the policy's first warning
applies (`warn_at`): the page counts down without asking the server again, and turns the badge
to "warning" and then "breached" as those instants pass (`web/js/workflow.js`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Role, User
from sportello.accounts.structure import structure
from sportello.blueprints import selectors as bp_selectors
from sportello.core.compiled import STATEMENTS
from sportello.core.errors import NotFound, PermissionDenied
from sportello.engine import blueprints as bp_engine
from sportello.engine import sla as sla_engine
from sportello.sla import tiers as tier_paths
from sportello.sla.calendars import clocks_for
from sportello.sla.models import TicketSla
from sportello.sla.services import active_policies
from sportello.ticket_tasks import selectors as task_selectors
from sportello.ticket_tasks.models import Task, TaskStatus
from sportello.tickets.models import Ticket

from ..workflow_forms import EscalateForm, TaskForm, TransitionForm, custom_fields_of
from .reads import PageReads, page_reads

METRIC_LABELS = {
    "first_response": _("First response"),
    "next_response": _("Next response"),
    "periodic_update": _("Periodic update"),
    "resolution": _("Resolution"),
}
SLA_STATE_LABELS = {
    "ok": _("On track"),
    "warning": _("Due soon"),
    "breached": _("Breached"),
    "paused": _("Paused"),
    "met": _("Met"),
    "missed": _("Missed"),
}


def span_text(span: timedelta | None) -> str:
    """A span in words, in the viewer's language: "2 hours, 5 minutes" ("" when none)."""
    if span is None or span <= timedelta(0):
        return ""
    end = datetime(2000, 1, 1)
    return timesince(end - span, end, depth=2)


# -- SLA ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaClock:
    metric: str
    label: str
    state: str  # a key of SLA_STATE_LABELS
    due_at: datetime | None  # active clocks: when the target is breached
    warn_at: datetime | None  # active, not breached: when the policy's first warning applies
    left: timedelta | None  # paused clocks: the time left when the clock resumes
    ended_at: datetime | None  # met or missed: when the clock stopped
    business: bool

    @property
    def state_label(self) -> str:
        return str(SLA_STATE_LABELS[self.state])

    @property
    def left_text(self) -> str:
        """A paused clock's time left: "2 hours, 5 minutes" (nothing once it is overdue)."""
        return span_text(self.left)


@dataclass(frozen=True, slots=True)
class SlaPanel:
    policy_name: str | None
    clocks: list[SlaClock]
    labels: dict[str, str] = field(default_factory=dict)


def _warn_at(
    c: sla_engine.ClockState, policy: sla_engine.SlaPolicy | None, clock: sla_engine.Clock, now: datetime
) -> datetime | None:
    """The instant the earliest warning of the policy applies to an active clock (now or past
    when it already does); None without a warning for its metric."""
    if policy is None or c.target is None or c.running_since is None:
        return None
    thresholds = [w.threshold(c.target) for w in policy.warnings if c.metric in w.metrics]
    if not thresholds:
        return None
    threshold = min(thresholds)
    if threshold <= c.used(clock, now):
        return min(now, c.due_at) if c.due_at is not None else now
    return clock.add(c.running_since, threshold - c.consumed)


def _sla_clock(
    c: sla_engine.ClockState, policy: sla_engine.SlaPolicy | None, clock: sla_engine.Clock, now: datetime
) -> SlaClock:
    label = str(METRIC_LABELS.get(c.metric, c.metric.replace("_", " ").capitalize()))
    business = c.calendar is not None
    if c.status is sla_engine.ClockStatus.FULFILLED:
        state = "missed" if c.breached_at is not None else "met"
        return SlaClock(c.metric, label, state, None, None, None, c.fulfilled_at, business)
    if c.status is sla_engine.ClockStatus.PAUSED:
        left = sla_engine.remaining(c, clock, now).metric_time
        return SlaClock(c.metric, label, "paused", None, None, left, None, business)
    warn_at = _warn_at(c, policy, clock, now) if c.breached_at is None else None
    if c.breached_at is not None or (c.due_at is not None and c.due_at <= now):
        state = "breached"
    elif warn_at is not None and warn_at <= now:
        state = "warning"
    else:
        state = "ok"
    return SlaClock(c.metric, label, state, c.due_at, warn_at, None, None, business)


def sla_panel(ticket: Ticket, *, now: datetime, memo: dict[str, Any]) -> SlaPanel | None:
    """The ticket's targeted clocks: every running one, and the last instance of a metric that
    has none running (met or missed). None when the ticket has no SLA clocks."""
    row: TicketSla | None
    if Ticket.sla.is_cached(ticket):  # read with the ticket (`reads.page_ticket`)
        row = getattr(ticket, "sla", None)
    else:
        row = TicketSla.objects.filter(ticket=ticket).select_related("policy").first()
    if row is None:
        return None
    state = sla_engine.state_from_data(row.state)
    targeted = [
        c for c in state.clocks if c.target is not None and c.status is not sla_engine.ClockStatus.SUPERSEDED
    ]
    if not targeted:
        return SlaPanel(policy_name=row.policy.name if row.policy else None, clocks=[])
    policy = next((p.parsed for p in active_policies(memo) if p.parsed.key == state.policy), None)
    clocks = clocks_for({c.calendar for c in targeted}, memo)
    running = {c.metric for c in targeted if c.running}
    shown: dict[tuple[str, int], sla_engine.ClockState] = {}
    for c in targeted:
        if c.running:
            shown[(c.metric, c.instance)] = c
        elif c.metric not in running:
            # the latest stopped instance of the metric stands for it
            for key in [k for k in shown if k[0] == c.metric]:
                del shown[key]
            shown[(c.metric, c.instance)] = c
    order = {m: i for i, m in enumerate(sla_engine.METRICS)}
    out = [
        _sla_clock(c, policy, sla_engine.clock_for(clocks, c.calendar), now)
        for c in sorted(shown.values(), key=lambda c: (order.get(c.metric, 99), c.instance))
    ]
    return SlaPanel(
        policy_name=row.policy.name if row.policy else None,
        clocks=out,
        labels={k: str(v) for k, v in SLA_STATE_LABELS.items()},
    )


# -- blueprint ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlueprintStep:
    """An available transition and its form."""

    transition: bp_engine.Transition
    to_name: str
    form: TransitionForm
    open: bool  # the form comes back with errors: shown open


@dataclass(frozen=True, slots=True)
class BlueprintPanel:
    name: str
    state: bp_engine.State | None
    active: bool
    states: list[tuple[bp_engine.State, bool]]  # every state, and whether it is the current one
    steps: list[BlueprintStep]
    entered_at: datetime | None
    time_in_state: timedelta | None
    limit: timedelta | None
    limit_business: bool
    limit_due: datetime | None  # calendar-time limits only
    overdue: bool
    completed_at: datetime | None
    alerts: list[str]

    @property
    def limit_text(self) -> str:
        return span_text(self.limit)


def blueprint_panel(
    request: HttpRequest,
    ticket: Ticket,
    *,
    now: datetime,
    bound: TransitionForm | None = None,
    reads: PageReads | None = None,
) -> BlueprintPanel | None:
    """The ticket's process as this agent sees it; `bound`: a refused transition's form, shown
    again with its errors (its non-field errors at the top of the panel). `reads`: the page's,
    when the whole page is drawn: the process's facts then take the requester the customer
    panel shows, its steps the custom fields of the department's layout, and the history the
    process's definition."""
    user = request.user
    if not isinstance(user, User) or user.role not in (Role.ADMIN, Role.AGENT):
        return None  # light agents read no blueprint
    if reads is not None:
        ticket.requester = reads.requester
    try:
        # The page's ticket (read for this agent) is reused; most tickets follow no process:
        # then this is one query.
        process = bp_selectors.ticket_process_of(
            principal=user, ticket=ticket, memo=reads.memo if reads is not None else None
        )
    except (NotFound, PermissionDenied):
        return None
    run, bp = process.run, process.blueprint
    if run is None or bp is None:
        return None
    known = None
    if reads is not None:
        known = {r.field.key: r.field for r in reads.layouts.get(ticket.department_id, [])}
        if process.version is not None:
            reads.blueprint_versions[(run.blueprint.key, run.version)] = process.version
    custom = custom_fields_of(process.transitions, known)
    steps = []
    for t in process.transitions:
        if t.auto:
            continue
        target = bp.state(t.to)
        mine = bound is not None and bound.transition.key == t.key
        form = (
            bound
            if mine and bound is not None
            else TransitionForm(transition=t, ticket=process.ticket, custom=custom)
        )
        steps.append(BlueprintStep(t, target.name if target else t.to, form, open=mine))
    state = process.state
    limit_due = None
    if run.active and state is not None and not state.business:
        limit_due = bp_engine.limit_due(state, run.entered_state_at)
    return BlueprintPanel(
        name=bp.name,
        state=state,
        active=run.active,
        states=[(s, s.key == run.state) for s in bp.states],
        steps=steps,
        entered_at=run.entered_state_at if run.active else None,
        time_in_state=(now - run.entered_state_at) if run.active else None,
        limit=state.time_limit if state is not None and run.active else None,
        limit_business=bool(state and state.business),
        limit_due=limit_due,
        overdue=limit_due is not None and limit_due < now,
        completed_at=run.completed_at,
        alerts=[str(e) for e in bound.non_field_errors()] if bound is not None else [],
    )


# -- tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskRow:
    task: Task
    done: bool
    overdue: bool
    reminder: str | None


@dataclass(frozen=True, slots=True)
class TasksPanel:
    rows: list[TaskRow]
    open_count: int
    form: TaskForm | None
    notice: str | None = None


def _reminder_text(task: Task) -> str | None:
    """ "reminder 1 hour before", "reminder at the due time" (several: one after the other)."""
    if not task.reminders or task.due_at is None:
        return None
    return "; ".join(
        str(_("reminder %(span)s before") % {"span": span_text(timedelta(seconds=s))})
        if s
        else str(_("reminder at the due time"))
        for s in task.reminders
    )


def tasks_panel(
    request: HttpRequest,
    ticket: Ticket,
    *,
    now: datetime,
    form: TaskForm | None = None,
    notice: str | None = None,
    reads: PageReads | None = None,
) -> TasksPanel:
    """The ticket's tasks; `reads`: the page's, whose people the new task's form offers."""
    user = request.user
    assert isinstance(user, User)
    # Not each task's ticket (the page's, read for this agent), nor its assignee (the desk's people).
    tasks: list[Task] = STATEMENTS.rows(
        ("ticket_tasks",),
        lambda ident, at: task_selectors.tasks_of_readable(ticket=Ticket(pk=ident)).order_by(
            "status", "due_at", "id"
        ),
        ids=(ticket.pk,),
        now=now,
    )
    people = structure(reads.memo if reads is not None else None).users
    for t in tasks:
        if t.assignee_id is not None and (assignee := people.get(t.assignee_id)) is not None:
            t.assignee = assignee
    rows = [
        TaskRow(
            task=t,
            done=t.status == TaskStatus.DONE,
            overdue=t.status == TaskStatus.OPEN and t.due_at is not None and t.due_at < now,
            reminder=_reminder_text(t),
        )
        for t in tasks
    ]
    # A ticket merged into another takes no new work: its tasks are listed, new ones go there.
    if form is None and user.is_active and ticket.merged_into_id is None:
        form = (
            TaskForm(ticket=ticket, me=user, people=reads.people, members=reads.members)
            if reads is not None
            else TaskForm(ticket=ticket, me=user)
        )
    return TasksPanel(rows=rows, open_count=sum(1 for r in rows if not r.done), form=form, notice=notice)


# -- tier --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TierPanel:
    path_name: str
    tiers: list[tuple[tier_paths.Tier, str]]  # each tier and where the ticket stands: done|current|next
    current: tier_paths.Tier
    next_tier: tier_paths.Tier | None
    form: EscalateForm | None  # None: this agent may not escalate, or no tier is above
    alerts: list[str]  # a refused escalation's errors, when its form is no longer shown


def tier_panel(
    request: HttpRequest, ticket: Ticket, *, memo: dict[str, Any], form: EscalateForm | None = None
) -> TierPanel | None:
    found = tier_paths.ticket_tier(ticket, memo)
    if found is None:
        return None
    path, current = found
    here = path.index(current.key)
    above = path.tiers[here + 1 :]
    marks = ["done" if i < here else "current" if i == here else "next" for i in range(len(path.tiers))]
    user = request.user
    may = (
        isinstance(user, User)
        and user.is_active
        and user.role != Role.LIGHT_AGENT
        and bool(above)
        and ticket.merged_into_id is None  # a merged ticket changes no more
    )
    if may and form is None:
        form = EscalateForm(tiers=[(t.key, t.name) for t in above])
    return TierPanel(
        path_name=path.name,
        tiers=list(zip(path.tiers, marks, strict=True)),
        current=current,
        next_tier=above[0] if above else None,
        form=form if may else None,
        alerts=[str(e) for e in form.non_field_errors()] if form is not None and not may else [],
    )


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    reads = page_reads(shared, request, ticket)
    memo = reads.memo  # the configuration signatures, read once for the page
    return {
        "sla_panel": sla_panel(ticket, now=now, memo=memo),
        "blueprint": blueprint_panel(request, ticket, now=now, reads=reads)
        if ticket.merged_into_id is None
        else None,
        "tasks_panel": tasks_panel(request, ticket, now=now, reads=reads),
        "tier_panel": tier_panel(request, ticket, memo=memo),
    }
