"""The trigger cycle: order, fire-once, passes, the loop guard, stop, errors and the trace.
Pure Python: no database; `apply` is a pure fake of the pipeline's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.engine.actions import (
    Action,
    AddNote,
    AddTags,
    Assign,
    RemoveTags,
    SetField,
    SetTags,
    Stop,
    parse_actions,
)
from sportello.engine.conditions import FIELDS, evaluate, parse_condition
from sportello.engine.rules import EventRule
from sportello.engine.triggers import MAX_PASSES, ApplyResult, RuleLike, run_cycle

SPECS = FIELDS
MISSING_AGENT = 999


def fake_apply(rule: RuleLike, action: Action, facts: Mapping[str, Any]) -> ApplyResult:
    """The pipeline's apply, reduced to dict updates; agent 999 does not exist."""
    new = dict(facts)
    match action:
        case SetField(field=field, value=value):
            new[field] = value
        case AddTags(tags=tags):
            new["ticket.tags"] = frozenset(facts.get("ticket.tags", frozenset())) | set(tags)
        case RemoveTags(tags=tags):
            new["ticket.tags"] = frozenset(facts.get("ticket.tags", frozenset())) - set(tags)
        case SetTags(tags=tags):
            new["ticket.tags"] = frozenset(tags)
        case Assign(target="agent", id=ident) if ident == MISSING_AGENT:
            return ApplyResult(facts, False, f"agent {ident} does not exist")
        case Assign(target=target, id=ident) if target != "policy":
            new[
                {"agent": "ticket.assignee", "team": "ticket.team", "department": "ticket.department"}[target]
            ] = ident
        case _:
            return ApplyResult(facts, False)
    return ApplyResult(new, new != dict(facts))


def rule(key: str, when: dict[str, Any], actions: list[dict[str, Any]], **kw: Any) -> EventRule:
    return EventRule(
        key=key,
        name=key,
        when=parse_condition(when, specs=SPECS),
        actions=parse_actions(actions, specs=SPECS),
        **kw,
    )


BEFORE: dict[str, Any] = {
    "ticket.subject": "Refund please",
    "ticket.priority": "normal",
    "ticket.team": None,
    "ticket.assignee": None,
    "ticket.tags": frozenset(),
}
AFTER = {**BEFORE, "event.type": "ticket.updated"}


def run(rules: list[EventRule], facts: dict[str, Any] | None = None, **kw: Any) -> Any:
    return run_cycle(rules, before=BEFORE, facts=facts or AFTER, specs=SPECS, apply=fake_apply, **kw)


def outcomes(result: Any) -> list[tuple[str, int, str]]:
    return [(t.rule, t.pass_, t.outcome) for t in result.trace]


SUBJECT_REFUND = {"field": "ticket.subject", "op": "contains", "value": "refund"}
PRIORITY_HIGH = {"field": "ticket.priority", "op": "is", "value": "high"}
SET_HIGH = {"set": {"field": "ticket.priority", "value": "high"}}


def test_later_rules_see_earlier_rules_changes_in_the_same_pass() -> None:
    # Given A sets priority high on a refund, and B (later) tags high-priority tickets
    a = rule("a", SUBJECT_REFUND, [SET_HIGH], position=1)
    b = rule("b", PRIORITY_HIGH, [{"add_tags": ["escalated"]}], position=2)
    # When the cycle runs
    result = run([b, a])
    # Then both fire in pass 1, and pass 2 finds nothing new
    assert result.fired == ["a", "b"]
    assert result.passes == 2
    assert result.facts["ticket.priority"] == "high"
    assert result.facts["ticket.tags"] == frozenset({"escalated"})
    assert outcomes(result) == [
        ("a", 1, "fired"),
        ("b", 1, "fired"),
        ("a", 2, "skipped: already fired"),
        ("b", 2, "skipped: already fired"),
    ]


def test_an_earlier_rule_sees_a_later_change_in_the_next_pass() -> None:
    # Given B runs first but only matches after A's change
    b = rule("b", PRIORITY_HIGH, [{"add_tags": ["escalated"]}], position=1)
    a = rule("a", SUBJECT_REFUND, [SET_HIGH], position=2)
    result = run([a, b])
    assert result.fired == ["a", "b"]
    assert result.passes == 3
    assert outcomes(result)[:3] == [("b", 1, "not_matched"), ("a", 1, "fired"), ("b", 2, "fired")]


def test_order_is_category_then_position_then_key() -> None:
    rules = [
        rule("z", SUBJECT_REFUND, [], category="notify", position=0),
        rule("m", SUBJECT_REFUND, [], category="routing", position=5),
        rule("b", SUBJECT_REFUND, [], category="routing", position=1),
        rule("a", SUBJECT_REFUND, [], category="routing", position=1),
        rule("c", SUBJECT_REFUND, [], category="audit", position=0),
    ]
    assert run(rules, categories=["routing", "notify"]).fired == ["a", "b", "m", "z", "c"]
    assert run(rules).fired == ["c", "z", "a", "b", "m"]


def test_changed_compares_with_the_state_before_the_external_change() -> None:
    # Given A assigns team 7 and B reacts to a team change
    a = rule("a", SUBJECT_REFUND, [{"assign": {"team": 7}}], position=1)
    b = rule(
        "b",
        {"field": "ticket.team", "op": "changed"},
        [{"notify": {"template": "team_assigned", "to": ["team"]}}],
        position=2,
    )
    result = run([a, b])
    # Then B sees the change A made (before = the facts before the update)
    assert result.fired == ["a", "b"]


def test_each_rule_fires_at_most_once_even_when_rules_undo_each_other() -> None:
    # Given two rules that flip priority back and forth
    a = rule("a", PRIORITY_HIGH, [{"set": {"field": "ticket.priority", "value": "low"}}], position=1)
    b = rule("b", {"field": "ticket.priority", "op": "is", "value": "low"}, [SET_HIGH], position=2)
    result = run([a, b], {**AFTER, "ticket.priority": "high"})
    # Then each fires once and the cycle ends without the loop guard
    assert result.fired == ["a", "b"]
    assert result.facts["ticket.priority"] == "high"
    assert result.passes == 2
    assert result.loop_guard is False


def test_passes_are_capped_and_the_loop_guard_is_set() -> None:
    # Given a chain of 11 rules in reverse order: rule k adds s<k> when s<k-1> is there
    chain = [
        rule(
            f"r{k:02d}",
            {"field": "ticket.tags", "op": "contains", "value": f"s{k - 1}"},
            [{"add_tags": [f"s{k}"]}],
            position=100 - k,
        )
        for k in range(1, 12)
    ]
    result = run(chain, {**AFTER, "ticket.tags": frozenset({"s0"})})
    # Then one rule fires per pass, and the cycle stops after MAX_PASSES
    assert result.passes == MAX_PASSES
    assert result.loop_guard is True
    assert result.fired == [f"r{k:02d}" for k in range(1, MAX_PASSES + 1)]


def test_max_fires_per_ticket_skips_a_rule_that_fired_enough() -> None:
    a = rule("a", SUBJECT_REFUND, [SET_HIGH], max_fires_per_ticket=2)
    assert outcomes(run([a], fired_counts={"a": 2})) == [("a", 1, "skipped: max fires")]
    assert run([a], fired_counts={"a": 1}).fired == ["a"]


def test_event_filter_skips_rules_not_listening_to_the_event() -> None:
    a = rule("a", SUBJECT_REFUND, [SET_HIGH], on=frozenset({"ticket.created"}))
    assert outcomes(run([a])) == [("a", 1, "skipped: event filter")]
    assert run([a], {**AFTER, "event.type": "ticket.created"}).fired == ["a"]


def test_stop_ends_the_cycle_after_the_rules_own_actions() -> None:
    a = rule("a", SUBJECT_REFUND, [{"stop": True}, SET_HIGH], position=1)
    b = rule("b", SUBJECT_REFUND, [{"add_tags": ["late"]}], position=2)
    result = run([a, b])
    assert result.fired == ["a"]
    assert result.stopped_by == "a"
    assert result.facts["ticket.priority"] == "high"
    assert outcomes(result) == [("a", 1, "fired"), ("b", 1, "skipped: stopped")]
    assert [s.outcome for s in result.trace[0].actions] == ["stop", "changed"]


def test_stop_processing_ends_the_cycle() -> None:
    a = rule("a", SUBJECT_REFUND, [SET_HIGH], position=1, stop_processing=True)
    b = rule("b", SUBJECT_REFUND, [{"add_tags": ["late"]}], position=2)
    result = run([a, b])
    assert (result.fired, result.stopped_by, result.passes) == (["a"], "a", 1)


def test_a_failing_action_rolls_back_the_rule_and_skips_its_other_actions() -> None:
    a = rule("a", SUBJECT_REFUND, [SET_HIGH, {"assign": {"agent": MISSING_AGENT}}, {"add_tags": ["x"]}])
    result = run([a])
    assert result.fired == []
    assert result.errored == ["a"]
    assert result.facts == AFTER
    trace = result.trace[0]
    assert trace.outcome == "error"
    assert [(s.action, s.outcome, s.error) for s in trace.actions] == [
        ("set", "changed", None),
        ("assign", "error", f"agent {MISSING_AGENT} does not exist"),
        ("add_tags", "skipped", None),
    ]


def test_side_effects_are_handed_to_apply_but_do_not_count_as_changes() -> None:
    seen: list[Action] = []

    def recording_apply(r: RuleLike, action: Action, facts: Mapping[str, Any]) -> ApplyResult:
        seen.append(action)
        return ApplyResult({**facts, "ticket.priority": "urgent"}, True)  # ignored for a side effect

    a = rule("a", SUBJECT_REFUND, [{"note": {"body": "Noted"}}, {"assign": {"policy": 3}}])
    result = run_cycle([a], before=BEFORE, facts=AFTER, specs=SPECS, apply=recording_apply)
    assert seen == [AddNote("Noted"), Assign("policy", 3)]
    assert result.passes == 1
    assert result.facts == AFTER
    assert [s.outcome for s in result.trace[0].actions] == ["queued", "queued"]


def test_inactive_rules_are_not_considered() -> None:
    a = rule("a", SUBJECT_REFUND, [SET_HIGH], active=False)
    result = run([a])
    assert (result.fired, result.trace) == ([], [])


def test_the_trace_records_version_and_predicates() -> None:
    a = rule("a", PRIORITY_HIGH, [], version=3)
    trace = run([a]).trace[0]
    assert (trace.rule, trace.version, trace.outcome) == ("a", 3, "not_matched")
    assert [(p.field, p.observed, p.result) for p in trace.predicates] == [
        ("ticket.priority", "normal", False)
    ]


def considered(result: Any) -> list[tuple[str, int | None, str, str | None]]:
    return list(result.considered)


def test_every_rule_considered_is_listed_once_with_its_last_outcome_and_first_failing_part() -> None:
    # Given a rule that fires, one whose second condition fails, one listening to another event,
    # one at its cap, one matching only after the first rule's change, and one after a stop
    fires = rule("a-fires", SUBJECT_REFUND, [SET_HIGH], position=1, version=2)
    fails = rule(
        "b-fails", {"all": [SUBJECT_REFUND, {"field": "ticket.team", "op": "present"}]}, [], position=2
    )
    other = rule("c-other", SUBJECT_REFUND, [], position=3, on=frozenset({"ticket.created"}))
    capped = rule("d-capped", SUBJECT_REFUND, [], position=4, max_fires_per_ticket=1)
    later = rule("e-later", PRIORITY_HIGH, [{"add_tags": ["seen"]}], position=0)
    result = run([fires, fails, other, capped, later], fired_counts={"d-capped": 1})
    # Then each is listed once, in the order first considered, as it ended
    assert considered(result) == [
        ("e-later", None, "fired", None),  # not matched in pass 1, fired in pass 2
        ("a-fires", 2, "fired", None),
        ("b-fails", None, "not_matched", "when.all[1]"),
        ("c-other", None, "skipped: event filter", None),
        ("d-capped", None, "skipped: max fires", None),
    ]
    # and without explaining every predicate, the same; the full trace holds only what acted
    quiet = run([fires, fails, other, capped, later], explain_all=False, fired_counts={"d-capped": 1})
    assert considered(quiet) == considered(result)
    assert [(t.rule, t.pass_) for t in quiet.trace] == [
        ("a-fires", 1),
        ("d-capped", 1),
        ("e-later", 2),
        ("d-capped", 2),
        ("d-capped", 3),
    ]


def test_a_rule_after_a_stop_is_listed_as_stopped() -> None:
    a = rule("a", SUBJECT_REFUND, [{"stop": True}], position=1)
    b = rule("b", SUBJECT_REFUND, [{"add_tags": ["late"]}], position=2)
    assert considered(run([a, b], explain_all=False)) == [
        ("a", None, "fired", None),
        ("b", None, "skipped: stopped", None),
    ]


def test_a_stop_action_is_not_handed_to_apply() -> None:
    seen: list[Action] = []

    def recording_apply(r: RuleLike, action: Action, facts: Mapping[str, Any]) -> ApplyResult:
        seen.append(action)
        return ApplyResult(facts, False)

    run_cycle(
        [rule("a", SUBJECT_REFUND, [{"stop": True}])],
        before=None,
        facts=AFTER,
        specs=SPECS,
        apply=recording_apply,
    )
    assert seen == []
    assert Stop() not in seen


# -- laws ------------------------------------------------------------------------------------

_priority = st.sampled_from(["low", "normal", "high", "urgent"])
_tag = st.sampled_from(["a", "b", "c", "d"])
_when = st.one_of(
    _priority.map(lambda p: {"field": "ticket.priority", "op": "is", "value": p}),
    _tag.map(lambda t: {"field": "ticket.tags", "op": "contains", "value": t}),
    _tag.map(lambda t: {"not": {"field": "ticket.tags", "op": "contains", "value": t}}),
    st.just({"field": "ticket.priority", "op": "changed"}),
)
_action = st.one_of(
    _priority.map(lambda p: {"set": {"field": "ticket.priority", "value": p}}),
    _tag.map(lambda t: {"add_tags": [t]}),
    _tag.map(lambda t: {"remove_tags": [t]}),
)
_rules = st.lists(
    st.tuples(_when, st.lists(_action, min_size=1, max_size=2), st.integers(0, 5), st.booleans()),
    max_size=14,
).map(
    lambda specs: [
        rule(f"r{i:02d}", w, a, position=p, stop_processing=stop and i % 5 == 0)
        for i, (w, a, p, stop) in enumerate(specs)
    ]
)


@settings(max_examples=150)
@given(_rules, _priority, st.frozensets(_tag))
def test_cycle_terminates_fires_each_rule_once_and_ends_stable(
    rules: list[EventRule], priority: str, tags: frozenset[str]
) -> None:
    facts = {**AFTER, "ticket.priority": priority, "ticket.tags": tags}
    result = run(rules, facts)
    # Every rule fires at most once, within the pass cap
    assert len(result.fired) == len(set(result.fired))
    assert 1 <= result.passes <= MAX_PASSES
    # Unless stopped or capped, no rule left unfired still matches the final facts
    if result.stopped_by is None and not result.loop_guard:
        for r in rules:
            if r.key not in result.fired:
                assert not evaluate(r.when, result.facts, before=BEFORE, specs=SPECS)
