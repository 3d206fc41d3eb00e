"""Blueprints: parsing with error paths and round trip, entry, owners, the checks and plan of a
transition (automatic chains and their cap), the automation bypass, state time limits, the
dashboard metrics, and the SVG flowchart. Pure Python: no database."""

from __future__ import annotations

import copy
import itertools
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.engine.actions import AddTags, Notify, SetField
from sportello.engine.blueprint_svg import layers, render_svg
from sportello.engine.blueprints import (
    CHAIN_MAX,
    Blueprint,
    BlueprintActor,
    FieldInput,
    Owners,
    ProblemCode,
    StateChange,
    TransitionBlocked,
    TransitionInputs,
    available_transitions,
    blueprint_metrics,
    blueprint_to_data,
    check_transition,
    choose_blueprint,
    initial_state,
    limit_due,
    limit_timers,
    matches_entry,
    may_bypass,
    parse_blueprint,
    plan_transition,
)
from sportello.engine.conditions import FIELDS, FieldSpec, custom_field_spec
from sportello.engine.schema import RuleSchemaError

SPECS: dict[str, FieldSpec] = {
    **FIELDS,
    "ticket.custom.kind": custom_field_spec("kind", "picklist", ("return", "exchange")),
    "ticket.custom.order_id": custom_field_spec("order_id", "text"),
    "ticket.custom.refund_amount": custom_field_spec("refund_amount", "decimal"),
    "ticket.custom.reason": custom_field_spec("reason", "picklist", ("damaged", "wrong_item", "other")),
    "ticket.custom.pickup": custom_field_spec("pickup", "date"),
    "ticket.custom.parts": custom_field_spec("parts", "multi_select", ("screen", "battery", "case")),
}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)

# The returns process of the reference (§7.3), as a fixture.
RETURNS: dict[str, Any] = {
    "key": "returns",
    "name": "Returns",
    "department": 4,
    "priority": 10,
    "entry": {"field": "ticket.custom.kind", "op": "is", "value": "return"},
    "initial": "received",
    "states": [
        {"key": "received", "name": "Received", "status": "open"},
        {
            "key": "awaiting-item",
            "name": "Awaiting the item",
            "status": "pending",
            "time_limit": "5d",
            "business": True,
            "escalations": [
                {"after": "-1h", "actions": [{"notify": {"to": ["assignee"], "template": "bp_limit_near"}}]},
                {"after": "1d", "actions": [{"add_tags": ["return_late"]}]},
            ],
        },
        {"key": "inspecting", "name": "Inspecting", "status": "open", "time_limit": "8h"},
        {"key": "refunded", "name": "Refunded", "status": "solved", "terminal": True},
        {"key": "cancelled", "name": "Cancelled", "status": "closed", "terminal": True},
    ],
    "transitions": [
        {
            "key": "label-sent",
            "name": "Send the return label",
            "from": "received",
            "to": "awaiting-item",
            "owners": {"assignee": True},
            "available_when": {"field": "ticket.custom.kind", "op": "present"},
            "during": {
                "fields": [
                    {
                        "field": "ticket.custom.order_id",
                        "required": True,
                        "matches": "^[A-Z]{2}[0-9]{6}$",
                        "message": "An order id looks like AB123456",
                    },
                    {"field": "ticket.custom.reason", "allowed_values": ["damaged", "wrong_item"]},
                    {"field": "ticket.custom.pickup", "min": "2026-03-01"},
                ],
                "note": "required",
                "attachment": "optional",
            },
            "after": [{"notify": {"to": ["requester"], "template": "return_label"}}],
        },
        {
            "key": "item-arrived",
            "name": "Item arrived",
            "from": "awaiting-item",
            "to": "inspecting",
            "owners": {"departments": [7]},
        },
        {
            "key": "refund",
            "name": "Refund",
            "from": ["inspecting"],
            "to": "refunded",
            "owners": {"roles": ["admin"]},
            "during": {
                "fields": [{"field": "ticket.custom.refund_amount", "required": True, "min": 0, "max": 500}],
                "attachment": "required",
            },
        },
        {
            "key": "cancel",
            "name": "Cancel",
            "from": "*",
            "to": "cancelled",
            "owners": {"agents": [99], "teams": [5]},
            "during": {"note": "required"},
        },
    ],
}


def returns() -> Blueprint:
    return parse_blueprint(RETURNS, specs=SPECS)


def agent(
    ident: int = 1, *, role: str = "agent", teams: tuple[int, ...] = (), departments: tuple[int, ...] = (4,)
) -> BlueprintActor:
    return BlueprintActor(ident, role, frozenset(teams), frozenset(departments))


def keys(transitions: list[Any]) -> list[str]:
    return [t.key for t in transitions]


# -- parsing -------------------------------------------------------------------------------------


def test_the_reference_example_parses_with_its_defaults() -> None:
    bp = returns()
    assert (bp.key, bp.department, bp.priority, bp.active, bp.allow_automation_bypass) == (
        "returns",
        4,
        10,
        True,
        False,
    )
    assert bp.initial == ("received",)
    waiting = bp.states[1]
    assert waiting.time_limit == timedelta(days=5)
    assert waiting.business is True
    assert [e.after for e in waiting.escalations] == [-H, timedelta(days=1)]
    assert waiting.escalations[1].actions == (AddTags(("return_late",)),)
    label = bp.transitions[0]
    assert label.from_states == ("received",)
    assert label.owners == Owners(assignee=True)
    assert label.during.fields[0] == FieldInput(
        "ticket.custom.order_id",
        required=True,
        matches="^[A-Z]{2}[0-9]{6}$",
        message="An order id looks like AB123456",
    )
    assert label.during.fields[2].minimum == date(2026, 3, 1)
    assert (label.during.note, label.during.attachment) == ("required", "optional")
    assert label.after == (Notify("return_label", "", "", ("requester",)),)
    assert bp.transitions[2].during.fields[0].maximum == 500
    assert bp.transitions[3].common
    assert bp.transitions[3].from_states is None


def test_a_minimal_blueprint_takes_the_first_state_as_initial_and_every_ticket_as_entry() -> None:
    bp = parse_blueprint(
        {
            "key": "mini",
            "name": "Mini",
            "department": 1,
            "states": [
                {"key": "a", "name": "A", "status": "open"},
                {"key": "z", "name": "Z", "status": "solved", "terminal": True},
            ],
            "transitions": [{"key": "go", "name": "Go", "from": "a", "to": "z"}],
        },
        specs=SPECS,
    )
    assert bp.initial == ("a",)
    assert matches_entry(bp, {}, SPECS)
    assert bp.transitions[0].owners.anyone


def test_a_blueprint_round_trips_through_its_data_form() -> None:
    bp = returns()
    data = blueprint_to_data(bp)
    assert parse_blueprint(data, specs=SPECS) == bp
    assert data["transitions"][3]["from"] == "*"
    assert data["transitions"][2]["from"] == "inspecting"
    assert data["states"][1]["time_limit"] == "5d"
    assert data["states"][1]["escalations"][0]["after"] == "-1h"
    assert data["transitions"][0]["during"]["fields"][2] == {
        "field": "ticket.custom.pickup",
        "required": False,
        "min": "2026-03-01",
    }


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(RETURNS)
    change(data)
    return data


def _set(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, value = path_and_value

    def change(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _drop_transition(key: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["transitions"] = [t for t in data["transitions"] if t["key"] != key]

    return change


def _add_transition(**t: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["transitions"].append({"key": "extra", "name": "Extra", **t})

    return change


def _add_state(**s: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["states"].append({"key": "extra", "name": "Extra", "status": "open", **s})

    return change


def _no_terminal(data: dict[str, Any]) -> None:
    for state in data["states"]:
        state["terminal"] = False


def _field(i: int, **f: Any) -> Callable[[dict[str, Any]], None]:
    return _set("transitions", 0, "during", "fields", i, f)


BAD = [
    (_set("states", 1, "key", "received"), "states[1].key", "duplicate state key"),
    (_set("transitions", 1, "key", "label-sent"), "transitions[1].key", "duplicate transition key"),
    (_set("transitions", 0, "to", "nowhere"), "transitions[0].to", "not a state"),
    (_set("transitions", 2, "from", ["inspecting", "limbo"]), "transitions[2].from[1]", "not a state"),
    (_add_transition(**{"from": "refunded", "to": "received"}), "transitions[4].from", "terminal"),
    (_set("transitions", 2, "from", []), "transitions[2].from", "at least one state"),
    (_add_state(), "states[5]", "cannot be reached"),
    (_drop_transition("item-arrived"), "states[2]", "cannot be reached"),
    # `cancel` leaves every other state, but not its own target: a non-terminal dead end.
    (_set("states", 4, "terminal", False), "states[4]", "no transition out of it"),
    (_no_terminal, "states", "at least one terminal state"),
    (_set("initial", "limbo"), "initial", "not a state"),
    (_set("initial", ["received", "refunded"]), "initial[1]", "cannot be terminal"),
    (_set("entry", {"field": "ticket.priority", "op": "changed"}), "entry.op", "compares a change"),
    (
        _set("transitions", 0, "available_when", {"all": [{"field": "message.body", "op": "present"}]}),
        "transitions[0].available_when.all[0].field",
        "only during an event",
    ),
    (_field(0, field="ticket.status"), "transitions[0].during.fields[0].field", "sets the status"),
    (_field(0, field="ticket.requester"), "transitions[0].during.fields[0].field", "not writable"),
    (
        _field(0, field="ticket.custom.refund_amount", matches="x"),
        "transitions[0].during.fields[0].matches",
        "does not apply to number fields",
    ),
    (
        _field(0, field="ticket.custom.order_id", matches="(a+)+$"),
        "transitions[0].during.fields[0].matches",
        "repeats",
    ),
    (
        _field(0, field="ticket.custom.order_id", min_length=5, max_length=2),
        "transitions[0].during.fields[0].max_length",
        "less than min_length",
    ),
    (
        _field(0, field="ticket.custom.refund_amount", min=10, max="2.5"),
        "transitions[0].during.fields[0].max",
        "less than min",
    ),
    (
        _field(0, field="ticket.custom.reason", allowed_values=["damaged", "stolen"]),
        "transitions[0].during.fields[0].allowed_values[1]",
        "not one of the field's values",
    ),
    (
        _set("transitions", 0, "during", "fields", 1, {"field": "ticket.custom.order_id"}),
        "transitions[0].during.fields[1].field",
        "listed twice",
    ),
    (_set("transitions", 0, "during", "note", "maybe"), "transitions[0].during.note", "required, optional"),
    (_set("transitions", 0, "after", [{"reply": {"body": "Hi"}}]), "transitions[0].after[0].reply", "macros"),
    (_set("transitions", 0, "after", [{"stop": True}]), "transitions[0].after[0].stop", "no meaning"),
    (
        _set("transitions", 0, "after", [{"set": {"field": "ticket.status", "value": "open"}}]),
        "transitions[0].after[0].set.field",
        "only transitions move the status",
    ),
    (
        _set("states", 0, "escalations", [{"after": "1h", "actions": []}]),
        "states[0].escalations",
        "time_limit",
    ),
    (
        _set("states", 2, "escalations", [{"after": "-9h", "actions": []}]),
        "states[2].escalations[0].after",
        "before the ticket enters",
    ),
    (
        _set("states", 1, "escalations", [{"after": "1h", "actions": []}, {"after": "1h", "actions": []}]),
        "states[1].escalations[1].after",
        "increasing order",
    ),
    (_set("states", 2, "time_limit", "0s"), "states[2].time_limit", "longer than zero"),
    (_set("states", 2, "time_limit", "soon"), "states[2].time_limit", "duration"),
    (_set("states", 3, "time_limit", "1h"), "states[3].time_limit", "terminal state"),
    (_set("states", 0, "business", True), "states[0].business", "time_limit"),
    (_set("states", 0, "status", "open now"), "states[0].status", "status key"),
    (_set("states", 0, "colour", "blue"), "states[0].colour", "unknown key"),
    (_set("transitions", 1, "owners", {"roles": ["boss"]}), "transitions[1].owners.roles[0]", "one of"),
    (_set("transitions", 1, "owners", {"agents": [0]}), "transitions[1].owners.agents[0]", "positive"),
    (
        _set("transitions", 3, "auto", True),
        "transitions[3].during.note",
        "automatic transition cannot require a note",
    ),
    (_set("name", "Returns\u202e"), "name", "control characters"),
    (_set("states", 0, "name", "A\x07B"), "states[0].name", "control characters"),
    (_set("department", True), "department", "positive"),
    (_set("priority", -1), "priority", "integer"),
    (_set("states", []), "states", "at least one state"),
]


@pytest.mark.parametrize(("change", "path", "message"), BAD)
def test_invalid_blueprints_are_refused_at_the_path_of_the_problem(
    change: Callable[[dict[str, Any]], None], path: str, message: str
) -> None:
    with pytest.raises(RuleSchemaError) as err:
        parse_blueprint(_with(change), specs=SPECS)
    assert err.value.path == path
    assert message in err.value.message


def test_statuses_when_given_must_be_known() -> None:
    known = ("open", "pending", "solved", "closed")
    assert parse_blueprint(RETURNS, specs=SPECS, statuses=known) == returns()
    with pytest.raises(RuleSchemaError) as err:
        parse_blueprint(RETURNS, specs=SPECS, statuses=("open", "solved", "closed"))
    assert err.value.path == "states[1].status"


def test_a_nested_path_prefixes_every_error() -> None:
    with pytest.raises(RuleSchemaError) as err:
        parse_blueprint(_with(_set("transitions", 0, "to", "x")), specs=SPECS, path="blueprints[3]")
    assert err.value.path == "blueprints[3].transitions[0].to"


# -- entry and the initial state ---------------------------------------------------------------------


def _variant(
    key: str, priority: int, *, department: int = 4, active: bool = True, kind: str = "return"
) -> Blueprint:
    data = copy.deepcopy(RETURNS)
    data.update(key=key, priority=priority, department=department, active=active)
    data["entry"] = {"field": "ticket.custom.kind", "op": "is", "value": kind}
    return parse_blueprint(data, specs=SPECS)


def test_the_entry_condition_decides_eligibility() -> None:
    bp = returns()
    assert matches_entry(bp, {"ticket.custom.kind": "return"}, SPECS)
    assert not matches_entry(bp, {"ticket.custom.kind": "exchange"}, SPECS)
    assert not matches_entry(bp, {}, SPECS)


def test_a_ticket_enters_the_highest_priority_matching_blueprint_of_its_department() -> None:
    low, high = _variant("low", 1), _variant("high", 5)
    other_department = _variant("elsewhere", 9, department=8)
    inactive = _variant("inactive", 9, active=False)
    exchange = _variant("exchange", 7, kind="exchange")
    pool = [low, other_department, inactive, exchange, high]
    facts = {"ticket.custom.kind": "return"}
    assert choose_blueprint(pool, facts, SPECS, 4) == high
    assert choose_blueprint(pool, {"ticket.custom.kind": "exchange"}, SPECS, 4) == exchange
    assert choose_blueprint(pool, facts, SPECS, 8) == other_department
    assert choose_blueprint(pool, facts, SPECS, 5) is None
    assert choose_blueprint(pool, facts, SPECS, None) is None
    assert choose_blueprint(pool, {}, SPECS, 4) is None


def test_equal_priorities_are_broken_by_key() -> None:
    b, a = _variant("b-flow", 3), _variant("a-flow", 3)
    assert choose_blueprint([b, a], {"ticket.custom.kind": "return"}, SPECS, 4) == a


def test_the_initial_state_follows_the_tickets_status_among_the_declared_initial_states() -> None:
    data = copy.deepcopy(RETURNS)
    data["initial"] = ["received", "awaiting-item"]
    bp = parse_blueprint(data, specs=SPECS)
    assert initial_state(bp, "open") == bp.states[0]
    assert initial_state(bp, "pending") == bp.states[1]
    # `inspecting` is open too, but it is not an initial state: the first declared one wins.
    assert initial_state(bp, "new") == bp.states[0]
    # A ticket already at an end of the process does not enter it.
    assert initial_state(bp, "solved") is None
    assert initial_state(bp, "closed") is None


def test_a_status_of_a_middle_state_does_not_skip_the_steps_before_it() -> None:
    bp = returns()
    assert initial_state(bp, "pending") == bp.states[0]


# -- owners and availability -----------------------------------------------------------------------


def test_the_assignee_owns_assignee_transitions_from_the_facts_or_the_callers_flag() -> None:
    bp = returns()
    facts = {"ticket.custom.kind": "return", "ticket.assignee": 12}
    assert keys(available_transitions(bp, "received", agent(12), facts, SPECS)) == ["label-sent"]
    assert keys(available_transitions(bp, "received", agent(13), facts, SPECS)) == []
    flagged = BlueprintActor(13, "agent", frozenset(), frozenset({4}), is_assignee=True)
    assert keys(available_transitions(bp, "received", flagged, facts, SPECS)) == ["label-sent"]
    unflagged = BlueprintActor(12, "agent", frozenset(), frozenset({4}), is_assignee=False)
    assert keys(available_transitions(bp, "received", unflagged, facts, SPECS)) == []


def test_a_colleague_of_a_listed_department_owns_the_transition() -> None:
    bp = returns()
    warehouse = agent(30, departments=(7,))
    assert keys(available_transitions(bp, "awaiting-item", warehouse, {}, SPECS)) == ["item-arrived"]
    assert keys(available_transitions(bp, "awaiting-item", agent(31), {}, SPECS)) == []


def test_roles_own_a_transition_only_within_the_blueprints_department() -> None:
    bp = returns()
    assert keys(available_transitions(bp, "inspecting", agent(40, role="admin"), {}, SPECS)) == ["refund"]
    outsider = agent(41, role="admin", departments=(9,))
    assert keys(available_transitions(bp, "inspecting", outsider, {}, SPECS)) == []
    assert keys(available_transitions(bp, "inspecting", agent(42), {}, SPECS)) == []


def test_listed_agents_and_team_members_own_a_common_transition_from_every_non_terminal_state() -> None:
    bp = returns()
    for state in ("received", "awaiting-item", "inspecting"):
        assert "cancel" in keys(available_transitions(bp, state, agent(99, departments=()), {}, SPECS))
        assert "cancel" in keys(
            available_transitions(bp, state, agent(50, teams=(5,), departments=()), {}, SPECS)
        )
        assert "cancel" not in keys(available_transitions(bp, state, agent(50, teams=(6,)), {}, SPECS))
    assert available_transitions(bp, "refunded", agent(99), {}, SPECS) == []
    assert available_transitions(bp, "cancelled", agent(99), {}, SPECS) == []
    assert available_transitions(bp, "no-such-state", agent(99), {}, SPECS) == []


def test_without_owners_any_member_of_the_department_may_perform_it() -> None:
    bp = _small(auto_second=False)
    assert keys(available_transitions(bp, "a", agent(1, departments=(1,)), {}, SPECS)) == ["ab"]
    assert keys(available_transitions(bp, "a", agent(1, departments=(2,)), {}, SPECS)) == []


def test_a_transition_whose_condition_is_false_is_not_available() -> None:
    bp = returns()
    assert keys(available_transitions(bp, "received", agent(12), {"ticket.assignee": 12}, SPECS)) == []


# -- checking a transition -------------------------------------------------------------------------

GOOD_FACTS = {"ticket.custom.kind": "return", "ticket.assignee": 12}
GOOD_INPUTS = TransitionInputs(fields={"ticket.custom.order_id": "AB123456"}, note="Label sent")


def codes(problems: list[Any]) -> list[tuple[str, str]]:
    return [(str(p.code), p.field) for p in problems]


def test_a_valid_transition_has_no_problems() -> None:
    assert (
        check_transition(returns(), "received", "label-sent", agent(12), GOOD_FACTS, GOOD_INPUTS, SPECS) == []
    )


def test_an_unknown_transition_or_one_that_does_not_leave_the_state_is_not_available() -> None:
    bp = returns()
    problems = check_transition(bp, "received", "teleport", agent(12), GOOD_FACTS, GOOD_INPUTS, SPECS)
    assert codes(problems) == [("not_available", "transition")]
    assert not problems[0].is_input
    problems = check_transition(bp, "inspecting", "label-sent", agent(12), GOOD_FACTS, GOOD_INPUTS, SPECS)
    assert codes(problems) == [("not_available", "transition")]
    problems = check_transition(
        bp, "cancelled", "cancel", agent(99), GOOD_FACTS, TransitionInputs(note="x"), SPECS
    )
    assert codes(problems) == [("not_available", "transition")]


def test_someone_else_than_an_owner_is_refused() -> None:
    problems = check_transition(
        returns(), "received", "label-sent", agent(13), GOOD_FACTS, GOOD_INPUTS, SPECS
    )
    assert codes(problems) == [("not_owner", "transition")]


def test_a_false_condition_is_reported_with_the_predicate_that_failed() -> None:
    facts = {"ticket.assignee": 12}
    problems = check_transition(returns(), "received", "label-sent", agent(12), facts, GOOD_INPUTS, SPECS)
    assert codes(problems) == [("condition_false", "transition")]
    assert "ticket.custom.kind present" in problems[0].message


def test_a_missing_required_field_note_and_attachment_are_input_problems() -> None:
    bp = returns()
    problems = check_transition(
        bp, "received", "label-sent", agent(12), GOOD_FACTS, TransitionInputs(), SPECS
    )
    assert codes(problems) == [("missing_field", "ticket.custom.order_id"), ("note_required", "note")]
    assert all(p.is_input for p in problems)
    refund = check_transition(
        bp, "inspecting", "refund", agent(1, role="admin"), {}, TransitionInputs(fields={}), SPECS
    )
    assert codes(refund) == [
        ("missing_field", "ticket.custom.refund_amount"),
        ("attachment_required", "attachment"),
    ]
    blank_note = TransitionInputs(fields={"ticket.custom.order_id": "AB123456"}, note="   ")
    assert codes(
        check_transition(bp, "received", "label-sent", agent(12), GOOD_FACTS, blank_note, SPECS)
    ) == [("note_required", "note")]


@pytest.mark.parametrize(
    ("inputs", "field", "message"),
    [
        ({"ticket.custom.order_id": "ab123456"}, "ticket.custom.order_id", "An order id looks like AB123456"),
        ({"ticket.custom.order_id": 12}, "ticket.custom.order_id", "An order id looks like AB123456"),
        ({"ticket.custom.reason": "other"}, "ticket.custom.reason", "'other' is not allowed here"),
        ({"ticket.custom.pickup": "2026-02-28"}, "ticket.custom.pickup", "must be at least 2026-03-01"),
        ({"ticket.custom.pickup": "someday"}, "ticket.custom.pickup", "must be a date"),
        ({"ticket.priority": "high"}, "ticket.priority", "is not an input of this transition"),
    ],
)
def test_invalid_inputs_are_reported_with_their_field(
    inputs: dict[str, Any], field: str, message: str
) -> None:
    given = TransitionInputs(fields={"ticket.custom.order_id": "AB123456", **inputs}, note="ok")
    problems = check_transition(returns(), "received", "label-sent", agent(12), GOOD_FACTS, given, SPECS)
    assert codes(problems) == [("invalid_field", field)]
    assert message in problems[0].message
    assert problems[0].is_input


def _validating(**rule: Any) -> Blueprint:
    data = copy.deepcopy(RETURNS)
    data["transitions"][0]["during"] = {"fields": [rule]}
    return parse_blueprint(data, specs=SPECS)


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        ({"field": "ticket.custom.order_id", "min_length": 3}, "ab", "at least 3 characters"),
        ({"field": "ticket.custom.order_id", "max_length": 3}, "abcd", "at most 3 characters"),
        ({"field": "ticket.custom.refund_amount", "min": "0.01"}, "0", "at least 0.01"),
        ({"field": "ticket.custom.refund_amount", "max": 500}, "500.5", "at most 500"),
        ({"field": "ticket.custom.parts", "allowed_values": ["screen"]}, ["screen", "case"], "'case'"),
        ({"field": "ticket.priority", "allowed_values": ["high", "urgent"]}, "low", "'low' is not allowed"),
    ],
)
def test_each_validation_refuses_a_value_outside_it(rule: dict[str, Any], value: Any, message: str) -> None:
    bp = _validating(**rule)
    problems = check_transition(
        bp,
        "received",
        "label-sent",
        agent(12),
        GOOD_FACTS,
        TransitionInputs(fields={rule["field"]: value}),
        SPECS,
    )
    assert codes(problems) == [("invalid_field", rule["field"])]
    assert message in problems[0].message


def test_every_problem_is_reported_at_once() -> None:
    facts = {"ticket.assignee": 5}
    inputs = TransitionInputs(fields={"ticket.custom.reason": "other"})
    problems = check_transition(returns(), "inspecting", "label-sent", agent(12), facts, inputs, SPECS)
    assert codes(problems) == [
        ("not_available", "transition"),
        ("not_owner", "transition"),
        ("condition_false", "transition"),
        ("missing_field", "ticket.custom.order_id"),
        ("invalid_field", "ticket.custom.reason"),
        ("note_required", "note"),
    ]
    assert {p.code for p in problems} <= set(ProblemCode)


def test_a_required_field_the_ticket_already_holds_needs_no_input_but_is_validated() -> None:
    bp = returns()
    holds = {**GOOD_FACTS, "ticket.custom.order_id": "CD654321"}
    inputs = TransitionInputs(note="Label sent")
    assert check_transition(bp, "received", "label-sent", agent(12), holds, inputs, SPECS) == []
    stale = {**GOOD_FACTS, "ticket.custom.order_id": "bad"}
    assert codes(check_transition(bp, "received", "label-sent", agent(12), stale, inputs, SPECS)) == [
        ("invalid_field", "ticket.custom.order_id")
    ]


def test_an_optional_field_can_be_cleared_but_a_required_one_cannot() -> None:
    bp = returns()
    clear = TransitionInputs(
        fields={"ticket.custom.order_id": "AB123456", "ticket.custom.reason": None}, note="n"
    )
    assert check_transition(bp, "received", "label-sent", agent(12), GOOD_FACTS, clear, SPECS) == []
    plan = plan_transition(bp, "received", "label-sent", agent(12), GOOD_FACTS, clear, SPECS)
    assert plan.steps[0].fields == {"ticket.custom.order_id": "AB123456", "ticket.custom.reason": None}
    erase = TransitionInputs(fields={"ticket.custom.order_id": None}, note="n")
    holds = {**GOOD_FACTS, "ticket.custom.order_id": "CD654321"}
    assert codes(check_transition(bp, "received", "label-sent", agent(12), holds, erase, SPECS)) == [
        ("missing_field", "ticket.custom.order_id")
    ]


# -- planning a transition ---------------------------------------------------------------------------


def test_the_plan_sets_the_inputs_and_the_status_and_runs_the_after_actions() -> None:
    bp = returns()
    inputs = TransitionInputs(
        fields={"ticket.custom.order_id": "AB123456", "ticket.custom.pickup": "2026-03-04"}, note=" Sent "
    )
    plan = plan_transition(
        bp, "received", "label-sent", agent(12), GOOD_FACTS, inputs, SPECS, categories={"pending": "pending"}
    )
    (step,) = plan.steps
    assert (step.from_state, step.to_state, step.status, step.automatic) == (
        "received",
        "awaiting-item",
        "pending",
        False,
    )
    assert step.fields == {"ticket.custom.order_id": "AB123456", "ticket.custom.pickup": date(2026, 3, 4)}
    assert step.note == " Sent "
    assert step.actions == bp.transitions[0].after
    assert (plan.final_state, plan.status, plan.completed, plan.stopped_at, plan.capped) == (
        "awaiting-item",
        "pending",
        False,
        None,
        False,
    )
    assert plan.facts["ticket.status"] == "pending"
    assert plan.facts["ticket.status_category"] == "pending"
    assert plan.facts["ticket.custom.pickup"] == date(2026, 3, 4)
    assert plan.facts["ticket.assignee"] == 12


def test_a_plan_refused_by_the_checks_raises_with_the_problems() -> None:
    with pytest.raises(TransitionBlocked) as err:
        plan_transition(returns(), "received", "label-sent", agent(13), GOOD_FACTS, TransitionInputs(), SPECS)
    assert codes(list(err.value.problems)) == [
        ("not_owner", "transition"),
        ("missing_field", "ticket.custom.order_id"),
        ("note_required", "note"),
    ]


def test_a_refund_amount_is_planned_as_a_decimal() -> None:
    inputs = TransitionInputs(fields={"ticket.custom.refund_amount": "120.50"}, attachments=1)
    plan = plan_transition(returns(), "inspecting", "refund", agent(1, role="admin"), {}, inputs, SPECS)
    assert plan.steps[0].fields == {"ticket.custom.refund_amount": Decimal("120.50")}
    assert plan.completed
    assert plan.status == "solved"


def _small(*, auto_second: bool = True, extra: list[dict[str, Any]] | None = None) -> Blueprint:
    """a → b → c (terminal), with `bc` automatic when asked."""
    return parse_blueprint(
        {
            "key": "small",
            "name": "Small",
            "department": 1,
            "states": [
                {"key": "a", "name": "A", "status": "new"},
                {"key": "b", "name": "B", "status": "open"},
                {"key": "c", "name": "C", "status": "solved", "terminal": True},
            ],
            "transitions": [
                {"key": "ab", "name": "A to B", "from": "a", "to": "b", "after": [{"add_tags": ["checked"]}]},
                {
                    "key": "bc",
                    "name": "B to C",
                    "from": "b",
                    "to": "c",
                    "auto": auto_second,
                    "owners": {"agents": [77]},
                    "available_when": {"field": "ticket.tags", "op": "contains", "value": "checked"},
                },
                *(extra or []),
            ],
        },
        specs=SPECS,
    )


def test_a_single_automatic_transition_runs_right_after_on_the_predicted_facts() -> None:
    # Given B → C is automatic and available once the tag of A → B's after-action is there
    plan = plan_transition(_small(), "a", "ab", agent(1, departments=(1,)), {}, TransitionInputs(), SPECS)
    # Then it runs by itself, although the actor is not its owner
    assert [(s.transition.key, s.automatic) for s in plan.steps] == [("ab", False), ("bc", True)]
    assert plan.final_state == "c"
    assert plan.completed
    assert plan.facts["ticket.tags"] == frozenset({"checked"})


def test_an_automatic_transition_whose_condition_is_false_does_not_run() -> None:
    data = blueprint_to_data(_small())
    data["transitions"][0]["after"] = []  # nobody adds the tag B → C waits for
    bp = parse_blueprint(data, specs=SPECS)
    plan = plan_transition(bp, "a", "ab", agent(1, departments=(1,)), {}, TransitionInputs(), SPECS)
    assert [s.transition.key for s in plan.steps] == ["ab"]
    assert plan.stopped_at is None


def test_two_automatic_candidates_are_ambiguous_and_neither_runs() -> None:
    other = {"key": "bc2", "name": "B to C again", "from": "b", "to": "c", "auto": True}
    plan = plan_transition(
        _small(extra=[other]), "a", "ab", agent(1, departments=(1,)), {}, TransitionInputs(), SPECS
    )
    assert [s.transition.key for s in plan.steps] == ["ab"]


def test_an_automatic_transition_missing_a_required_field_stops_the_chain_and_is_named() -> None:
    needs = {
        "key": "bc2",
        "name": "B to C with an order",
        "from": "b",
        "to": "c",
        "auto": True,
        "during": {"fields": [{"field": "ticket.custom.order_id", "required": True}]},
    }
    bp = _small(auto_second=False, extra=[needs])
    plan = plan_transition(bp, "a", "ab", agent(1, departments=(1,)), {}, TransitionInputs(), SPECS)
    assert [s.transition.key for s in plan.steps] == ["ab"]
    assert plan.stopped_at is not None
    assert plan.stopped_at.key == "bc2"
    ready = plan_transition(
        bp, "a", "ab", agent(1, departments=(1,)), {"ticket.custom.order_id": "X1"}, TransitionInputs(), SPECS
    )
    assert [s.transition.key for s in ready.steps] == ["ab", "bc2"]
    assert ready.steps[1].fields == {}


def test_an_automatic_cycle_stops_at_the_chain_cap() -> None:
    bp = parse_blueprint(
        {
            "key": "loop",
            "name": "Loop",
            "department": 1,
            "states": [
                {"key": "a", "name": "A", "status": "open"},
                {"key": "b", "name": "B", "status": "pending"},
                {"key": "z", "name": "Z", "status": "solved", "terminal": True},
            ],
            "transitions": [
                {"key": "ab", "name": "A to B", "from": "a", "to": "b", "auto": True},
                {"key": "ba", "name": "B to A", "from": "b", "to": "a", "auto": True},
                {"key": "end", "name": "End", "from": "*", "to": "z"},
            ],
        },
        specs=SPECS,
    )
    plan = plan_transition(bp, "a", "ab", agent(1, departments=(1,)), {}, TransitionInputs(), SPECS)
    assert len(plan.steps) == CHAIN_MAX == 10
    assert [s.transition.key for s in plan.steps] == ["ab", "ba"] * 5
    assert [s.automatic for s in plan.steps] == [False] + [True] * 9
    assert plan.capped
    assert plan.final_state == "a"
    assert plan.facts["ticket.status"] == "open"


# -- bypass and time limits --------------------------------------------------------------------------


def test_only_the_blueprint_and_allowed_automation_may_move_the_status_outside_transitions() -> None:
    strict = returns()
    lenient = parse_blueprint({**RETURNS, "allow_automation_bypass": True}, specs=SPECS)
    for kind in ("rule", "sla", "system"):
        assert not may_bypass(strict, kind)
        assert may_bypass(lenient, kind)
    for kind in ("agent", "contact", "unknown"):
        assert not may_bypass(strict, kind)
        assert not may_bypass(lenient, kind)
    assert may_bypass(strict, "blueprint")


def test_entering_a_state_arms_its_escalations_relative_to_the_limit() -> None:
    waiting = returns().states[1]
    assert limit_due(waiting, T0) == T0 + timedelta(days=5)
    timers = limit_timers(waiting, T0)
    assert [(t.state, t.escalation, t.due_at) for t in timers] == [
        ("awaiting-item", 0, T0 + timedelta(days=5) - H),
        ("awaiting-item", 1, T0 + timedelta(days=6)),
    ]
    assert timers[1].actions == (AddTags(("return_late",)),)
    # Business time goes through the calendar (here: every span counts double).
    calls: list[timedelta] = []

    def add_business(start: datetime, span: timedelta) -> datetime:
        calls.append(span)
        return start + 2 * span

    assert limit_due(waiting, T0, add_business=add_business) == T0 + timedelta(days=10)
    assert [t.due_at for t in limit_timers(waiting, T0, add_business=add_business)] == [
        T0 + timedelta(days=10) - 2 * H,
        T0 + timedelta(days=12),
    ]
    inspecting = returns().states[2]  # calendar time
    assert limit_due(inspecting, T0, add_business=add_business) == T0 + 8 * H
    assert limit_due(returns().states[0], T0) is None
    assert limit_timers(returns().states[0], T0) == []


# -- metrics -----------------------------------------------------------------------------------------


def _metrics_blueprint() -> Blueprint:
    return parse_blueprint(
        {
            "key": "work",
            "name": "Work",
            "department": 1,
            "states": [
                {"key": "new", "name": "New", "status": "new"},
                {"key": "work", "name": "Work", "status": "open", "time_limit": "2h"},
                {"key": "done", "name": "Done", "status": "solved", "terminal": True},
            ],
            "transitions": [
                {"key": "start", "name": "Start", "from": "new", "to": "work"},
                {"key": "back", "name": "Back", "from": "work", "to": "new"},
                {"key": "finish", "name": "Finish", "from": "work", "to": "done"},
            ],
        },
        specs=SPECS,
    )


def rec(
    ticket: int, hours: int, source: str | None, target: str | None, transition: str | None
) -> StateChange:
    return StateChange(ticket, T0 + hours * H, source, target, transition)


LOG = [
    # 1: new 1h, work 3h (over its 2h limit), done: 4h in all.
    rec(1, 0, None, "new", None),
    rec(1, 1, "new", "work", "start"),
    rec(1, 4, "work", "done", "finish"),
    # 2: new 1h, work 1h, new 2h, work 1h, done: 5h in all.
    rec(2, 1, None, "new", None),
    rec(2, 2, "new", "work", "start"),
    rec(2, 3, "work", "new", "back"),
    rec(2, 5, "new", "work", "start"),
    rec(2, 6, "work", "done", "finish"),
    # 3: new 1h, then in work since T0+3h: at T0+8h it is 3h over.
    rec(3, 2, None, "new", None),
    rec(3, 3, "new", "work", "start"),
    # 4: in new since T0+7h.
    rec(4, 7, None, "new", None),
    # 5: its entry is not in the log; work 1h, done.
    rec(5, 0, "new", "work", "start"),
    rec(5, 1, "work", "done", "finish"),
    # 6: entered, then the blueprint was removed: neither active nor completed.
    rec(6, 1, None, "new", None),
    rec(6, 2, "new", None, None),
]


def test_metrics_from_a_hand_built_log() -> None:
    shuffled = LOG[::2] + LOG[1::2]  # the order of the records does not matter, their instants do
    m = blueprint_metrics(_metrics_blueprint(), shuffled, T0 + 8 * H)
    assert m.active == 2
    assert dict(m.active_per_state) == {"new": 1, "work": 1}
    assert [(o.ticket, o.state, o.entered_at, o.over_by) for o in m.overdue] == [
        (3, "work", T0 + 3 * H, 3 * H)
    ]
    assert m.completed == 2
    assert m.average_completion == timedelta(hours=4, minutes=30)
    # new: 1h (1), 1h (2), 2h (2), 1h (3), 1h (6); work: 3h (1), 1h (2), 1h (2), 1h (5).
    assert dict(m.average_per_state) == {
        "new": timedelta(hours=1, minutes=12),
        "work": timedelta(hours=1, minutes=30),
    }
    assert m.transition_counts == (("start", 5), ("finish", 3), ("back", 1))
    assert m.limit_violations == 2
    assert m.tickets_with_violations == 2


def test_metrics_of_an_empty_log() -> None:
    m = blueprint_metrics(_metrics_blueprint(), [], T0)
    assert (m.active, m.completed, m.average_completion, m.limit_violations) == (0, 0, None, 0)
    assert dict(m.active_per_state) == {"new": 0, "work": 0}
    assert dict(m.average_per_state) == {"new": None, "work": None}
    assert m.overdue == ()
    assert m.transition_counts == ()


def test_metrics_over_a_period_count_only_what_happened_in_it() -> None:
    # The period [T0+3h, T0+8h): the log before it only says where tickets were.
    m = blueprint_metrics(_metrics_blueprint(), LOG, T0 + 8 * H, since=T0 + 3 * H)
    # Runs completed in it: 1 (4h, entered before the period) and 2 (5h); 5 finished before.
    assert (m.completed, m.average_completion) == (2, timedelta(hours=4, minutes=30))
    # Visits ended in it. new: 2h (2), 1h (3); work: 3h (1), 1h (2), 1h (2).
    assert dict(m.average_per_state) == {
        "new": timedelta(hours=1, minutes=30),
        "work": timedelta(hours=1, minutes=40),
    }
    assert m.transition_counts == (("finish", 2), ("start", 2), ("back", 1))
    # 1's work visit ended over its limit in the period; 3 is still over it at the end.
    assert (m.limit_violations, m.tickets_with_violations) == (2, 2)
    assert (m.active, dict(m.active_per_state)) == (2, {"new": 1, "work": 1})


def test_metrics_ignore_the_log_after_the_end_of_the_period() -> None:
    m = blueprint_metrics(_metrics_blueprint(), LOG, T0 + 5 * H, since=T0 + 3 * H)
    # At T0+5h: 2 is back in new since 3h; 3 has been in work 2h (its limit, not over it); 4 has
    # not entered yet; only 1 completed (at 4h), and 2's second start (at 5h) is not counted.
    assert (m.active, dict(m.active_per_state)) == (2, {"new": 1, "work": 1})
    assert m.overdue == ()
    assert (m.completed, m.transition_counts) == (1, (("back", 1), ("finish", 1), ("start", 1)))
    assert (m.limit_violations, m.tickets_with_violations) == (1, 1)


def test_metrics_give_the_averages_in_business_time_too() -> None:
    def half(start: datetime, end: datetime) -> timedelta:
        return (end - start) / 2

    m = blueprint_metrics(_metrics_blueprint(), LOG, T0 + 8 * H, business_elapsed=half)
    assert m.average_completion == timedelta(hours=4, minutes=30)
    assert m.average_completion_business == timedelta(hours=2, minutes=15)
    assert dict(m.average_per_state_business) == {
        "new": timedelta(minutes=36),
        "work": timedelta(minutes=45),
    }
    plain = blueprint_metrics(_metrics_blueprint(), LOG, T0 + 8 * H)
    assert plain.average_completion_business is None
    assert dict(plain.average_per_state_business) == {"new": None, "work": None}


def test_a_business_time_limit_is_measured_with_the_business_clock() -> None:
    data = blueprint_to_data(_metrics_blueprint())
    data["states"][1]["business"] = True
    bp = parse_blueprint(data, specs=SPECS)

    def half(start: datetime, end: datetime) -> timedelta:
        return (end - start) / 2

    m = blueprint_metrics(bp, LOG, T0 + 8 * H, business_elapsed=half)
    # Only ticket 3 (5h of calendar time, 2h30m of business time) is over its limit, by 30m.
    assert [(o.ticket, o.over_by) for o in m.overdue] == [(3, timedelta(minutes=30))]
    assert m.limit_violations == 1


# -- the flowchart -----------------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))  # noqa: S314 - our own output


def test_the_flowchart_is_well_formed_svg_with_a_box_per_state() -> None:
    bp = returns()
    root = parse_svg(render_svg(bp))
    assert root.tag == f"{SVG}svg"
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("state")]
    assert [g.findtext(f"{SVG}title") for g in groups] == [s.name for s in bp.states]
    terminal = [g for g in groups if g.get("class") == "state terminal"]
    assert [len(g.findall(f"{SVG}rect")) for g in terminal] == [2, 2]  # a double border
    assert all(len(g.findall(f"{SVG}rect")) == 1 for g in groups if g not in terminal)
    assert len(root.findall(f".//{SVG}circle")) == 1  # the start dot of the one initial state
    # One arrow per (source, target) of the non-common transitions.
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "transition"]) == 3
    common = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "common")
    assert "Cancel → Cancelled" in "".join(common.itertext())


def test_layers_follow_the_longest_path_from_the_initial_states() -> None:
    data = blueprint_to_data(returns())
    # A shortcut from received to inspecting does not lift inspecting: the longest path wins.
    data["transitions"].append({"key": "skip", "name": "Skip", "from": "received", "to": "inspecting"})
    # A way back up does not push anything down.
    data["transitions"].append({"key": "again", "name": "Again", "from": "inspecting", "to": "awaiting-item"})
    bp = parse_blueprint(data, specs=SPECS)
    assert layers(bp) == {"received": 0, "awaiting-item": 1, "inspecting": 2, "refunded": 3, "cancelled": 3}


def test_names_from_admins_are_escaped() -> None:
    data = blueprint_to_data(returns())
    data["name"] = "Returns <script>alert('x')</script>"
    data["states"][0]["name"] = 'R&D "<script>"'
    data["transitions"][0]["name"] = "Send & <b>label</b>"
    data["transitions"][3]["name"] = "</text><script>x</script>"
    text = render_svg(parse_blueprint(data, specs=SPECS))
    assert "<script" not in text
    assert "<b>" not in text
    assert "R&amp;D &quot;&lt;script&gt;&quot;" in text
    root = parse_svg(text)
    texts = list(root.itertext())
    assert 'R&D "<script>"' in texts
    assert "Send & <b>label</b>" in texts
    assert root.findtext(f"{SVG}title") == "Returns <script>alert('x')</script>"


def test_characters_xml_cannot_hold_are_replaced_in_a_hand_built_blueprint() -> None:
    bp = returns()
    odd = Blueprint(
        key=bp.key,
        name="Bad\x00name\x0b",
        department=bp.department,
        states=bp.states,
        transitions=bp.transitions,
        initial=bp.initial,
    )
    root = parse_svg(render_svg(odd))
    assert root.findtext(f"{SVG}title") == "Bad\ufffdname\ufffd"


def test_the_flowchart_is_deterministic_and_draws_loops_curves_and_arcs() -> None:
    data = blueprint_to_data(returns())
    data["states"].append({"key": "on-hold", "name": "On hold", "status": "on_hold"})
    data["transitions"] += [
        {"key": "remind", "name": "Remind", "from": "awaiting-item", "to": "awaiting-item"},
        {"key": "hold", "name": "Hold", "from": "*", "to": "on-hold"},
        {"key": "resume", "name": "Resume", "from": "on-hold", "to": "awaiting-item"},
        {"key": "close", "name": "Close", "from": "on-hold", "to": "refunded"},
    ]
    bp = parse_blueprint(data, specs=SPECS)
    # States reached only by common transitions go to the lowest layer.
    assert layers(bp) == {
        "received": 0,
        "awaiting-item": 1,
        "inspecting": 2,
        "refunded": 3,
        "cancelled": 3,
        "on-hold": 3,
    }
    first = render_svg(bp)
    assert first == render_svg(parse_blueprint(blueprint_to_data(bp), specs=SPECS))
    root = parse_svg(first)
    labels = ["".join(g.itertext()) for g in root.iter(f"{SVG}g") if g.get("class") == "label"]
    assert labels == ["Send the return label", "Item arrived", "Refund", "Resume", "Close", "Remind"]
    paths = [p.get("d", "") for p in root.iter(f"{SVG}path") if p.get("class") == "transition"]
    assert len(paths) == 6
    assert [" C" in d for d in paths] == [False, False, False, True, True, True]
    common = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "common")
    assert "Hold → On hold" in "".join(common.itertext())


# -- properties --------------------------------------------------------------------------------------


def _valid_name(text: str) -> bool:
    bidi = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufffe\uffff"
    return bool(text.strip()) and not any(unicodedata.category(c) in ("Cc", "Cs") or c in bidi for c in text)


_names = st.one_of(
    st.sampled_from(["<script>alert(1)</script>", "R&D", 'say "hi"', "it's", "]]>", "&amp;", "Ünïcødé ✓"]),
    st.text(min_size=1, max_size=40).filter(_valid_name),
)


@st.composite
def blueprint_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid blueprint: a chain through the non-terminal states to every terminal one, plus
    random extra transitions (some common, some automatic)."""
    n = draw(st.integers(2, 7))
    terminals = draw(st.integers(1, min(2, n - 1)))
    state_keys = [f"s{i}" for i in range(n)]
    inner, ends = state_keys[: n - terminals], state_keys[n - terminals :]
    states = []
    for key in state_keys:
        state: dict[str, Any] = {
            "key": key,
            "name": draw(_names),
            "status": draw(st.sampled_from(["open", "pending", "solved"])),
        }
        if key in ends:
            state["terminal"] = True
        elif draw(st.booleans()):
            state["time_limit"] = draw(st.sampled_from(["30m", "8h", "2d"]))
        states.append(state)
    pairs = [*itertools.pairwise(inner), *((inner[-1], e) for e in ends)]
    for _ in range(draw(st.integers(0, 5))):
        pairs.append((draw(st.sampled_from([*inner, "*"])), draw(st.sampled_from(state_keys))))
    transitions = [
        {
            "key": f"t{i}",
            "name": draw(_names),
            "from": source,
            "to": target,
            "auto": draw(st.booleans()),
            "owners": draw(st.sampled_from([{}, {"assignee": True}, {"roles": ["admin"], "agents": [3]}])),
        }
        for i, (source, target) in enumerate(pairs)
    ]
    return {
        "key": draw(st.sampled_from(["bp", "flow-1", "x_y"])),
        "name": draw(_names),
        "department": draw(st.integers(1, 99)),
        "priority": draw(st.integers(0, 9)),
        "initial": [inner[0]],
        "states": states,
        "transitions": transitions,
    }


@settings(max_examples=60)
@given(blueprint_data())
def test_any_valid_blueprint_round_trips_and_renders_to_well_formed_svg(data: dict[str, Any]) -> None:
    bp = parse_blueprint(data, specs=SPECS)
    assert parse_blueprint(blueprint_to_data(bp), specs=SPECS) == bp
    text = render_svg(bp)
    assert text == render_svg(bp)
    root = parse_svg(text)
    titles = [
        g.findtext(f"{SVG}title") for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("state")
    ]
    assert titles == [s.name for s in bp.states]
    assert root.findtext(f"{SVG}title") == bp.name
    assert set(layers(bp)) == {s.key for s in bp.states}
    assert all(layer == 0 for key, layer in layers(bp).items() if key in bp.initial)


@settings(max_examples=60)
@given(blueprint_data(), st.integers(1, 3), st.sampled_from(["agent", "admin"]))
def test_available_transitions_are_exactly_those_without_problems(
    data: dict[str, Any], ident: int, role: str
) -> None:
    bp = parse_blueprint(data, specs=SPECS)
    actor = agent(ident, role=role, departments=(bp.department,))
    facts = {"ticket.assignee": 2}
    for state in bp.states:
        available = set(keys(available_transitions(bp, state.key, actor, facts, SPECS)))
        clean = {
            t.key
            for t in bp.transitions
            if check_transition(bp, state.key, t.key, actor, facts, TransitionInputs(), SPECS) == []
        }
        assert available == clean


def test_field_writes_of_after_actions_reach_the_predicted_facts() -> None:
    data = blueprint_to_data(_small(auto_second=False))
    data["transitions"][0]["after"] = [{"set": {"field": "ticket.priority", "value": "high"}}]
    bp = parse_blueprint(data, specs=SPECS)
    plan = plan_transition(
        bp, "a", "ab", agent(1, departments=(1,)), {"ticket.priority": "low"}, TransitionInputs(), SPECS
    )
    assert plan.steps[0].actions == (SetField("ticket.priority", "high"),)
    assert plan.facts["ticket.priority"] == "high"
    assert plan.facts["ticket.status"] == "open"


def test_the_example_in_the_module_docstring_parses() -> None:
    import yaml

    from sportello.engine import blueprints

    doc = blueprints.__doc__ or ""
    start = doc.index("    key: returns")
    end = doc.index("Choices made here")
    example = yaml.safe_load("\n".join(line[4:] for line in doc[start:end].splitlines()))
    bp = parse_blueprint(example, specs=SPECS)
    assert [s.key for s in bp.states] == ["received", "awaiting-item", "refunded"]
    assert bp.transitions[0].during.fields[1].minimum == 0
    assert parse_blueprint(blueprint_to_data(bp), specs=SPECS) == bp
