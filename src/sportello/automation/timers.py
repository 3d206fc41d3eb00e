"""Time rules as exact timers: arming inside the change pipeline, firing in the worker.

Arming (`timers_arm`, called by `extension.TimeRuleTimers` on every mutation, after the ticket
row is written, in its transaction): the active time rules are read (one query; parsed
definitions are cached per rule version; no further query when none is active), the ticket's
anchors are read from its columns, `engine.timerules.plan_timers` says which timers it should
have, and the stored `Timer` rows are diffed against that plan: one query reads them, the ones
whose anchor instance (or due instant, or rule version) is gone are deleted in bulk, the new ones
inserted in bulk, the rest kept. A step that already fired for its anchor instance (a
`TimerFiring` row) is not armed again. A rule's `when` is not checked here: it is re-checked when
the step fires.

Anchors: `created`, `assigned` (while assigned), `last_customer_message`, `last_agent_reply`,
`last_update` (the last change not made by automation: a time rule's own firing does not move
it), `due_date`, and `status_entered:<x>` — when the ticket entered its current status category
if `x` is that category, else when it entered its current status if `x` is that status' key.
Closed tickets accept no automatic change: they have no timers.

Firing (`timers_fire_due`, the worker's poller `timers_poll`): the timers are fired by the one
timer mechanism (`core.timers.fire_due`: rounds of due timers claimed with their tickets, `FOR
UPDATE SKIP LOCKED`, the firing rows recorded in bulk, one transaction per round). A step whose
key (rule, ticket, anchor instance, step) already has a `TimerFiring` row is dropped. Otherwise
it runs as a mutation through the pipeline (actor: the rule; via: rule; cause
`timer:<key>@<version>#<step>`, so event rules see `event.type == "timer.fired"`), which first
re-checks the rule's `when` on the current ticket and, if it holds, applies the step's actions
exactly as event rules apply theirs (fields, tags, assignment, notes, notifications, webhooks).
Notes, field events and effects of the step carry that cause too. The step's trace (the
condition re-checked predicate by predicate, the actions) is stored under the change id, also
when the condition was false or nothing changed. The outcome (`applied`, `no_change`,
`conditions_false`, `error: ...`) and the change id are recorded on the firing and the timer
deleted in the round's transaction: a crash before the commit leaves the timer to be fired
again, and the unique key keeps it from firing twice. A step that raises (not a refused action:
that is the `error: ...` outcome) is rolled back alone and retried with back-off, then parked;
the other timers fire meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction

from sportello.core import timers as mechanism
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import ValidationFailed
from sportello.core.timers import Round, TimerKind, claim, next_attempt, register_timer_kind
from sportello.engine import actions as act
from sportello.engine.conditions import FieldSpec, explain
from sportello.engine.rules import STATUS_ANCHOR_PREFIX, EventRule, TimeRule, parse_document
from sportello.engine.timerules import plan_timers
from sportello.engine.triggers import ActionTrace, CycleResult
from sportello.engine.triggers import RuleTrace as EngineRuleTrace
from sportello.tickets.locks import tickets_held
from sportello.tickets.models import StatusCategory, Ticket

from . import event_rules
from .facts import field_specs
from .models import RuleKind, RuleTrace, Timer, TimerFiring, TraceKind

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context

logger = logging.getLogger(__name__)

SCHEMA = "sportello/rules/v1"
ROUND_MAX = mechanism.ROUND_MAX


SavedTimeRule = event_rules.SavedRule[TimeRule]  # a time rule as armed and fired, with its row's id


def parse_time_rule(definition: Mapping[str, Any], *, specs: Mapping[str, FieldSpec]) -> TimeRule:
    """One time rule from its stored definition (an item of the document's `time_rules`)."""
    doc = parse_document({"schema": SCHEMA, "time_rules": [dict(definition)]}, specs=specs)
    return doc.time_rules[0]


def active_time_rules(
    specs: Callable[[], Mapping[str, FieldSpec]] = field_specs, memo: dict[str, Any] | None = None
) -> list[SavedTimeRule]:
    """The active time rules at their current versions (no query in a mutation whose event
    rules already read the rules; else one while nothing changed)."""
    from .event_rules import active_rule_rows, saved_rules

    rows = active_rule_rows(RuleKind.TIME, memo)
    return saved_rules(rows, parse_time_rule, specs)


def forget_parsed_rules() -> None:
    """Drop the parsed-rule cache, shared with event rules (tests roll back and reuse ids)."""
    event_rules.forget_parsed_rules()


def ticket_anchors(ticket: Ticket, rules: list[SavedTimeRule]) -> dict[str, datetime | None]:
    """The anchor instants of `ticket` that `rules` count from (None: no clock running)."""
    if ticket.status_category == StatusCategory.CLOSED:
        return {}
    anchors: dict[str, datetime | None] = {
        "created": ticket.created_at,
        "assigned": ticket.assigned_at if ticket.assignee_id is not None else None,
        "last_customer_message": ticket.last_customer_message_at,
        "last_agent_reply": ticket.last_agent_reply_at,
        "last_update": ticket.last_activity_at,
        "due_date": ticket.due_at,
    }
    for saved in rules:
        name = saved.rule.anchor
        if not name.startswith(STATUS_ANCHOR_PREFIX) or name in anchors:
            continue
        wanted = name.removeprefix(STATUS_ANCHOR_PREFIX)
        if wanted == ticket.status_category:
            anchors[name] = ticket.status_category_entered_at
        elif wanted == ticket.status.key:
            anchors[name] = ticket.status_entered_at
        else:
            anchors[name] = None
    return anchors


def timers_arm(ctx: Context) -> None:
    """Arm and disarm the time-rule timers of the ticket under change (see the module doc)."""
    rules = active_time_rules(memo=ctx.memo)
    if not rules:
        return
    ticket = ctx.ticket
    by_key = {saved.rule.key: saved for saved in rules}
    planned = plan_timers([s.rule for s in rules], ticket.pk, ticket_anchors(ticket, rules))
    wanted = [
        Timer(
            rule_id=by_key[p.rule_key].id,
            rule_version=p.rule_version or 1,
            ticket_id=ticket.pk,
            anchor_key=p.anchor_key,
            step=p.step_index,
            due_at=p.due_at,
        )
        for p in planned
    ]
    mechanism.arm(TIME_RULE_TIMERS, scope={"ticket_id": ticket.pk}, wanted=wanted)


REARM_BATCH = 500


@dataclass(slots=True)
class _Arming:
    """What `timers_arm` reads of a mutation, for arming outside one."""

    ticket: Ticket
    memo: dict[str, Any]


def timers_rearm(*, after_id: int = 0, batch: int = REARM_BATCH) -> int | None:
    """Arm the timers of existing open tickets after a time rule was saved, one batch of tickets
    (by id, after `after_id`) per transaction. Tickets locked by a change under way are skipped:
    that change arms them itself. Returns the last ticket id of the batch, or None when done."""
    with transaction.atomic():
        memo: dict[str, Any] = {}
        if not active_time_rules(memo=memo):
            return None
        ids = list(
            Ticket.objects.filter(pk__gt=after_id)
            .exclude(status_category=StatusCategory.CLOSED)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return None
        for ticket in claim(Ticket.objects.filter(pk__in=ids)).order_by("pk"):
            timers_arm(cast("Context", _Arming(ticket=ticket, memo=memo)))
    return ids[-1]


# --------------------------------------------------------------------------------------------
# Firing


@dataclass(frozen=True, slots=True)
class Fired:
    """What became of one claimed timer."""

    timer_id: int
    outcome: str  # applied | no_change | conditions_false | already_fired | rule_inactive | error: ...
    change_id: Any = None


def timers_fire_due(*, now: datetime, limit: int = ROUND_MAX) -> list[Fired]:
    """Fire the timers due at `now` (at most `limit`). Timers held by another worker, or whose
    ticket a mutation holds, are left for the next round; a timer whose firing fails is retried
    with back-off, then parked (`core.timers`)."""
    return mechanism.fire_due(TIME_RULE_TIMERS, now=now, limit=limit)


def timer_fire(*, timer_id: int, now: datetime) -> Fired | None:
    """Fire one timer if it is due and free, in one transaction; None when it is gone, not due,
    held by another worker (or its ticket by a mutation), or failed (`core.timers.fire_one`)."""
    return mechanism.fire_one(TIME_RULE_TIMERS, timer_id, now=now)


def _fire(timer: Timer, rnd: Round) -> Fired:
    """The time-rule kind's action on one claimed timer (`core.timers`)."""
    rules = rnd.memo.get("rules")
    if rules is None:
        rules = rnd.memo["rules"] = {s.id: s for s in active_time_rules()}
    saved = rules.get(timer.rule_id)
    if saved is None or timer.step >= len(saved.rule.steps):
        rnd.drop(timer)  # the rule was deactivated or lost the step: disarmed
        return Fired(timer.pk, "rule_inactive")
    if rnd.already_fired(timer):
        rnd.drop(timer)
        return Fired(timer.pk, "already_fired")
    firing = rnd.record(timer, TimerFiring(
        rule_id=timer.rule_id, ticket_id=timer.ticket_id, anchor_key=timer.anchor_key, step=timer.step,
        due_at=timer.due_at, fired_at=rnd.now, outcome="pending",
    ))  # fmt: skip
    firing.outcome, firing.change_id = _run_step(saved, timer, rnd.now)
    return Fired(timer.pk, firing.outcome, firing.change_id)


def _run_step(saved: SavedTimeRule, timer: Timer, now: datetime) -> tuple[str, Any]:
    """The step as a mutation through the pipeline; (outcome, change id). The step's trace (its
    condition re-checked, predicate by predicate, and its actions) is stored under the change
    id — also when the condition was false or nothing changed, so "why did it not fire?" has
    an answer; only an error leaves no change id (the outcome holds the error)."""
    from sportello.tickets import pipeline

    rule = saved.rule
    step = rule.steps[timer.step]
    cause = f"timer:{rule.key}@{rule.version}#{timer.step}"
    verdict: dict[str, Any] = {}

    def apply_step(ctx: Context) -> None:
        verdict["version"] = ctx.ticket.version  # before the change: bumped only if it writes
        specs = field_specs()
        # The step's actions run like an event rule's, under the time rule's id and name and the
        # firing's cause.
        as_event_rule = EventRule(
            key=rule.key, name=rule.name, when=rule.when, actions=step.actions, version=rule.version
        )
        runner = event_rules.Runner(
            ctx,
            specs,
            {rule.key: event_rules.SavedRule(id=saved.id, name=saved.name, rule=as_event_rule)},
            cause=cause,
        )
        facts: Mapping[str, Any] = runner.facts()
        matched, predicates = explain(rule.when, facts, specs=specs)
        verdict["when"] = matched
        done: list[ActionTrace] = []
        if matched:
            for i, action in enumerate(step.actions):
                if isinstance(action, act.Stop):
                    done.append(ActionTrace(i, act.action_name(action), "stop"))
                    break
                result = runner.apply(as_event_rule, action, facts)
                if result.error is not None:
                    raise ValidationFailed(result.error)
                outcome = (
                    "queued"
                    if not act.is_field_action(action)
                    else "changed"
                    if result.changed
                    else "unchanged"
                )
                done.append(ActionTrace(i, act.action_name(action), outcome))
                facts = result.facts
            for effect in runner.queued.get(rule.key, []):
                effect()
        entry = EngineRuleTrace(
            rule=rule.key,
            version=rule.version,
            pass_=1,
            outcome="fired" if matched else "not_matched",
            predicates=tuple(predicates),
            actions=tuple(done),
        )
        cycle = CycleResult(
            facts=facts, fired=[rule.key] if matched else [], passes=1, loop_guard=False, stopped_by=None,
            trace=[entry],
        )  # fmt: skip
        data = event_rules.trace_to_data(cycle, {rule.key: saved})
        data["timer"] = {
            "step": timer.step,
            "anchor": rule.anchor,
            "anchor_instance": timer.anchor_key,
            "due_at": timer.due_at.isoformat(),
        }
        trace = RuleTrace(change_id=ctx.change_id, at=ctx.now, kind=TraceKind.TIMER, passes=1, trace=data)
        ctx.traces.append(trace)  # saved with the change, if it writes anything
        verdict["trace"] = trace

    mutation = pipeline.Mutation(
        actor=Actor(kind=ActorKind.RULE, id=saved.id, label=saved.name[:200]),
        via=Via.RULE,
        cause=cause,
        automation=apply_step,
    )
    outcome, out = mechanism.fire_as_mutation(
        pipeline.ticket_apply, ticket_id=timer.ticket_id, mutation=mutation, now=now, what=cause
    )
    if out is None:
        return outcome, None
    if not verdict.get("when", False):
        outcome = "conditions_false"
    elif out.ticket.version == verdict.get("version"):
        outcome = "no_change"
    trace = verdict.get("trace")
    if trace is not None and trace.pk is None:
        # The pipeline saves the trace with the change when it writes one; a step whose
        # condition is false can still write (another extension, e.g. an SLA policy now covering
        # the ticket, changed it), so whether the trace is stored is read from the trace itself,
        # not guessed from the outcome.
        trace.ticket_id = timer.ticket_id
        trace.save(force_insert=True)
    return outcome, out.change_id


def timers_next_due(now: datetime) -> datetime | None:
    """The earliest due instant of a timer that may fire (parked ones and those in back-off
    are not waited for)."""
    return next_attempt(TIME_RULE_TIMERS, now)


def timers_poll(now: datetime) -> datetime | None:
    """The worker's poller: fire what is due, then say when the next timer is due (at most a
    second away, so timers armed meanwhile by other processes are not missed)."""
    return mechanism.poll(TIME_RULE_TIMERS, now)


TIME_RULE_TIMERS = TimerKind(
    name="time_rule",
    model=Timer,
    fire=lambda timer, rnd: _fire(timer, rnd),  # late-bound: tests wrap `_run_step`
    key=("rule_id", "ticket_id", "anchor_key", "step"),
    firing=TimerFiring,
    compare=("rule_version", "due_at"),
    lock=Ticket,
    held=tickets_held,
    related=("rule",),
    describe=lambda t: f"time rule {t.rule.key} step {t.step}",
)


def register() -> None:
    from sportello.core.worker import register_poller

    register_timer_kind(TIME_RULE_TIMERS)
    register_poller("time_rules", timers_poll)
