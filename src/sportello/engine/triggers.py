"""The trigger cycle: which event rules fire on one change, in what order, and why.

Default mode of the unified model: rules run ordered by (category order, position, key); a rule
that matches fires and the pass goes on down the list, so later rules see earlier rules'
changes; passes repeat while a pass changed a field, at most MAX_PASSES times (then
`loop_guard` is set). Each rule fires at most once per change, and not at all once it has
fired `max_fires_per_ticket` times on the ticket. A rule with `stop_processing`, or one that
runs a `stop` action, ends the cycle after its own actions (`stop` itself is not handed to
`apply`). `loop_guard` is set when the last allowed pass still changed a field.

Conditions compare with `before`, the facts before the external change (None on create), never
with an intermediate state: a change made by an earlier rule counts as `changed` for later ones.

The engine does not apply actions itself: the caller's `apply(rule, action, facts)` validates
and applies a field action to the working facts, and queues side effects (note, notify, webhook,
round-robin assignment, macro). Only field actions can change the working facts; what `apply`
returns for a side effect is recorded but its facts are ignored. If `apply` reports an error,
the rule's remaining actions are skipped, the working facts go back to what they were before
the rule, the rule is traced as "error", listed in `errored` (the caller discards the side
effects it queued for it) and not retried in this cycle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sportello.engine.actions import Action, Stop, action_name, is_field_action
from sportello.engine.conditions import (
    Condition,
    FactView,
    Failure,
    FieldSpec,
    PredicateTrace,
    compile_failure,
    explain,
)
from sportello.engine.rules import category_rank

MAX_PASSES = 10
_FINAL = ("fired", "error")  # outcomes a later pass does not overwrite in `considered`

Facts = Mapping[str, Any]


class RuleLike(Protocol):
    """What the cycle reads of a rule (an `EventRule`, or the caller's saved version of one)."""

    @property
    def key(self) -> str: ...
    @property
    def version(self) -> int | None: ...
    @property
    def category(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def active(self) -> bool: ...
    @property
    def on(self) -> frozenset[str]: ...
    @property
    def when(self) -> Condition: ...
    @property
    def actions(self) -> tuple[Action, ...]: ...
    @property
    def max_fires_per_ticket(self) -> int | None: ...
    @property
    def stop_processing(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ApplyResult:
    facts: Facts  # the working facts after the action
    changed: bool  # did a field change?
    error: str | None = None


Apply = Callable[[RuleLike, Action, Facts], ApplyResult]


@dataclass(frozen=True, slots=True)
class ActionTrace:
    index: int
    action: str  # `set`, `notify`, ...
    outcome: str  # "changed", "unchanged", "queued", "stop", "error", "skipped"
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RuleTrace:
    rule: str
    version: int | None
    pass_: int
    outcome: str  # see OUTCOMES
    predicates: tuple[PredicateTrace, ...] = ()
    actions: tuple[ActionTrace, ...] = ()


OUTCOMES = (
    "fired",
    "not_matched",
    "skipped: already fired",
    "skipped: max fires",
    "skipped: event filter",
    "skipped: stopped",
    "error",
)


# A rule the cycle considered, compactly: (key, version, how it ended on this change — see
# OUTCOMES — and for a rule that did not match, the path of the first part of its condition
# that failed, e.g. `when.all[1]`, else None). A plain tuple: a cycle makes one per active rule.
Considered = tuple[str, int | None, str, str | None]


@dataclass(frozen=True, slots=True)
class CycleResult:
    facts: Facts  # the working facts at the end
    fired: list[str]  # rule keys, in firing order
    passes: int
    loop_guard: bool
    stopped_by: str | None  # the rule that ended the cycle with stop / stop_processing
    errored: list[str] = field(default_factory=list)
    trace: list[RuleTrace] = field(default_factory=list)
    # Every rule considered, once, in the order first considered, with its last outcome.
    considered: list[Considered] = field(default_factory=list)


def order_rules[R: RuleLike](rules: Sequence[R], categories: Sequence[str] = ()) -> list[R]:
    """Active rules in run order: category (see `rules.category_rank`), position, key."""
    rank = category_rank(categories)
    return sorted((r for r in rules if r.active), key=lambda r: (rank(r.category), r.position, r.key))


def run_cycle(
    rules: Sequence[RuleLike],
    *,
    before: Facts | None,
    facts: Facts,
    specs: Mapping[str, FieldSpec],
    apply: Apply,
    fired_counts: Mapping[str, int] | None = None,
    categories: Sequence[str] = (),
    explain_all: bool = True,
    presorted: bool = False,
    already: Collection[str] = (),
    max_passes: int = MAX_PASSES,
) -> CycleResult:
    """Run the trigger cycle on one change. `facts` are the working facts after the external
    change, event facts included (`event.type` selects the rules whose `on` lists it; with no
    `event.type` the filter lets every rule through). `fired_counts` says how often each rule
    has fired on this ticket before.

    With `explain_all` (dry runs) every evaluated predicate is traced. Without it, conditions
    run compiled (`conditions.compile_failure`) and the trace holds only the rules that fired,
    erred or hit their firing cap, with the predicates of the rules that matched. Either way
    `considered` says, for every rule considered, how it ended and which part of its condition
    failed first: "why did this rule not fire?" for any stored change.
    `presorted`: `rules` are already active and in run order (`order_rules`), as callers that
    keep the ordered list between changes pass them.
    `already`: rules that fired or failed earlier on this change (a continuation of the cycle
    after effects carried out between cycles, such as a round-robin assignment): they do not
    run again. `max_passes`: the passes left to such a continuation (the cap is per change)."""
    ordered = list(rules) if presorted else order_rules(rules, categories)
    counts = fired_counts or {}
    event_type = facts.get("event.type")
    working: Facts = facts
    fired: list[str] = []
    done: set[str] = set(already)  # fired or errored on this change
    errored: list[str] = []
    trace: list[RuleTrace] = []
    # rule key -> its `Considered` row; a firing or an error is final. The hot path (a rule
    # that does not match) writes it inline.
    considered: dict[str, Considered] = {}

    def note(rule: RuleLike, outcome: str, failed: str | None = None, *, weak: bool = False) -> None:
        last = considered.get(rule.key)
        if last is not None and (weak or last[2] in _FINAL):
            return
        considered[rule.key] = (rule.key, rule.version, outcome, failed)

    passes = 0
    loop_guard = False
    stopped_by: str | None = None
    before_view = None if before is None else FactView(before, specs)
    view = FactView(working, specs)

    while stopped_by is None:
        if passes >= max_passes:
            loop_guard = True
            break
        passes += 1
        progress = False
        for rule in ordered:
            if stopped_by is not None:
                if rule.key not in done:
                    note(rule, "skipped: stopped", weak=True)
                if explain_all:
                    trace.append(RuleTrace(rule.key, rule.version, passes, "skipped: stopped"))
                continue
            if rule.key in done:
                if explain_all:
                    trace.append(RuleTrace(rule.key, rule.version, passes, "skipped: already fired"))
                continue
            cap = rule.max_fires_per_ticket
            if cap is not None and counts.get(rule.key, 0) >= cap:
                trace.append(RuleTrace(rule.key, rule.version, passes, "skipped: max fires"))
                note(rule, "skipped: max fires")
                continue
            if event_type is not None and event_type not in rule.on:
                note(rule, "skipped: event filter")
                if explain_all:
                    trace.append(RuleTrace(rule.key, rule.version, passes, "skipped: event filter"))
                continue
            failed = _failure(rule.when, specs)(view, before_view)
            if explain_all or failed is None:
                matched, preds = explain(rule.when, working, before=before, specs=specs)
            else:
                matched, preds = False, []
            if not matched:
                last = considered.get(rule.key)
                if last is None or last[2] not in _FINAL:
                    considered[rule.key] = (rule.key, rule.version, "not_matched", failed)
                if explain_all:
                    trace.append(RuleTrace(rule.key, rule.version, passes, "not_matched", tuple(preds)))
                continue
            start = working
            changed = False
            stop = rule.stop_processing
            erred = False
            steps: list[ActionTrace] = []
            for i, action in enumerate(rule.actions):
                name = action_name(action)
                if erred:
                    steps.append(ActionTrace(i, name, "skipped"))
                    continue
                if isinstance(action, Stop):
                    stop = True
                    steps.append(ActionTrace(i, name, "stop"))
                    continue
                result = apply(rule, action, working)
                if result.error is not None:
                    erred = True
                    steps.append(ActionTrace(i, name, "error", result.error))
                elif is_field_action(action):
                    working = result.facts
                    view = FactView(working, specs)
                    changed = changed or result.changed
                    steps.append(ActionTrace(i, name, "changed" if result.changed else "unchanged"))
                else:
                    steps.append(ActionTrace(i, name, "queued"))
            done.add(rule.key)
            if erred:
                working = start
                view = FactView(working, specs)
                errored.append(rule.key)
                trace.append(RuleTrace(rule.key, rule.version, passes, "error", tuple(preds), tuple(steps)))
                note(rule, "error")
                continue
            fired.append(rule.key)
            note(rule, "fired")
            trace.append(RuleTrace(rule.key, rule.version, passes, "fired", tuple(preds), tuple(steps)))
            progress = progress or changed
            if stop:
                stopped_by = rule.key
        if not progress:
            break

    return CycleResult(
        facts=working,
        fired=fired,
        passes=passes,
        loop_guard=loop_guard,
        stopped_by=stopped_by,
        errored=errored,
        trace=trace,
        considered=list(considered.values()),
    )


def continue_cycle(first: CycleResult, then: CycleResult) -> CycleResult:
    """One cycle's result from a cycle and its continuation (`run_cycle(already=...)`), passes
    numbered on."""
    return CycleResult(
        facts=then.facts,
        fired=first.fired + then.fired,
        passes=first.passes + then.passes,
        loop_guard=first.loop_guard or then.loop_guard,
        stopped_by=first.stopped_by or then.stopped_by,
        errored=first.errored + then.errored,
        trace=first.trace + [dataclasses.replace(t, pass_=t.pass_ + first.passes) for t in then.trace],
        considered=_merged(first.considered, then.considered),
    )


def _merged(first: list[Considered], then: list[Considered]) -> list[Considered]:
    """The rules of both cycles, each with its last outcome (a firing or an error stays)."""
    out = {c[0]: c for c in first}
    for c in then:
        last = out.get(c[0])
        if last is None or last[2] not in _FINAL:
            out[c[0]] = c
    return list(out.values())


# Compiled conditions by identity: callers keep parsed rules (one per saved version), so a
# condition is compiled once, with the specs of the fields it reads at that time (a field's type
# does not change; its stored rules are re-parsed when they do).
_COMPILED: dict[int, tuple[Condition, Failure]] = {}
_COMPILED_MAX = 20_000


def _failure(cond: Condition, specs: Mapping[str, FieldSpec]) -> Failure:
    hit = _COMPILED.get(id(cond))
    if hit is not None and hit[0] is cond:
        return hit[1]
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    fn = compile_failure(cond, specs)
    _COMPILED[id(cond)] = (cond, fn)
    return fn
