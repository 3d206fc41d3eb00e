"""Warnings about a rules document at save time: things that are valid but probably wrong.

Checks, each with its code:
- `opposite_writes`: two event rules set one field to different constants, or move one tag in
  opposite directions (one adds it, the other removes it or sets tags without it), their `on`
  filters overlap, and their conditions do not obviously exclude each other. "Obviously" is a
  conservative test: both conditions require, at their top level (the predicate itself or an
  item of a top-level `all`), `is`/`in` on one common field with disjoint values. Any other pair
  is reported, so one may be reported that could never run on the same change.
- `reads_own_write`: an event rule whose `when` reads a field its actions write, with no guard
  that stops it from firing on every later change: no change operator (`changed`, `changed_to`,
  `changed_from`, `not_changed`) and no `event.type` test anywhere in `when`, `on` wider than
  `ticket.created`, and no `max_fires_per_ticket`.
- `missing_placeholder`: a note, notification or webhook text (in an event rule, a time-rule
  step or a macro) names a placeholder that is neither a known field (`specs`) nor one of the
  other names the renderer provides (`extra_names`), nor a namespace of them (`ticket.custom`).
- `unknown_category`: the document lists `categories` and an event rule's category is not
  among them (it runs after the listed ones).
A time rule without an anchor cannot be written: the schema requires `anchor`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sportello.engine.actions import (
    Action,
    AddTags,
    RemoveTags,
    SetTags,
    field_writes,
    fields_written,
    templates_of,
    value_to_data,
)
from sportello.engine.conditions import CHANGE_OPS, All, Condition, FieldSpec, Op, Predicate, fields_of
from sportello.engine.placeholders import placeholders_of
from sportello.engine.rules import EventRule, RuleDocument, predicates
from sportello.engine.schema import at

# Names the renderer provides besides the fields of `specs`.
PLACEHOLDER_EXTRAS = frozenset(
    {
        "ticket.id",
        "ticket.url",
        "agent.name",
        "agent.email",
        "assignee.name",
        "assignee.email",
        "team.name",
        "links.agent_ticket",
    }
)


@dataclass(frozen=True, slots=True)
class LintWarning:
    path: str
    code: str
    message: str


def lint(
    doc: RuleDocument, *, specs: Mapping[str, FieldSpec], extra_names: Collection[str] = PLACEHOLDER_EXTRAS
) -> list[LintWarning]:
    """Every warning for `doc`, in document order within each check."""
    warnings: list[LintWarning] = []
    warnings += _opposite_writes(doc.event_rules)
    for i, rule in enumerate(doc.event_rules):
        warnings += _reads_own_write(rule, at("event_rules", i))
        if doc.categories and rule.category not in doc.categories:
            warnings.append(
                LintWarning(
                    at(at("event_rules", i), "category"),
                    "unknown_category",
                    f"category {rule.category!r} is not in `categories`; its rules run after the listed ones",
                )
            )
    names = set(specs) | set(extra_names)
    # A namespace (`ticket`, `ticket.custom`) is known too: the template may loop over it.
    known = names | {name.rsplit(".", k)[0] for name in names for k in range(1, name.count(".") + 1)}
    for i, rule in enumerate(doc.event_rules):
        warnings += _placeholders(rule.actions, at(at("event_rules", i), "actions"), known)
    for i, trule in enumerate(doc.time_rules):
        for k, step in enumerate(trule.steps):
            warnings += _placeholders(
                step.actions, at(at(at(at("time_rules", i), "steps"), k), "actions"), known
            )
    for i, macro in enumerate(doc.macros):
        warnings += _placeholders(macro.actions, at(at("macros", i), "actions"), known)
    return warnings


def _top_level(cond: Condition) -> list[Predicate]:
    if isinstance(cond, Predicate):
        return [cond]
    if isinstance(cond, All):
        return [item for item in cond.items if isinstance(item, Predicate)]
    return []


def _required_values(cond: Condition) -> dict[str, set[Any]]:
    """Fields a condition requires, at its top level, to be one of a few constants."""
    required: dict[str, set[Any]] = {}
    for p in _top_level(cond):
        if p.op == Op.IS:
            values = {_hashable(p.value)}
        elif p.op == Op.IN and isinstance(p.value, list | tuple | set | frozenset):
            values = {_hashable(v) for v in p.value}
        else:
            continue
        required[p.field] = required[p.field] & values if p.field in required else values
    return required


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _exclusive(a: EventRule, b: EventRule) -> bool:
    if not a.on & b.on:
        return True
    ra, rb = _required_values(a.when), _required_values(b.when)
    return any(not ra[f] & rb[f] for f in ra.keys() & rb.keys())


def _action_index(actions: Sequence[Action], field: str) -> int:
    """The index of the last action that writes `field` to a constant."""
    return max(i for i, action in enumerate(actions) if field in field_writes([action]))


def _opposite_writes(rules: Sequence[EventRule]) -> list[LintWarning]:
    warnings: list[LintWarning] = []
    writes = [field_writes(r.actions) for r in rules]
    for j, b in enumerate(rules):
        for i in range(j):
            a = rules[i]
            common = sorted(f for f in writes[i].keys() & writes[j].keys() if writes[i][f] != writes[j][f])
            clash = _opposite_tags(a.actions, b.actions)
            if (not common and not clash) or _exclusive(a, b):
                continue
            for f in common:
                warnings.append(
                    LintWarning(
                        at(at(at("event_rules", j), "actions"), _action_index(b.actions, f)),
                        "opposite_writes",
                        f"rules {a.key!r} and {b.key!r} both set {f} "
                        f"({value_to_data(writes[i][f])!r} and {value_to_data(writes[j][f])!r}) "
                        "and can match the same change: the later one wins and they may undo each other",
                    )
                )
            if clash:
                tags, index = clash
                warnings.append(
                    LintWarning(
                        at(at(at("event_rules", j), "actions"), index),
                        "opposite_writes",
                        f"rules {a.key!r} and {b.key!r} move the tags {', '.join(tags)} in opposite "
                        "directions and can match the same change: the later one wins and they may undo "
                        "each other",
                    )
                )
    return warnings


def _tag_moves(actions: Sequence[Action]) -> list[tuple[int, str, frozenset[str]]]:
    """(index, "add" | "remove" | "set", tags) of each tag action."""
    moves: list[tuple[int, str, frozenset[str]]] = []
    for i, action in enumerate(actions):
        if isinstance(action, AddTags):
            moves.append((i, "add", frozenset(action.tags)))
        elif isinstance(action, RemoveTags):
            moves.append((i, "remove", frozenset(action.tags)))
        elif isinstance(action, SetTags):
            moves.append((i, "set", frozenset(action.tags)))
    return moves


def _opposite_tags(first: Sequence[Action], second: Sequence[Action]) -> tuple[list[str], int] | None:
    """The tags one rule adds and the other removes (`set_tags` removes every tag it does not
    list), and the index of the second rule's first action involved; None when none."""
    clashed: set[str] = set()
    index: int | None = None
    for _, kind_a, tags_a in _tag_moves(first):
        for i, kind_b, tags_b in _tag_moves(second):
            found = _tags_against(kind_a, tags_a, kind_b, tags_b) | _tags_against(
                kind_b, tags_b, kind_a, tags_a
            )
            if found:
                clashed |= found
                index = i if index is None else min(index, i)
    return (sorted(clashed), index) if index is not None else None


def _tags_against(kind_a: str, tags_a: frozenset[str], kind_b: str, tags_b: frozenset[str]) -> set[str]:
    """Tags that `a` puts on the ticket and `b` takes off."""
    if kind_a == "add" and kind_b == "remove":
        return set(tags_a & tags_b)
    if kind_a == "add" and kind_b == "set":
        return set(tags_a - tags_b)
    if kind_a == "set" and kind_b == "remove":
        return set(tags_a & tags_b)
    return set()


def _reads_own_write(rule: EventRule, path: str) -> list[LintWarning]:
    overlap = sorted(fields_of(rule.when) & fields_written(rule.actions))
    if not overlap:
        return []
    guarded = (
        rule.max_fires_per_ticket is not None
        or rule.on <= {"ticket.created"}
        or any(p.op in CHANGE_OPS or p.field == "event.type" for p in predicates(rule.when))
    )
    if guarded:
        return []
    return [
        LintWarning(
            at(path, "when"),
            "reads_own_write",
            f"rule {rule.key!r} reads and writes {', '.join(overlap)} without a change guard: it may fire "
            "on every update; add a changed/changed_to condition, an event filter or max_fires_per_ticket",
        )
    ]


def _placeholders(actions: Sequence[Action], path: str, known: set[str]) -> list[LintWarning]:
    warnings: list[LintWarning] = []
    for i, action in enumerate(actions):
        for rel, text in templates_of(action):
            for name in sorted(placeholders_of(text) - known):
                warnings.append(
                    LintWarning(
                        f"{at(path, i)}.{rel}",
                        "missing_placeholder",
                        f"placeholder {name!r} names no known field; it renders empty",
                    )
                )
    return warnings
