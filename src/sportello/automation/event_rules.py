"""Event rules (triggers) inside the change pipeline.

`run(ctx)` is called by the `automation.extension.EventRules` extension on every mutation,
inside its transaction, after the caller's change is applied and before anything is written:

1. the active event rules are read (one query; parsed definitions are cached per rule version);
2. the facts before and after the change are built (`automation.facts`), with the event
   (`ticket.created`, `message.added` when the change adds a message, else `ticket.updated`;
   `timer.fired` for time-rule firings, `blueprint.transition` for a blueprint transition) and
   its via, actor kind and causation depth;
3. the engine runs the trigger cycle (`engine.triggers.run_cycle`); field actions are applied at
   once through `ctx.change` — validated exactly like an agent's change, with the
   rule's own authority — so later rules see them; side effects (internal notes, notifications,
   webhooks, round-robin assignment) are queued per rule and carried out after the cycle for
   the rules that fired; a rule whose action fails is rolled back whole and traced as an error;
4. the trace is stored as a `RuleTrace` under the change id whenever a rule was considered:
   every rule considered with its outcome and the first failing part of its condition
   (`considered`, compact), and for the rules that fired, failed or reached their cap every
   predicate with observed and expected values and every action; field events name the rule
   and its version as their cause (`rule:<key>@<version>`).

The extensions' `before_rules(ctx)` and `after_rules(ctx)` run before and after the cycle (a
ticket entering a department's tier path joins its first tier's team before it, so rules see the
team, or after it when a rule moved it there: `sla.extension.Tiers`). Actions other apps carry
out (`escalate_tier`) are looked up in `automation.action_registry`.

Round-robin assignment runs after the cycle, on the ticket's final department; when it assigns,
the cycle continues (within the same cap of 10 passes) so the rules that have not run on this
change see the assignee — "tell the assignee about an assignment" works for round robin too.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import F

from sportello.core import extensions
from sportello.core.actors import Actor, ActorKind
from sportello.core.config import config_cached, config_store, forget
from sportello.core.errors import ValidationFailed
from sportello.engine import actions as act
from sportello.engine.conditions import FIELDS, All, FieldSpec, fields_of
from sportello.engine.placeholders import context_from_facts, render
from sportello.engine.rules import EventRule, TimeRule, parse_document
from sportello.engine.schema import RuleSchemaError
from sportello.engine.triggers import (
    MAX_PASSES,
    ApplyResult,
    RuleLike,
    continue_cycle,
    order_rules,
    run_cycle,
)
from sportello.notifications.context import agent_ticket_url
from sportello.tickets.apply import ticket_state, ticket_state_restore
from sportello.tickets.change import Author, TagChange

from . import action_registry
from .effects import notify_effect, webhook_effect
from .facts import CUSTOM_PREFIX, custom_value, field_specs, overdue, reads_satisfaction, ticket_facts
from .models import Macro, MacroVersion, Rule, RuleFireCount, RuleKind, RuleTrace, RuleVersion, TraceKind

if TYPE_CHECKING:
    from sportello.tickets.context import Context

SCHEMA = "sportello/rules/v1"
# Set during dry runs: the trace then holds every rule considered and every predicate evaluated.
_explain_all: contextvars.ContextVar[bool] = contextvars.ContextVar("explain_all", default=False)


@contextmanager
def explaining() -> Iterator[None]:
    """Within this block, event rules trace every rule and predicate (simulations)."""
    token = _explain_all.set(True)
    try:
        yield
    finally:
        _explain_all.reset(token)


EVENT_TIMER = "timer.fired"
EVENT_TRANSITION = "blueprint.transition"


@dataclass(frozen=True, slots=True)
class SavedRule[R: (EventRule, TimeRule)]:
    """A parsed event or time rule with the id and name of its database row, and the specs of
    the custom fields its condition reads as they were when it was parsed (a field's key and
    type never change)."""

    id: int
    name: str
    rule: R
    custom_specs: Mapping[str, FieldSpec] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.rule.key

    @property
    def version(self) -> int | None:
        return self.rule.version


@dataclass(frozen=True, slots=True)
class ActiveRules:
    """The active event rules in run order, as the cycle takes them, and their rows by key.

    What they read, so a change builds only those facts: `reads`, the fields their conditions
    name; `specs`, the standard fields and the custom ones those conditions name; `renders`,
    whether a rule renders a template or applies a macro (which may read any field: then every
    fact is built, with the specs of every active custom field)."""

    ordered: list[EventRule]
    by_key: dict[str, SavedRule[EventRule]]
    reads: frozenset[str] = frozenset()
    specs: Mapping[str, FieldSpec] = dataclasses.field(default_factory=dict)
    renders: bool = False

    @classmethod
    def of(cls, saved: list[SavedRule[EventRule]]) -> ActiveRules:
        reads: set[str] = set()
        specs: dict[str, FieldSpec] = dict(FIELDS)
        renders = False
        for s in saved:
            reads |= fields_of(s.rule.when)
            specs.update(s.custom_specs)
            renders = renders or any(isinstance(a, RENDERING_ACTIONS) for a in s.rule.actions)
        return cls(
            ordered=order_rules([s.rule for s in saved]),
            by_key={s.rule.key: s for s in saved},
            reads=frozenset(reads),
            specs=specs,
            renders=renders,
        )

    def reads_organization(self) -> bool:
        return self.renders or any(f.startswith("organization.") for f in self.reads)

    def reads_satisfaction(self) -> bool:
        """Whether a rule reads the satisfaction facts (the ticket's survey: a query per change)."""
        return self.renders or reads_satisfaction(self.reads)


# Actions that render a template or apply a macro: they may read any fact.
RENDERING_ACTIONS = (act.AddNote, act.Notify, act.Webhook, act.ApplyMacro, act.EscalateTier)


# (rule id, version, key, saved at) -> parsed rule. Versions are immutable and ids never reused
# once committed; the key and time guard against rows of a rolled-back transaction.
_parsed: dict[tuple[int, int, str, datetime], SavedRule[Any]] = config_store("rules.parsed")


def parse_event_rule(definition: Mapping[str, Any], *, specs: Mapping[str, FieldSpec]) -> EventRule:
    """One event rule from its stored definition (an item of the document's `event_rules`)."""
    doc = parse_document({"schema": SCHEMA, "event_rules": [dict(definition)]}, specs=specs)
    return doc.event_rules[0]


_active: dict[tuple[Any, ...], ActiveRules] = config_store("rules.active")


RuleRow = tuple[int, int, str, datetime]  # id, version, key, updated_at


def active_rule_rows(kind: RuleKind, memo: dict[str, Any] | None = None) -> list[RuleRow]:
    """The active rules of `kind` as cache keys. Event and time rules are read together, kept in
    `memo` (the mutation's) so one change reads the rules table once.

    A change reads the signature of the active set (`core.config.signatures`: how many, the sums
    of their ids and versions, the latest `updated_at`, which every write of a rule moves), in
    the one statement that reads every configuration's signature. The rows themselves (kind, id,
    version, key, updated_at) are read only when it differs from the cached one."""
    rows = memo.get("active_rules") if memo is not None else None
    if rows is None:
        rows = config_cached(
            "rules",
            lambda: list(
                Rule.objects.filter(active=True)
                .order_by("id")
                .values_list("kind", "id", "version", "key", "updated_at")
            ),
            memo,
        )
        if memo is not None:
            memo["active_rules"] = rows
    return [(rid, version, key, at) for k, rid, version, key, at in rows if k == kind]


def active_event_rules(
    specs: Callable[[], Mapping[str, FieldSpec]], memo: dict[str, Any] | None = None
) -> ActiveRules:
    """The active event rules at their current versions (one query while nothing changed)."""
    rows = active_rule_rows(RuleKind.EVENT, memo)
    saved_rules(rows, parse_event_rule, specs)
    signature = tuple(row for row in rows if row in _parsed)
    found = _active.get(signature)
    if found is None:
        found = ActiveRules.of([_parsed[row] for row in signature])
        _active.clear()  # one rule set is current at a time
        _active[signature] = found
    return found


def saved_rules[R: (EventRule, TimeRule)](
    rows: list[RuleRow],
    parse: Callable[..., R],
    specs: Callable[[], Mapping[str, FieldSpec]],
) -> list[SavedRule[R]]:
    """The rules of `rows` parsed at their current versions: cached ones as they are, the others
    read in one query and parsed with `parse` (event or time rules)."""
    missing = {row[0]: row for row in rows if row not in _parsed}
    if missing:
        resolved = specs()
        versions = RuleVersion.objects.filter(
            rule_id__in=list(missing), version=F("rule__version")
        ).select_related("rule")
        for rv in versions:
            row = missing[rv.rule_id]
            if row[1] != rv.version:
                continue
            try:
                rule = parse(rv.definition, specs=resolved)
            except RuleSchemaError:
                # Saved rules were valid when saved; a custom field removed since makes them
                # unparseable. Such a rule does not run (the rules API reports it).
                continue
            rule = dataclasses.replace(rule, version=rv.version, active=True)
            custom = {f: resolved[f] for f in fields_of(rule.when) if f.startswith(CUSTOM_PREFIX)}
            _parsed[row] = SavedRule(id=rv.rule_id, name=rv.rule.name, rule=rule, custom_specs=custom)
    return [_parsed[row] for row in rows if row in _parsed]


def forget_parsed_rules() -> None:
    """Drop the cached rules (a simulation's candidates were cached under ids it rolled back)."""
    forget("rules")


def event_type(ctx: Context) -> str:
    if ctx.created:
        return "ticket.created"
    if ctx.mutation.cause.startswith("timer:"):
        return EVENT_TIMER
    if ctx.mutation.cause.startswith("blueprint:") and any(
        r.kind == "blueprint" and r.field == "transition" for r in ctx.mutation.records
    ):
        return EVENT_TRANSITION
    if ctx.message is not None:
        return "message.added"
    return "ticket.updated"


def run(ctx: Context, *, dry_run: bool = False) -> RuleTrace | None:
    """Run the event rules on the change in `ctx`. Returns its trace (None when no rule is
    active), saved with the change whenever a rule was considered (`quiet` when none fired,
    failed or hit its cap); with `dry_run` or within `explaining()` it explains every
    predicate."""
    specs_cache: dict[str, Mapping[str, FieldSpec]] = {}

    def specs() -> Mapping[str, FieldSpec]:
        if "s" not in specs_cache:
            specs_cache["s"] = field_specs()
        return specs_cache["s"]

    for hook in extensions.hooks("before_rules"):  # e.g. a ticket entering a tier path joins
        hook(ctx)  # its first tier's team: rules see it
    rules = active_event_rules(specs, ctx.memo)
    if not rules.ordered:
        return None
    explain_all = dry_run or _explain_all.get()
    # Only the facts the rules read; everything when a rule renders, or for an explanation.
    everything = rules.renders or explain_all
    runner = Runner(
        ctx,
        specs() if everything else rules.specs,
        rules.by_key,
        organization=everything or rules.reads_organization(),
        satisfaction=everything or rules.reads_satisfaction(),
    )
    facts = runner.facts()
    before = runner.before_facts(facts)
    counts = _fire_counts(ctx, rules)
    result = run_cycle(
        rules.ordered,
        before=before,
        facts=facts,
        specs=runner.specs,
        apply=runner.apply,
        fired_counts=counts,
        explain_all=explain_all,
        presorted=True,
    )
    while True:
        assignee = ctx.ticket.assignee_id
        for key in result.fired:
            for effect in runner.queued.pop(key, []):
                effect()
        # A round-robin assignment is carried out after the cycle (on the ticket's final
        # department), and it is a change too: the rules that have not run on this change see
        # it — "tell the assignee" — in a continuation of the cycle, within the pass cap.
        if ctx.ticket.assignee_id == assignee or result.stopped_by or result.passes >= MAX_PASSES:
            break
        result = continue_cycle(
            result,
            run_cycle(
                rules.ordered,
                before=before,
                facts=runner.facts(),
                specs=runner.specs,
                apply=runner.apply,
                fired_counts=counts,
                explain_all=explain_all,
                presorted=True,
                already={*result.fired, *result.errored},
                max_passes=MAX_PASSES - result.passes,
            ),
        )
    for hook in extensions.hooks("after_rules"):  # e.g. a rule moved the ticket into a
        hook(ctx)  # department with a tier path
    capped = [
        rules.by_key[k].id for k in result.fired if rules.by_key[k].rule.max_fires_per_ticket is not None
    ]
    if capped:
        ctx.after_write(lambda: _count_fires(ctx, capped))
    trace = RuleTrace(
        ticket=ctx.ticket if not ctx.created else None,
        change_id=ctx.change_id,
        at=ctx.now,
        kind=TraceKind.EVENT,
        passes=result.passes,
        loop_guard=result.loop_guard,
        quiet=not (result.trace or result.loop_guard),
        trace=trace_to_data(result, rules.by_key),
    )
    # Every change on which a rule was considered keeps its trace, so "why did this rule not
    # fire?" has an answer afterwards: compact when no rule acted (`considered` only).
    if result.considered or explain_all:
        ctx.traces.append(trace)
    return trace


def _fire_counts(ctx: Context, rules: ActiveRules) -> dict[str, int] | None:
    """Past firings on this ticket of the rules that have a cap (no query when none has)."""
    capped = {s.id: key for key, s in rules.by_key.items() if s.rule.max_fires_per_ticket is not None}
    if not capped or ctx.created:
        return None
    rows = RuleFireCount.objects.filter(ticket_id=ctx.ticket.pk, rule_id__in=list(capped))
    return {capped[rule_id]: count for rule_id, count in rows.values_list("rule_id", "count")}


def _count_fires(ctx: Context, rule_ids: list[int]) -> None:
    """Count a firing of capped rules (the ticket row is locked: no race)."""
    for rule_id in rule_ids:
        updated = RuleFireCount.objects.filter(rule_id=rule_id, ticket_id=ctx.ticket.pk).update(
            count=F("count") + 1
        )
        if not updated:
            RuleFireCount.objects.create(rule_id=rule_id, ticket_id=ctx.ticket.pk, count=1)


def trace_to_data(result: Any, rules: Mapping[str, SavedRule]) -> dict[str, Any]:
    ids = {key: r.id for key, r in rules.items()}
    return json.loads(
        json.dumps(
            {
                "fired": result.fired,
                "passes": result.passes,
                "loop_guard": result.loop_guard,
                "stopped_by": result.stopped_by,
                "errored": result.errored,
                # [key, version, outcome, first failing part or null] per rule considered
                "considered": [list(c) for c in result.considered],
                "rules": [
                    {
                        "rule": t.rule,
                        "rule_id": ids.get(t.rule),
                        "version": t.version,
                        "pass": t.pass_,
                        "outcome": t.outcome,
                        "predicates": [dataclasses.asdict(p) for p in t.predicates],
                        "actions": [dataclasses.asdict(a) for a in t.actions],
                    }
                    for t in result.trace
                ],
            },
            default=_json_value,
        )
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset | set | tuple):
        return sorted(value, key=str)
    return str(value)


def rule_author(rule: SavedRule, cause: str | None = None, kind: ActorKind = ActorKind.RULE) -> Any:
    """The rule as the author of automatic changes, with its cause (`rule:<key>@<version>`
    unless given, e.g. a time-rule step's `timer:<key>@<version>#<step>`). `kind`: who acts
    through rule actions (an SLA escalation level acts as the SLA)."""
    return Author(
        actor=Actor(kind=kind, id=rule.id, label=rule.name),
        cause=cause or f"rule:{rule.key}@{rule.version}",
    )


class Runner:
    """The database side of one cycle: facts, and actions applied to the ticket under change."""

    def __init__(
        self,
        ctx: Context,
        specs: Mapping[str, FieldSpec],
        rules: Mapping[str, SavedRule],
        *,
        organization: bool = True,
        satisfaction: bool = True,
        cause: str | None = None,
        actor_kind: ActorKind = ActorKind.RULE,
    ) -> None:
        self.ctx = ctx
        self.specs = specs
        self.rules = rules
        self.organization = organization  # build the organization's facts (a query)
        self.satisfaction = satisfaction  # build the satisfaction facts (a query)
        self.cause = cause  # of what the rules do (default: `rule:<key>@<version>`)
        self.actor_kind = actor_kind
        self.event = {
            "type": event_type(ctx),
            "via": str(ctx.mutation.via),
            "actor_kind": str(ctx.mutation.actor.kind),
            "depth": ctx.mutation.depth,
        }
        self.queued: dict[str, list[Callable[[], object]]] = {}  # (what an effect returns is unused)
        self._rule: str | None = None
        self._saved: Any = None

    # -- facts

    def facts(self) -> dict[str, Any]:
        ctx = self.ctx
        return ticket_facts(
            ctx.ticket,
            tags=ctx.tags,
            message=ctx.message,
            event=self.event,
            specs=self.specs,
            organization=self.organization,
            satisfaction=self.satisfaction,
            now=ctx.now,
            memo=ctx.memo,
        )

    def before_facts(self, now: Mapping[str, Any]) -> dict[str, Any] | None:
        """The facts before the change, from the pipeline's snapshot and the facts `now` (None
        on creation)."""
        ctx = self.ctx
        if ctx.created:
            return None
        b = ctx.before
        facts = dict(now)
        facts.update(
            {
                "ticket.subject": b["subject"],
                "ticket.status": b["status"],
                "ticket.status_category": b["status_category"],
                "ticket.priority": b["priority"],
                "ticket.channel": b["channel"],
                "ticket.department": b["department"],
                "ticket.team": b["team"],
                "ticket.assignee": b["assignee"],
                "ticket.requester": b["requester"],
                "ticket.organization": b["organization"],
                "ticket.tags": frozenset(b["tags"]),
                "ticket.due_at": datetime.fromisoformat(b["due_at"]) if b["due_at"] else None,
            }
        )
        facts["ticket.overdue"] = overdue(facts["ticket.due_at"], ctx.now)

        stored = b.get("custom_fields") or {}
        for path, spec in self.specs.items():
            if path.startswith(CUSTOM_PREFIX):
                facts[path] = custom_value(spec.type, stored.get(path.removeprefix(CUSTOM_PREFIX)))
        message = ctx.message
        if message is not None:
            facts["ticket.message_count"] = now["ticket.message_count"] - 1
            if message.author_kind == "contact":
                facts["ticket.customer_message_count"] = now["ticket.customer_message_count"] - 1
            elif message.author_kind == "agent" and message.public:
                facts["ticket.agent_reply_count"] = now["ticket.agent_reply_count"] - 1
        for key in ("message.body", "message.public", "message.author_kind", "message.channel"):
            facts[key] = None
        return facts

    # -- actions

    def _enter(self, rule: RuleLike) -> None:
        """Remember the ticket as it was before this rule's first action, to roll the rule back."""
        if self._rule == rule.key:
            return
        ctx = self.ctx
        self._rule = rule.key
        self._saved = (ticket_state(ctx.ticket), list(ctx.tags), dict(ctx.writers), len(ctx.notes))

    def _rollback(self) -> None:
        ctx = self.ctx
        state, tags, writers, _ = self._saved
        ticket_state_restore(ctx.ticket, state)
        ctx.tags = tags
        ctx.writers = writers
        self.queued.pop(self._rule or "", None)

    def apply(self, engine_rule: RuleLike, action: act.Action, facts: Mapping[str, Any]) -> ApplyResult:
        rule = self.rules[engine_rule.key]
        self._enter(engine_rule)
        try:
            changed = self._apply(rule, action, facts)
        except ValidationFailed as exc:
            self._rollback()
            where = f"{exc.field}: " if exc.field else ""
            return ApplyResult(facts=facts, changed=False, error=f"{where}{exc}")
        if changed:
            return ApplyResult(facts=self.facts(), changed=True)
        return ApplyResult(facts=facts, changed=False)

    def _apply(self, rule: SavedRule, action: act.Action, facts: Mapping[str, Any]) -> bool:
        ctx = self.ctx
        author = rule_author(rule, self.cause, self.actor_kind)
        if isinstance(action, act.SetField):
            fields, custom = field_change(action.field, action.value)
            return bool(ctx.change(author=author, fields=fields, custom_fields=custom))
        if isinstance(action, act.AddTags | act.RemoveTags | act.SetTags):
            tags = TagChange(
                tags_add=action.tags if isinstance(action, act.AddTags) else (),
                tags_remove=action.tags if isinstance(action, act.RemoveTags) else (),
                tags_set=action.tags if isinstance(action, act.SetTags) else None,
            )
            return bool(ctx.change(author=author, tags=tags))
        if isinstance(action, act.Assign) and action.target != "policy":
            name = {"agent": "assignee", "team": "team", "department": "department"}[action.target]
            return bool(ctx.change(author=author, fields={name: action.id}))
        queue = self.queued.setdefault(rule.key, [])
        if isinstance(action, act.Assign):  # through a round-robin policy, after the cycle
            queue.append(lambda: _assign_through_policy(ctx, action.id, author))
        elif isinstance(action, act.AddNote):
            body = render(action.body, self._context(facts))
            queue.append(lambda: ctx.note(author=author, body=body))
        elif isinstance(action, act.Notify):
            queue.append(notify_effect(ctx, rule, action, self._context(facts)))
        elif isinstance(action, act.Webhook):
            queue.append(webhook_effect(ctx, rule, action, self._context(facts)))
        elif isinstance(action, act.ApplyMacro):
            self._apply_macro(rule, action.macro, facts)
        elif (carry_out := action_registry.handler_for(action)) is not None:
            # An action another app carries out (a tier escalation), after the cycle, on the
            # ticket's final department.
            queue.append(carry_out(ctx, action, author, self._context(facts)))
        return False

    def _apply_macro(self, rule: SavedRule, macro_id: int, facts: Mapping[str, Any]) -> None:
        macro = Macro.objects.filter(pk=macro_id, active=True).first()
        if macro is None:
            raise ValidationFailed(f"no active macro with id {macro_id}", field="apply_macro")
        version = MacroVersion.objects.get(macro=macro, version=macro.version)
        actions = act.parse_actions(version.definition.get("actions", []), specs=self.specs)
        for action in actions:
            if isinstance(action, act.ApplyMacro | act.Stop):
                continue  # macros do not nest (see the rules schema)
            self._apply(rule, action, facts)

    def _context(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        ticket = self.ctx.ticket
        extra: dict[str, Any] = {}
        if ticket.assignee_id is not None and ticket.assignee is not None:
            extra["agent"] = {"name": ticket.assignee.name, "email": ticket.assignee.email}
        # The agents' link, as notification templates have it (`links.agent_ticket`).
        extra["links"] = {"agent_ticket": agent_ticket_url(ticket)}
        return context_from_facts(facts, extra)


def field_change(path: str, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A `set` action's field and engine value as the pipeline's input (standard, custom)."""
    if path.startswith(act.CUSTOM_PREFIX):
        return {}, {path.removeprefix(act.CUSTOM_PREFIX): _raw(value)}
    return {path.removeprefix("ticket."): value}, {}


def _raw(value: Any) -> Any:
    """A condition-typed value (Decimal, date, datetime, frozenset) as custom-field input."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, frozenset | set | tuple):
        return sorted(value)
    return value


def run_actions(
    ctx: Context,
    *,
    key: str,
    name: str,
    owner_id: int,
    version: int | None,
    actions: Sequence[act.Action],
    cause: str,
    actor_kind: ActorKind,
    specs: Mapping[str, FieldSpec] | None = None,
) -> str | None:
    """Run `actions` on the change under way as an event rule's would run (validated like an
    agent's change, attributed to `owner_id`/`name` of `actor_kind` with `cause`), then carry
    out their effects: what SLA escalation levels, blueprint transitions and state limits do.
    Returns the first failing action's error (that run is rolled back whole, no effect carried
    out) or None."""
    as_rule = EventRule(key=key, name=name, when=All(()), actions=tuple(actions), version=version)
    saved = SavedRule(id=owner_id, name=name, rule=as_rule)
    runner = Runner(
        ctx, specs if specs is not None else field_specs(), {key: saved}, cause=cause, actor_kind=actor_kind
    )
    facts: Mapping[str, Any] = runner.facts()
    for action in actions:
        if isinstance(action, act.Stop):
            break
        result = runner.apply(as_rule, action, facts)
        if result.error is not None:
            return result.error
        facts = result.facts
    for effect in runner.queued.pop(key, []):
        effect()
    return None


def _assign_through_policy(ctx: Context, policy_id: int, author: Any) -> None:
    from . import assignment

    assignment.assign_through_policy(ctx, policy_id=policy_id, author=author)
