"""The SLA's part of the change pipeline (`sla.extension.SlaClocks`), inside the
change's transaction, after event rules:

1. the active policies (cached per process, one signature query per change); with none, a
   ticket that has no clocks yet gets none (nothing to measure against);
2. the policy that applies after the change: the first by position whose `when` matches the
   ticket's facts (`engine.sla.select_policy`);
3. the change as SLA changes, in order: creation; the status category moving (before a message
   of the same change, so a customer reply on a pending ticket resumes the clocks first); a
   public agent reply or a customer message; an unanswered customer message a merge moved in
   (the wait counted from that message); the priority; otherwise a tick (a breach that fell
   due is stamped at its true instant, a policy switch applied). A ticket closed by a merge
   stops its clocks without meeting them (`Merged`);
4. the SLA events (started, paused, resumed, fulfilled, superseded, breached, retargeted) become
   ticket events (kind `sla`) of the change, under the SLA as actor;
5. after the ticket is written, its `TicketSla` row is saved and its timers re-armed
   (`sla.timers.timers_arm`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist

from sportello.automation.facts import ticket_facts
from sportello.core.actors import Actor, ActorKind, Via
from sportello.engine import sla as engine
from sportello.tickets.models import AuthorKind, EventKind, Priority

from .active_calendars import clocks_for
from .active_policies import ActivePolicy, active_policies, policy_reads
from .models import SlaRecord, TicketSla
from .tiers import ticket_tier

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context

PRIORITY_NAME = {p.value: p.label for p in Priority}


def update_sla_clocks(ctx: Context) -> None:
    """Choose the ticket's SLA policy and move its clocks with the change."""
    policies = active_policies(ctx.memo)
    row = None if ctx.created else _clocks_row(ctx)
    if not policies and row is None:
        return
    ticket = ctx.ticket
    # Only the facts the policies' conditions read: no custom-field, organization or survey
    # query unless a condition names them.
    reads = policy_reads(ctx.memo)
    facts = ticket_facts(
        ticket,
        tags=ctx.tags,
        message=ctx.message,
        specs=reads.specs,
        organization=reads.organization,
        satisfaction=reads.satisfaction,
        now=ctx.now,
        memo=ctx.memo,
    )
    chosen = _select(policies, facts, reads.specs)
    parsed = chosen.parsed if chosen is not None else None
    state = engine.state_from_data(row.state) if row is not None else None
    clocks = clocks_for(_calendars(state, parsed), ctx.memo)
    events: list[engine.SlaEvent] = []
    for change in _changes(ctx, state):
        state, new = engine.apply_change(state, change, policy=parsed, clocks=clocks, now=ctx.now)
        events += new
    assert state is not None
    for e in events:
        _record(ctx, chosen, e)
    same = (
        row is not None
        and row.state == engine.state_to_data(state)
        and row.policy_id == (chosen.id if chosen else None)
        and row.policy_version == (chosen.version if chosen else None)
    )
    if same:
        return  # nothing moved: nothing to write (a change that is otherwise a no-op stays one)
    final = state
    ctx.after_write(lambda: _save(ctx, row, chosen, final, clocks))


def _clocks_row(ctx: Context) -> TicketSla | None:
    """The ticket's clocks, read with the locked ticket (`ticket_apply` selects them)."""
    try:
        return ctx.ticket.sla
    except ObjectDoesNotExist:
        return None


def _select(policies: list[ActivePolicy], facts: dict[str, Any], specs: Any) -> ActivePolicy | None:
    parsed = engine.select_policy([p.parsed for p in policies], facts, specs=specs)
    return next((p for p in policies if p.parsed is parsed), None)


def _calendars(state: engine.SlaState | None, policy: engine.SlaPolicy | None) -> set[str | None]:
    keys: set[str | None] = {c.calendar for c in state.clocks if c.running} if state is not None else set()
    if policy is not None:
        keys.add(policy.calendar)
    return keys


def _changes(ctx: Context, state: engine.SlaState | None) -> list[engine.Change]:
    ticket, message = ctx.ticket, ctx.message
    priority = PRIORITY_NAME[ticket.priority]
    if state is None:
        by_customer = message is not None and message.author_kind == AuthorKind.CONTACT
        return [
            engine.Created(priority=priority, category=ticket.status_category, customer_message=by_customer)
        ]
    if ctx.mutation.merged_into is not None:
        return [engine.Merged()]  # closed by a merge: the wait goes on on the other ticket
    changes: list[engine.Change] = []
    if ticket.status_category != state.category:
        changes.append(engine.StatusChanged(ticket.status_category))
    if message is not None and message.author_kind == AuthorKind.AGENT and message.public:
        changes.append(engine.AgentReply())
    elif message is not None and message.author_kind == AuthorKind.CONTACT:
        changes.append(engine.CustomerMessage())
    moved = ctx.mutation.moved_in
    if moved is not None and moved.waiting_since is not None:
        # A merge moved an unanswered customer message here: the customer has waited since it.
        changes.append(engine.CustomerMessage(waiting_since=moved.waiting_since))
    if priority != state.priority:
        changes.append(engine.PriorityChanged(priority))
    return changes or [engine.Tick()]


def _record(ctx: Context, policy: ActivePolicy | None, e: engine.SlaEvent) -> None:
    label = f"SLA policy {policy.name}" if policy is not None else "SLA"
    ctx.record(
        EventKind.SLA,
        e.kind.removeprefix("sla."),
        new=engine.event_to_data(e),
        actor=Actor(kind=ActorKind.SLA, id=policy.id if policy is not None else None, label=label),
        via=Via.SYSTEM,
        cause=f"sla:{policy.parsed.key}@{policy.version}" if policy is not None else "sla",
    )


def _save(
    ctx: Context,
    row: TicketSla | None,
    policy: ActivePolicy | None,
    state: engine.SlaState,
    clocks: Any,
) -> None:
    from .timers import timers_arm

    if row is None:
        row = TicketSla(ticket=ctx.ticket)
    row.policy_id = policy.id if policy is not None else None
    row.policy_version = policy.version if policy is not None else None
    row.next_breach_at = engine.next_breach(state)
    row.breached = any(c.breached_at is not None for c in state.clocks)
    row.updated_at = ctx.now
    previous = (
        engine.state_from_data(row.state) if row.pk is not None and not ctx.created and row.state else None
    )
    row.state = engine.state_to_data(state)
    row.save(force_insert=ctx.created)
    timers_arm(ctx.ticket, state, policy.parsed if policy is not None else None, clocks, new=ctx.created)
    _record_finished(ctx, previous, state, policy, clocks)


def _record_finished(
    ctx: Context,
    previous: engine.SlaState | None,
    state: engine.SlaState,
    policy: ActivePolicy | None,
    clocks: Any,
) -> None:
    """A report row for each clock instance this change fulfilled."""
    done_before = {
        (c.metric, c.instance)
        for c in (previous.clocks if previous is not None else ())
        if c.status is engine.ClockStatus.FULFILLED
    }
    ticket = ctx.ticket
    rows = []
    tier: str | None = None
    for c in state.clocks:
        if c.status is not engine.ClockStatus.FULFILLED or (c.metric, c.instance) in done_before:
            continue
        assert c.fulfilled_at is not None
        if tier is None:
            found = ticket_tier(ticket, ctx.memo)
            tier = found[1].key if found is not None else ""
        rows.append(
            SlaRecord(
                ticket=ticket, metric=c.metric, instance=c.instance,
                policy_id=policy.id if policy is not None else None,
                department_id=ticket.department_id, team_id=ticket.team_id, assignee_id=ticket.assignee_id,
                started_at=c.started_at, ended_at=c.fulfilled_at, business=c.calendar is not None,
                target_seconds=int(c.target.total_seconds()) if c.target is not None else None,
                own_seconds=int(c.consumed.total_seconds()),
                calendar_seconds=int((c.fulfilled_at - c.started_at).total_seconds()),
                breached=c.breached_at is not None, breached_at=c.breached_at, tier=tier,
            )
        )  # fmt: skip
    if rows:
        # A reopened ticket's resolution is fulfilled again: its row is replaced.
        SlaRecord.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["ticket", "metric", "instance"],
            update_fields=["policy", "department", "team", "assignee", "ended_at", "target_seconds",
                           "own_seconds", "calendar_seconds", "breached", "breached_at", "tier"],
        )  # fmt: skip
