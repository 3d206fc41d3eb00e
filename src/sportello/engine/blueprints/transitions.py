"""Entering a blueprint and moving through it: which transitions an actor may take, their
checks (owners, conditions, inputs), and the plan of a transition with the automatic ones after it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sportello.engine.actions import (
    WRITABLE_FIELDS,
    Action,
    AddTags,
    RemoveTags,
    coerce_value,
    field_writes,
    value_to_data,
)
from sportello.engine.blueprints.definition import (
    AUTOMATION_KINDS,
    CHAIN_MAX,
    Blueprint,
    During,
    FieldInput,
    State,
    Transition,
)
from sportello.engine.conditions import (
    MATCH_INPUT_MAX,
    FieldSpec,
    FieldType,
    evaluate,
    explain,
)
from sportello.engine.schema import RuleSchemaError

# -- entry ---------------------------------------------------------------------------------------


def matches_entry(blueprint: Blueprint, facts: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> bool:
    """Whether the ticket is eligible for the blueprint by its `entry` condition."""
    return evaluate(blueprint.entry, facts, specs=specs)


def choose_blueprint(
    blueprints: Iterable[Blueprint],
    facts: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
    department: int | None,
) -> Blueprint | None:
    """The one blueprint a ticket of `department` enters: among the active blueprints of the
    department whose entry matches, the highest priority (ties: the smallest key)."""
    if department is None:
        return None
    candidates = sorted(
        (bp for bp in blueprints if bp.active and bp.department == department),
        key=lambda bp: (-bp.priority, bp.key),
    )
    for bp in candidates:
        if matches_entry(bp, facts, specs):
            return bp
    return None


def initial_state(blueprint: Blueprint, status: str) -> State | None:
    """The state a ticket with `status` enters (see the module docstring): a declared initial
    state with that status, else None when the status is a terminal state's, else the first
    declared initial state."""
    initial = [s for key in blueprint.initial if (s := blueprint.state(key)) is not None]
    for state in initial:
        if state.status == status:
            return state
    if any(s.terminal and s.status == status for s in blueprint.states):
        return None
    return initial[0] if initial else None


# -- transitions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlueprintActor:
    """Who asks to perform a transition: an agent with their role, teams and departments.
    `is_assignee` None: compare `id` with the fact `ticket.assignee`."""

    id: int
    role: str
    team_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()
    is_assignee: bool | None = None


class ProblemCode(StrEnum):
    NOT_AVAILABLE = "not_available"  # no such transition from the ticket's state
    NOT_OWNER = "not_owner"  # the actor may not perform it
    CONDITION_FALSE = "condition_false"  # available_when does not hold
    MISSING_FIELD = "missing_field"  # a required input has no value
    INVALID_FIELD = "invalid_field"  # an input fails its validation or is not asked for
    NOTE_REQUIRED = "note_required"
    ATTACHMENT_REQUIRED = "attachment_required"


# Problems of the inputs (the request can be fixed and sent again: 422); the others say the
# transition is not allowed (409).
INPUT_PROBLEMS = frozenset(
    {
        ProblemCode.MISSING_FIELD,
        ProblemCode.INVALID_FIELD,
        ProblemCode.NOTE_REQUIRED,
        ProblemCode.ATTACHMENT_REQUIRED,
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    field: str  # "transition", a field path such as "ticket.custom.order_id", "note" or "attachment"
    message: str

    @property
    def is_input(self) -> bool:
        """A problem of the inputs (422) rather than of the transition itself (409)."""
        return self.code in INPUT_PROBLEMS


@dataclass(frozen=True, slots=True)
class TransitionInputs:
    """What the agent gives with a transition. Field values in data form (JSON); a null value
    clears the field. `attachments` counts the files attached."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    attachments: int = 0


def is_owner(
    blueprint: Blueprint, transition: Transition, actor: BlueprintActor, facts: Mapping[str, Any]
) -> bool:
    """Whether `actor` is one of the transition's owners (see the module docstring)."""
    owners = transition.owners
    in_department = blueprint.department in actor.department_ids
    if owners.anyone:
        return in_department
    if actor.id in owners.agents or not actor.team_ids.isdisjoint(owners.teams):
        return True
    if in_department and actor.role in owners.roles:
        return True
    if owners.assignee:
        assignee = facts.get("ticket.assignee")
        is_assignee = actor.is_assignee
        if is_assignee is None:
            is_assignee = (
                isinstance(assignee, int) and not isinstance(assignee, bool) and assignee == actor.id
            )
        if is_assignee:
            return True
    return not actor.department_ids.isdisjoint(owners.departments)


def _condition_holds(t: Transition, facts: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> bool:
    return t.available_when is None or evaluate(t.available_when, facts, specs=specs)


def available_transitions(
    blueprint: Blueprint,
    state_key: str,
    actor: BlueprintActor,
    facts: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
) -> list[Transition]:
    """The transitions `actor` may perform now on a ticket in `state_key`, in definition order:
    they leave the state, the actor is an owner, and `available_when` holds."""
    return [
        t
        for t in blueprint.leaving(state_key)
        if is_owner(blueprint, t, actor, facts) and _condition_holds(t, facts, specs)
    ]


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset):
        return not value
    return False


def _data_form(value: object) -> object:
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    return value


def _invalid(item: FieldInput, spec: FieldSpec, value: Any) -> str | None:
    """Why a coerced value fails the input's validation, or None."""
    if item.matches is not None and isinstance(value, str):
        if len(value) > MATCH_INPUT_MAX:
            return f"is too long to check (at most {MATCH_INPUT_MAX} characters)"
        if re.search(item.matches, value) is None:
            return f"must match the pattern {item.matches}"
    if isinstance(value, str) and spec.type is FieldType.TEXT:
        if item.min_length is not None and len(value) < item.min_length:
            return f"must be at least {item.min_length} characters"
        if item.max_length is not None and len(value) > item.max_length:
            return f"must be at most {item.max_length} characters"
    try:
        if item.minimum is not None and value < item.minimum:
            return f"must be at least {value_to_data(item.minimum)}"
        if item.maximum is not None and value > item.maximum:
            return f"must be at most {value_to_data(item.maximum)}"
    except TypeError:
        return "has a value of the wrong type"
    if item.allowed_values is not None:
        chosen = sorted(value) if isinstance(value, frozenset) else [value]
        for v in chosen:
            if v not in item.allowed_values:
                return f"{str(v)[:60]!r} is not allowed here; choose from: {', '.join(item.allowed_values)}"
    return None


def _check_inputs(
    during: During, facts: Mapping[str, Any], inputs: TransitionInputs, specs: Mapping[str, FieldSpec]
) -> tuple[list[Problem], dict[str, Any]]:
    """The problems of the inputs, and the field changes they make (coerced; None clears)."""
    problems: list[Problem] = []
    changes: dict[str, Any] = {}
    asked = {item.field for item in during.fields}
    for name in inputs.fields:
        if name not in asked:
            problems.append(
                Problem(ProblemCode.INVALID_FIELD, str(name), "is not an input of this transition")
            )
    for item in during.fields:
        spec = specs.get(item.field)
        if spec is None:
            problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, "is not a known field"))
            continue
        given = item.field in inputs.fields
        raw = inputs.fields[item.field] if given else facts.get(item.field)
        if _blank(raw):
            if item.required:
                problems.append(Problem(ProblemCode.MISSING_FIELD, item.field, "is required"))
            elif given and not WRITABLE_FIELDS.get(item.field, True):
                problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, "cannot be cleared"))
            elif given:
                changes[item.field] = None
            continue
        try:
            value = coerce_value(spec, _data_form(raw), item.field)
        except RuleSchemaError as exc:
            problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, item.message or exc.message))
            continue
        reason = _invalid(item, spec, value)
        if reason is not None:
            problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, item.message or reason))
        elif given:
            changes[item.field] = value
    if during.note == "required" and (inputs.note is None or not inputs.note.strip()):
        problems.append(Problem(ProblemCode.NOTE_REQUIRED, "note", "a note is required"))
    if during.attachment == "required" and inputs.attachments <= 0:
        problems.append(Problem(ProblemCode.ATTACHMENT_REQUIRED, "attachment", "an attachment is required"))
    return problems, changes


def _failed_predicates(t: Transition, facts: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> str:
    assert t.available_when is not None
    _, traces = explain(t.available_when, facts, specs=specs, path="available_when")
    failed = [
        f"{tr.field} {tr.op}" + ("" if tr.expected is None else f" {tr.expected}")
        for tr in traces
        if not tr.result
    ]
    return f" (not met: {'; '.join(failed)})" if failed else ""


def check_transition(
    blueprint: Blueprint,
    state_key: str,
    transition_key: str,
    actor: BlueprintActor,
    facts: Mapping[str, Any],
    inputs: TransitionInputs,
    specs: Mapping[str, FieldSpec],
) -> list[Problem]:
    """Everything that stops `actor` from performing the transition now with these inputs; an
    empty list means it may run. Problems of the transition itself come first, then those of
    the inputs in the order the transition asks for them."""
    t = blueprint.transition(transition_key)
    if t is None:
        return [
            Problem(
                ProblemCode.NOT_AVAILABLE,
                "transition",
                f"the blueprint has no transition {transition_key[:60]!r}",
            )
        ]
    problems: list[Problem] = []
    if t not in blueprint.leaving(state_key):
        problems.append(
            Problem(ProblemCode.NOT_AVAILABLE, "transition", f"{t.name!r} does not leave the ticket's state")
        )
    if not is_owner(blueprint, t, actor, facts):
        problems.append(Problem(ProblemCode.NOT_OWNER, "transition", f"you are not an owner of {t.name!r}"))
    if not _condition_holds(t, facts, specs):
        problems.append(
            Problem(
                ProblemCode.CONDITION_FALSE,
                "transition",
                f"{t.name!r} is not available for this ticket{_failed_predicates(t, facts, specs)}",
            )
        )
    input_problems, _ = _check_inputs(t.during, facts, inputs, specs)
    return problems + input_problems


class TransitionBlocked(ValueError):
    """`plan_transition` was asked for a transition that `check_transition` refuses."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class TransitionStep:
    transition: Transition
    from_state: str
    to_state: str
    status: str  # the ticket's status after the step
    fields: Mapping[str, Any]  # the field inputs this step sets (coerced; None clears)
    note: str | None
    actions: tuple[Action, ...]  # the transition's `after` actions
    automatic: bool


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """What performing a transition does: the requested step, then any automatic ones."""

    steps: tuple[TransitionStep, ...]
    facts: Mapping[str, Any]  # the facts expected after every step (inputs, status, field actions)
    completed: bool  # the final state is terminal
    stopped_at: Transition | None = None  # the next automatic transition waits for inputs
    capped: bool = False  # another automatic transition was due, but the chain reached CHAIN_MAX

    @property
    def final_state(self) -> str:
        return self.steps[-1].to_state

    @property
    def status(self) -> str:
        return self.steps[-1].status


def _apply(working: dict[str, Any], step: TransitionStep, categories: Mapping[str, str] | None) -> None:
    """Predict the facts after a step: its inputs, the status, and the field actions."""
    working.update(step.fields)
    working["ticket.status"] = step.status
    if categories is not None and step.status in categories:
        working["ticket.status_category"] = categories[step.status]
    working.update(field_writes(step.actions))
    for action in step.actions:
        if isinstance(action, AddTags | RemoveTags):
            current = working.get("ticket.tags")
            tags = set(current) if isinstance(current, Iterable) and not isinstance(current, str) else set()
            tags = tags | set(action.tags) if isinstance(action, AddTags) else tags - set(action.tags)
            working["ticket.tags"] = frozenset(tags)


def plan_transition(
    blueprint: Blueprint,
    state_key: str,
    transition_key: str,
    actor: BlueprintActor,
    facts: Mapping[str, Any],
    inputs: TransitionInputs,
    specs: Mapping[str, FieldSpec],
    *,
    categories: Mapping[str, str] | None = None,
) -> TransitionPlan:
    """What performing the transition does, or TransitionBlocked with the problems.

    The requested step sets the field inputs and the target state's status, and runs its
    `after` actions. Then, in a continuous blueprint, while exactly one `auto` transition leaves
    the new state with its condition true on the predicted facts, it runs too (owners do not
    apply: the blueprint performs it), with no inputs: its required fields must already hold
    valid values, else the chain stops and `stopped_at` names it. Two or more automatic
    candidates are ambiguous: none runs. A request runs at most CHAIN_MAX transitions.
    `categories` (status key → status category), when given, keeps `ticket.status_category`
    in the predicted facts."""
    problems = check_transition(blueprint, state_key, transition_key, actor, facts, inputs, specs)
    if problems:
        raise TransitionBlocked(problems)
    t = blueprint.transition(transition_key)
    assert t is not None
    working = dict(facts)
    _, changes = _check_inputs(t.during, facts, inputs, specs)
    note = inputs.note if inputs.note is not None and inputs.note.strip() else None
    steps = [_step(blueprint, t, state_key, changes, note, automatic=False)]
    _apply(working, steps[0], categories)
    stopped: Transition | None = None
    capped = False
    while True:
        current = steps[-1].to_state
        autos = [a for a in blueprint.leaving(current) if a.auto and _condition_holds(a, working, specs)]
        if len(autos) != 1:
            break
        if len(steps) >= CHAIN_MAX:
            capped = True
            break
        auto = autos[0]
        auto_problems, _ = _check_inputs(auto.during, working, TransitionInputs(), specs)
        if auto_problems:
            stopped = auto
            break
        steps.append(_step(blueprint, auto, current, {}, None, automatic=True))
        _apply(working, steps[-1], categories)
    final = blueprint.state(steps[-1].to_state)
    return TransitionPlan(
        steps=tuple(steps),
        facts=working,
        completed=final is not None and final.terminal,
        stopped_at=stopped,
        capped=capped,
    )


def _step(
    bp: Blueprint,
    t: Transition,
    from_state: str,
    fields: Mapping[str, Any],
    note: str | None,
    *,
    automatic: bool,
) -> TransitionStep:
    target = bp.state(t.to)
    assert target is not None
    return TransitionStep(
        transition=t,
        from_state=from_state,
        to_state=t.to,
        status=target.status,
        fields=dict(fields),
        note=note,
        actions=t.after,
        automatic=automatic,
    )


def may_bypass(blueprint: Blueprint, actor_kind: str) -> bool:
    """Whether a status change outside the blueprint's transitions is allowed to `actor_kind`
    (agent, contact, rule, sla, blueprint, system) while the blueprint is attached. The
    blueprint itself may; rules, SLA escalations and the system only when the blueprint allows
    automation to bypass it; agents and contacts never (they use transitions)."""
    if actor_kind == "blueprint":
        return True
    return blueprint.allow_automation_bypass and actor_kind in AUTOMATION_KINDS
