"""The condition language: parsing with error paths, evaluation per operator and type, traces,
round trips and totality on odd facts. Pure Python: no database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.engine.conditions import (
    FIELDS,
    MATCH_INPUT_MAX,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_VALUES,
    OPS_BY_TYPE,
    TRACE_TEXT_MAX,
    All,
    AnyOf,
    FactView,
    FieldSpec,
    FieldType,
    Not,
    Op,
    Predicate,
    PredicateTrace,
    compile_condition,
    compile_failure,
    condition_to_data,
    custom_field_spec,
    evaluate,
    explain,
    fields_of,
    parse_condition,
    uses_event_facts,
)
from sportello.engine.regex_safety import REGEX_MAX
from sportello.engine.schema import RuleSchemaError

SPECS: dict[str, FieldSpec] = {
    **FIELDS,
    **{
        s.path: s
        for s in (
            custom_field_spec("order_id", "text"),
            custom_field_spec("qty", "number"),
            custom_field_spec("price", "decimal"),
            custom_field_spec("due", "date"),
            custom_field_spec("seen", "datetime"),
            custom_field_spec("gift", "boolean"),
            custom_field_spec("product", "picklist", ("XT372", "XT400")),
            custom_field_spec("formats", "multi_select", ("paper", "ebook", "audio")),
        )
    },
}
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def pred(field: str, op: str, value: Any = None, *, no_value: bool = False) -> Any:
    data: dict[str, Any] = {"field": field, "op": op}
    if not no_value:
        data["value"] = value
    return parse_condition(data, specs=SPECS)


def check(field: str, op: str, value: Any, fact: Any) -> bool:
    """Evaluate one predicate (value in data form; `...` for no value) on one fact."""
    data: dict[str, Any] = {"field": field, "op": op}
    if value is not ...:
        data["value"] = value
    cond = parse_condition(data, specs=SPECS)
    facts = {} if fact is ... else {field: fact}
    return evaluate(cond, facts, before=facts, specs=SPECS)


# --------------------------------------------------------------------------------------------
# Evaluation: one table per type


@pytest.mark.parametrize(
    ("op", "value", "fact", "expected"),
    [
        ("is", "Refund please", "refund PLEASE", True),
        ("is", "refund", "refund please", False),
        ("is", "refund", ..., False),
        ("is", "refund", "", False),
        ("is_not", "refund", "Refund", False),
        ("is_not", "refund", "other", True),
        ("is_not", "refund", ..., True),
        ("in", ["a", "Refund"], "REFUND", True),
        ("in", ["a", "b"], "c", False),
        ("in", ["a"], None, False),
        ("not_in", ["a", "b"], "B", False),
        ("not_in", ["a", "b"], "c", True),
        ("not_in", ["a"], ..., True),
        ("contains", "phone heats", "The PHONE heats up", True),
        ("contains", "refund", "refunded", True),
        ("contains", "refund", "no money back", False),
        ("contains", "refund", ..., False),
        ("not_contains", "refund", "refunded", False),
        ("not_contains", "refund", "other", True),
        ("not_contains", "refund", ..., True),
        ("starts_with", "re:", "RE: your order", True),
        ("starts_with", "your", "RE: your order", False),
        ("contains_word", "refund", "A REFUND, please", True),
        ("contains_word", "refund", "refunded please", False),
        ("contains_word", "refund", "my_refund", False),  # "_" is a word character
        ("contains_word", "caffè", "un caffè.", True),
        ("contains_word", "caff", "un caffè", False),  # "è" is a word character
        ("contains_word", "c++", "I use C++ daily", True),
        ("matches", r"order #\d{4}\b", "About order #1234.", True),
        ("matches", r"order #\d{4}\b", "About ORDER #1234.", False),  # case-sensitive
        ("matches", r"(?i)order #\d{4}\b", "About ORDER #1234.", True),
        ("matches", r"^x", ..., False),
        ("present", ..., "x", True),
        ("present", ..., "", False),
        ("present", ..., None, False),
        ("absent", ..., ..., True),
        ("absent", ..., "x", False),
    ],
)
def test_text_operators(op: str, value: Any, fact: Any, expected: bool) -> None:
    # given a text fact, when the predicate is evaluated, then it answers as the docstring says
    assert check("ticket.subject", op, value, fact) is expected


def test_text_case_folding_is_str_lower_not_casefold() -> None:
    # "ß".lower() stays "ß" while casefold() would give "ss"
    assert check("ticket.subject", "is", "STRASSE", "straße") is False
    assert check("ticket.subject", "is", "STRAßE", "straße") is True


def test_matches_searches_only_the_first_chars_of_the_text() -> None:
    text = "a" * MATCH_INPUT_MAX + "needle"
    assert check("message.body", "matches", "needle", text) is False
    assert check("message.body", "matches", "needle", text[6:]) is True


@pytest.mark.parametrize(
    ("field", "op", "value", "fact", "expected"),
    [
        ("ticket.message_count", "is", 3, 3, True),
        ("ticket.message_count", "is", 3, Decimal("3.0"), True),
        ("ticket.message_count", "gt", 10, 11, True),
        ("ticket.message_count", "gt", 10, 10, False),
        ("ticket.message_count", "gte", 10, 10, True),
        ("ticket.message_count", "lt", 10, 9, True),
        ("ticket.message_count", "lte", 10, 11, False),
        ("ticket.message_count", "lt", 10, ..., False),
        ("ticket.message_count", "gte", 10, ..., False),
        ("ticket.message_count", "in", [1, 2], 2, True),
        ("ticket.message_count", "not_in", [1, 2], 3, True),
        ("ticket.message_count", "is", 1, True, False),  # a bool is not a number
        ("ticket.message_count", "is_not", 1, True, True),
        ("ticket.message_count", "lt", 10, "5", False),  # a str is not a number
        ("ticket.custom.price", "is", "12.50", Decimal("12.5"), True),
        ("ticket.custom.price", "gt", "0.1", 0.1, False),  # floats read through their repr
        ("ticket.custom.price", "gte", "0.1", 0.1, True),
        ("ticket.custom.price", "gt", "99999999999999999999.01", Decimal("99999999999999999999.02"), True),
        ("ticket.custom.price", "lt", "1", Decimal("NaN"), False),
        ("ticket.custom.price", "is_not", "1", Decimal("NaN"), True),
        ("ticket.custom.due", "is", "2026-11-02", date(2026, 11, 2), True),
        ("ticket.custom.due", "lt", "2026-11-02", date(2026, 11, 1), True),
        ("ticket.custom.due", "lt", "2026-11-02", datetime(2026, 11, 1, tzinfo=UTC), False),
        ("ticket.custom.due", "in", ["2026-11-01", "2026-11-02"], date(2026, 11, 2), True),
        ("ticket.due_at", "lt", "2026-11-02T10:30:00+01:00", T0 - timedelta(seconds=1), True),
        ("ticket.due_at", "lt", "2026-11-02T10:30:00+01:00", T0, False),
        ("ticket.due_at", "is", "2026-11-02T10:30:00+01:00", T0, True),
        ("ticket.due_at", "gte", "2026-11-02T09:30:00Z", T0.astimezone(timezone(timedelta(hours=-5))), True),
        ("ticket.due_at", "gt", "2000-01-01T00:00:00Z", datetime(2026, 1, 1), False),  # naive
        ("ticket.due_at", "present", ..., datetime(2026, 1, 1), False),
        ("ticket.priority", "gte", "high", "urgent", True),
        ("ticket.priority", "gte", "high", "high", True),
        ("ticket.priority", "gte", "high", "normal", False),
        ("ticket.priority", "lt", "normal", "low", True),
        ("ticket.priority", "lt", "normal", ..., False),
        ("ticket.priority", "lt", "urgent", "HIGH", False),  # outside the order: absent
        ("ticket.priority", "is_not", "high", "HIGH", True),
        ("ticket.priority", "in", ["high", "urgent"], "urgent", True),
    ],
)
def test_ordered_types(field: str, op: str, value: Any, fact: Any, expected: bool) -> None:
    assert check(field, op, value, fact) is expected


@pytest.mark.parametrize(
    ("field", "op", "value", "fact", "expected"),
    [
        ("requester.vip", "is", True, True, True),
        ("requester.vip", "is", False, False, True),
        ("requester.vip", "is", False, ..., False),
        ("requester.vip", "is", True, 1, False),  # 1 is not a bool
        ("requester.vip", "is_not", True, ..., True),
        ("requester.vip", "present", ..., False, True),
        ("requester.vip", "absent", ..., None, True),
        ("ticket.channel", "is", "chat", "chat", True),
        ("ticket.channel", "is", "chat", "CHAT", False),  # choices are exact
        ("ticket.channel", "in", ["chat", "phone"], "phone", True),
        ("ticket.channel", "not_in", ["chat", "phone"], "email", True),
        ("ticket.status", "is", "waiting_on_vendor", "waiting_on_vendor", True),
        ("ticket.custom.product", "is", "XT372", "XT372", True),
        ("ticket.team", "is", 4, 4, True),
        ("ticket.team", "is", 4, True, False),
        ("ticket.team", "is_not", 4, ..., True),
        ("ticket.team", "in", [1, 4], 4, True),
        ("ticket.team", "absent", ..., None, True),
    ],
)
def test_boolean_choice_and_ref(field: str, op: str, value: Any, fact: Any, expected: bool) -> None:
    assert check(field, op, value, fact) is expected


@pytest.mark.parametrize(
    ("op", "value", "fact", "expected"),
    [
        ("contains", "vip", frozenset({"vip", "billing"}), True),
        ("contains", "vip", ["billing"], False),
        ("contains", "vip", ..., False),
        ("contains", "vip", "vip", False),  # a str is not a set of tags
        ("not_contains", "vip", frozenset({"billing"}), True),
        ("not_contains", "vip", ..., True),
        ("in", ["vip", "enterprise"], {"enterprise"}, True),
        ("in", ["vip", "enterprise"], ("billing",), False),
        ("not_in", ["vip", "enterprise"], ("billing",), True),
        ("not_in", ["vip", "enterprise"], ..., True),
        ("is", ["a", "b"], ["b", "a"], True),
        ("is", ["a", "b"], ["a", "b", "c"], False),
        ("is", ["a"], ..., False),
        ("present", ..., frozenset(), False),
        ("absent", ..., [], True),
        ("contains", "vip", ["vip", 3], False),  # a non-str element spoils the set
    ],
)
def test_set_operators(op: str, value: Any, fact: Any, expected: bool) -> None:
    assert check("ticket.tags", op, value, fact) is expected


@pytest.mark.parametrize(
    ("op", "value", "before", "after", "expected"),
    [
        ("changed", ..., "low", "high", True),
        ("changed", ..., "high", "high", False),
        ("changed", ..., ..., None, False),  # absent == absent
        ("changed", ..., ..., "low", True),
        ("not_changed", ..., "low", "high", False),
        ("not_changed", ..., "high", "high", True),
        ("changed_to", "high", "low", "high", True),
        ("changed_to", "high", "high", "high", False),
        ("changed_to", "urgent", "low", "high", False),
        ("changed_from", "low", "low", "high", True),
        ("changed_from", "low", "normal", "high", False),
        ("changed_to", None, "low", ..., True),  # now absent
        ("changed_from", None, ..., "low", True),  # was absent
        ("changed_from", None, "normal", "low", False),
    ],
)
def test_change_operators(op: str, value: Any, before: Any, after: Any, expected: bool) -> None:
    data: dict[str, Any] = {"field": "ticket.priority", "op": op}
    if value is not ...:
        data["value"] = value
    cond = parse_condition(data, specs=SPECS)
    facts_before = {} if before is ... else {"ticket.priority": before}
    facts_after = {} if after is ... else {"ticket.priority": after}
    assert evaluate(cond, facts_after, before=facts_before, specs=SPECS) is expected


def test_change_operators_on_text_and_sets() -> None:
    subject = parse_condition({"field": "ticket.subject", "op": "changed"}, specs=SPECS)
    tags = parse_condition({"field": "ticket.tags", "op": "changed_to", "value": ["a", "b"]}, specs=SPECS)
    # a change of case is a change; changed_to compares like `is` (case-insensitive for text)
    assert evaluate(subject, {"ticket.subject": "Hello"}, before={"ticket.subject": "hello"}, specs=SPECS)
    # "" and None are both absent: no change
    assert not evaluate(subject, {"ticket.subject": ""}, before={"ticket.subject": None}, specs=SPECS)
    # sets compare as sets, whatever the container
    assert not evaluate(
        tags, {"ticket.tags": ["b", "a"]}, before={"ticket.tags": frozenset("ab")}, specs=SPECS
    )
    assert evaluate(tags, {"ticket.tags": ["b", "a"]}, before={"ticket.tags": ["a"]}, specs=SPECS)


def test_on_creation_every_present_field_changed_from_absent() -> None:
    facts = {"ticket.priority": "high", "ticket.team": None}
    changed_priority = pred("ticket.priority", "changed", no_value=True)
    changed_team = pred("ticket.team", "changed", no_value=True)
    from_low = pred("ticket.priority", "changed_from", "low")
    to_high = pred("ticket.priority", "changed_to", "high")
    assert evaluate(changed_priority, facts, before=None, specs=SPECS) is True
    assert evaluate(changed_team, facts, before=None, specs=SPECS) is False
    assert evaluate(from_low, facts, before=None, specs=SPECS) is False
    assert evaluate(to_high, facts, before=None, specs=SPECS) is True


def test_groups_combine_as_boolean_algebra_and_empty_groups_are_neutral() -> None:
    t, f = pred("requester.vip", "is", True), pred("requester.vip", "is", False)
    facts = {"requester.vip": True}
    assert evaluate(All((t, t)), facts, specs=SPECS) is True
    assert evaluate(All((t, f)), facts, specs=SPECS) is False
    assert evaluate(AnyOf((f, t)), facts, specs=SPECS) is True
    assert evaluate(AnyOf((f, f)), facts, specs=SPECS) is False
    assert evaluate(Not(f), facts, specs=SPECS) is True
    assert evaluate(All(()), facts, specs=SPECS) is True
    assert evaluate(AnyOf(()), facts, specs=SPECS) is False


def test_a_field_the_specs_no_longer_know_is_false() -> None:
    # given a rule on a custom field that was deleted since
    cond = Predicate("ticket.custom.gone", Op.IS, "x")
    # when evaluated, then the predicate is false (and its negation true), nothing raises
    assert evaluate(cond, {"ticket.custom.gone": "x"}, specs=SPECS) is False
    assert evaluate(Not(cond), {"ticket.custom.gone": "x"}, specs=SPECS) is True


def test_an_operator_the_type_does_not_take_is_false() -> None:
    assert evaluate(Predicate("requester.vip", Op.LT, True), {"requester.vip": False}, specs=SPECS) is False


# --------------------------------------------------------------------------------------------
# Traces


def test_explain_traces_each_evaluated_predicate_with_its_path_and_skips_short_circuited() -> None:
    cond = parse_condition(
        {
            "all": [
                {"field": "ticket.priority", "op": "gte", "value": "high"},
                {
                    "any": [
                        {"field": "ticket.tags", "op": "contains", "value": "vip"},
                        {"field": "ticket.subject", "op": "contains", "value": "refund"},
                        {"field": "ticket.team", "op": "is", "value": 3},
                    ]
                },
                {"not": {"field": "ticket.status", "op": "changed_from", "value": "new"}},
                {"field": "ticket.due_at", "op": "lt", "value": "2026-12-01T00:00:00+01:00"},
            ]
        },
        specs=SPECS,
    )
    facts = {
        "ticket.priority": "urgent",
        "ticket.tags": frozenset({"billing", "a"}),
        "ticket.subject": "Refund for order 7",
        "ticket.status": "open",
        "ticket.due_at": datetime(2026, 12, 1, tzinfo=UTC),
    }
    before = {"ticket.status": "new", "ticket.priority": "low"}
    # when explained
    result, traces = explain(cond, facts, before=before, specs=SPECS)
    # then the result is evaluate's, the `any` stops at its first true item and the `all` at
    # the first false one, so the due date is never looked at
    assert result is False
    assert result == evaluate(cond, facts, before=before, specs=SPECS)
    assert traces == [
        PredicateTrace("when.all[0]", "ticket.priority", "gte", "high", "urgent", None, True),
        PredicateTrace("when.all[1].any[0]", "ticket.tags", "contains", "vip", ["a", "billing"], None, False),
        PredicateTrace(
            "when.all[1].any[1]", "ticket.subject", "contains", "refund", "Refund for order 7", None, True
        ),
        PredicateTrace("when.all[2].not", "ticket.status", "changed_from", "new", "open", "new", True),
    ]


def test_trace_values_are_json_shaped_and_long_texts_cut() -> None:
    cond = All(
        (
            pred("ticket.due_at", "present", no_value=True),
            pred("ticket.custom.price", "gt", "1.50"),
            pred("message.body", "contains", "x"),
            pred("ticket.custom.due", "is", "2026-01-02"),
        )
    )
    body = "y" * (TRACE_TEXT_MAX + 5)
    facts = {
        "ticket.due_at": T0,
        "ticket.custom.price": Decimal("2.25"),
        "message.body": body,
        "ticket.custom.due": date(2026, 1, 2),
    }
    _, traces = explain(cond, facts, specs=SPECS, path="filter")
    assert [(t.path, t.expected, t.observed) for t in traces] == [
        ("filter.all[0]", None, "2026-11-02T09:30:00Z"),
        ("filter.all[1]", "1.50", "2.25"),
        ("filter.all[2]", "x", "y" * TRACE_TEXT_MAX + "…"),
    ]


# --------------------------------------------------------------------------------------------
# Parsing: values and errors


def test_parse_coerces_values_to_the_field_type() -> None:
    assert pred("ticket.due_at", "lt", "2026-11-02T10:30:00+01:00").value == T0
    assert pred("ticket.due_at", "lt", "2026-11-02T10:30:00+01:00").value.tzinfo is UTC
    assert pred("ticket.custom.due", "lt", "2026-11-02").value == date(2026, 11, 2)
    assert pred("ticket.custom.price", "lt", "12.50").value == Decimal("12.50")
    assert str(pred("ticket.custom.price", "lt", "12.50").value) == "12.50"
    assert pred("ticket.custom.price", "lt", 0.1).value == Decimal("0.1")
    assert pred("ticket.custom.qty", "lt", "12").value == 12
    assert pred("ticket.tags", "in", ["a", "b"]).value == ("a", "b")
    assert pred("ticket.priority", "changed_to", None).value is None


def test_condition_to_data_writes_values_back_as_json() -> None:
    cond = All(
        (
            pred("ticket.due_at", "lt", "2026-11-02T10:30:00+01:00"),
            pred("ticket.custom.price", "gte", "12.50"),
            pred("ticket.tags", "in", ["a", "b"]),
            Not(pred("ticket.status", "changed", no_value=True)),
        )
    )
    assert condition_to_data(cond) == {
        "all": [
            {"field": "ticket.due_at", "op": "lt", "value": "2026-11-02T09:30:00Z"},
            {"field": "ticket.custom.price", "op": "gte", "value": "12.50"},
            {"field": "ticket.tags", "op": "in", "value": ["a", "b"]},
            {"not": {"field": "ticket.status", "op": "changed"}},
        ]
    }


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "requester.vip", "op": "is", "value": True}
    for _ in range(depth):
        node = {"not": node}
    return node


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ([], "when", "must be a mapping"),
        ({"all": {"field": "x"}}, "when.all", "must be a list"),
        ({"all": [], "op": "is"}, "when.op", "is not allowed beside 'all'"),
        ({"field": "ticket.subject", "op": "is", "value": "x", "when": 1}, "when.when", "is not a known key"),
        ({"op": "is", "value": 1}, "when.field", "is required"),
        ({"field": 3, "op": "is"}, "when.field", "must be a string"),
        (
            {"any": [{"not": {"field": "ticket.nope", "op": "present"}}]},
            "when.any[0].not.field",
            "not a known",
        ),
        ({"field": "ticket.subject"}, "when.op", "is required"),
        ({"field": "ticket.subject", "op": "similar"}, "when.op", "'similar' is not a known operator"),
        ({"field": "ticket.subject", "op": "gt", "value": "a"}, "when.op", "does not apply to text fields"),
        ({"field": "requester.vip", "op": "in", "value": [True]}, "when.op", "does not apply to boolean"),
        ({"field": "ticket.tags", "op": "starts_with", "value": "a"}, "when.op", "does not apply to set"),
        ({"field": "ticket.subject", "op": "present", "value": "x"}, "when.value", "takes no value"),
        ({"field": "ticket.subject", "op": "is"}, "when.value", "is required"),
        ({"field": "ticket.subject", "op": "is", "value": None}, "when.value", "must not be null"),
        ({"field": "ticket.subject", "op": "is", "value": ""}, "when.value", "non-empty string"),
        ({"field": "ticket.subject", "op": "in", "value": "a"}, "when.value", "must be a list"),
        ({"field": "ticket.subject", "op": "in", "value": []}, "when.value", "must not be empty"),
        (
            {
                "all": [
                    {"field": "ticket.number", "op": "gt", "value": 1},
                    {"field": "ticket.team", "op": "in", "value": [1, "2"]},
                ]
            },
            "when.all[1].value[1]",
            "must be the id of a record",
        ),
        ({"field": "ticket.priority", "op": "gte", "value": "extreme"}, "when.value", "is not one of"),
        ({"field": "ticket.channel", "op": "is", "value": "fax"}, "when.value", "is not one of"),
        ({"field": "ticket.custom.formats", "op": "contains", "value": "vinyl"}, "when.value", "not one of"),
        ({"field": "ticket.number", "op": "gt", "value": True}, "when.value", "must be a number"),
        ({"field": "ticket.number", "op": "gt", "value": "12,5"}, "when.value", "must be a number"),
        ({"field": "ticket.number", "op": "gt", "value": "NaN"}, "when.value", "finite"),
        ({"field": "ticket.number", "op": "gt", "value": float("inf")}, "when.value", "finite"),
        ({"field": "ticket.number", "op": "gt", "value": "1" * 31 + ".5"}, "when.value", "at most 30 digits"),
        ({"field": "ticket.number", "op": "gt", "value": 2**63}, "when.value", "between"),
        ({"field": "ticket.custom.due", "op": "lt", "value": "02/11/2026"}, "when.value", "YYYY-MM-DD"),
        ({"field": "ticket.custom.due", "op": "lt", "value": "2026-02-30"}, "when.value", "YYYY-MM-DD"),
        ({"field": "ticket.due_at", "op": "lt", "value": "2026-11-02T10:30:00"}, "when.value", "UTC offset"),
        ({"field": "ticket.due_at", "op": "lt", "value": "tomorrow"}, "when.value", "ISO 8601"),
        ({"field": "requester.vip", "op": "is", "value": "true"}, "when.value", "true or false"),
        ({"field": "ticket.team", "op": "is", "value": 0}, "when.value", "id of a record"),
        ({"field": "ticket.subject", "op": "matches", "value": "("}, "when.value", "not a valid regular"),
        (
            {"field": "ticket.subject", "op": "matches", "value": "a" * (REGEX_MAX + 1)},
            "when.value",
            "at most",
        ),
        ({"field": "ticket.subject", "op": "is", "value": "a\x00"}, "when.value", "NUL"),
        (_nested(MAX_DEPTH + 1), "when" + ".not" * (MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
        ({"all": [_nested(0)] * (MAX_ITEMS + 1)}, "when.all", f"at most {MAX_ITEMS}"),
        ({"field": "ticket.team", "op": "in", "value": [1] * (MAX_VALUES + 1)}, "when.value", "at most"),
    ],
)
def test_parse_errors_name_the_exact_path(data: Any, path: str, message: str) -> None:
    with pytest.raises(RuleSchemaError) as info:
        parse_condition(data, specs=SPECS)
    assert info.value.path == path
    assert message in info.value.message


def test_depth_limit_allows_exactly_max_depth_groups() -> None:
    assert isinstance(parse_condition(_nested(MAX_DEPTH), specs=SPECS), Not)


def test_parse_uses_the_given_root_path() -> None:
    with pytest.raises(RuleSchemaError) as info:
        parse_condition({"any": [{"field": "x", "op": "is"}]}, specs=SPECS, path="rules[3].when")
    assert info.value.path == "rules[3].when.any[0].field"


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a*)*b",
        "(a|a)*c",
        "(foo|fo)+",
        "(?:a{2,}){2,}",
        r"(\w+)\1",
        ".*a.*b",
        r"\w+\w+x",
        r"\d+ and \d+!",
        "(?i)A+a+b",
        "(?=.*x).*y",
        ".*refund.*x",
    ],
)
def test_patterns_that_backtrack_badly_are_refused(pattern: str) -> None:
    with pytest.raises(RuleSchemaError) as info:
        pred("ticket.subject", "matches", pattern)
    assert info.value.path == "when.value"


@pytest.mark.parametrize(
    "pattern",
    [
        r"order #\d{4}\b",
        r"^RE:.*",
        r"order\s*#?\d+",
        r"\b[A-Z]{2}\d{3}\b",
        "(ab)?c+",
        "refund|money back",
        "^RE:.*refund.*",
        r"\w+@\w+$",
    ],
)
def test_everyday_patterns_are_accepted(pattern: str) -> None:
    assert pred("ticket.subject", "matches", pattern).value == pattern


# --------------------------------------------------------------------------------------------
# Static questions


def test_fields_of_lists_every_field_read() -> None:
    cond = parse_condition(
        {
            "all": [
                {"field": "ticket.priority", "op": "present"},
                {"not": {"any": [{"field": "requester.vip", "op": "is", "value": True}]}},
                {"field": "ticket.priority", "op": "is", "value": "high"},
            ]
        },
        specs=SPECS,
    )
    assert fields_of(cond) == {"ticket.priority", "requester.vip"}


def test_uses_event_facts_for_event_only_fields_and_change_operators() -> None:
    assert uses_event_facts(pred("ticket.priority", "is", "high"), SPECS) is False
    assert uses_event_facts(Not(pred("message.body", "contains", "x")), SPECS) is True
    assert uses_event_facts(All((pred("ticket.priority", "changed", no_value=True),)), SPECS) is True
    assert uses_event_facts(Predicate("ticket.custom.gone", Op.IS, "x"), SPECS) is True


# --------------------------------------------------------------------------------------------
# Properties

PROP_SPECS = [SPECS[p] for p in sorted(SPECS)]
SAFE_PATTERNS = [r"order #\d+", r"^re:", r"(?i)refund", "x"]


def _scalar(spec: FieldSpec) -> st.SearchStrategy[Any]:
    t = spec.type
    text = st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), min_size=1, max_size=8
    )
    if spec.choices:
        return st.sampled_from(spec.choices)
    if t in (FieldType.TEXT, FieldType.CHOICE, FieldType.SET):
        return text
    if t is FieldType.NUMBER:
        return st.integers(-(10**9), 10**9) | st.decimals(
            min_value=-(10**6), max_value=10**6, places=2, allow_nan=False
        ).map(str)
    if t is FieldType.DATE:
        return st.dates(date(1900, 1, 1), date(2100, 1, 1)).map(date.isoformat)
    if t is FieldType.DATETIME:
        return st.datetimes(
            datetime(1900, 1, 2),
            datetime(2100, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
        ).map(datetime.isoformat)
    if t is FieldType.BOOLEAN:
        return st.booleans()
    return st.integers(1, 10**9)


@st.composite
def predicates(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(st.sampled_from(PROP_SPECS))
    op = draw(st.sampled_from(sorted(OPS_BY_TYPE[spec.type])))
    data: dict[str, Any] = {"field": spec.path, "op": op.value}
    if op in (Op.PRESENT, Op.ABSENT, Op.CHANGED, Op.NOT_CHANGED):
        return data
    values = st.lists(_scalar(spec), min_size=1, max_size=3)
    if op is Op.MATCHES:
        data["value"] = draw(st.sampled_from(SAFE_PATTERNS))
    elif op in (Op.IN, Op.NOT_IN) or (
        spec.type is FieldType.SET and op in (Op.IS, Op.CHANGED_TO, Op.CHANGED_FROM)
    ):
        data["value"] = draw(values | st.none()) if op in (Op.CHANGED_TO, Op.CHANGED_FROM) else draw(values)
    elif op in (Op.CHANGED_TO, Op.CHANGED_FROM):
        data["value"] = draw(_scalar(spec) | st.none())
    else:
        data["value"] = draw(_scalar(spec))
    return data


conditions_data = st.recursive(
    predicates(),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: {"all": items}),
        st.lists(children, max_size=4).map(lambda items: {"any": items}),
        children.map(lambda item: {"not": item}),
    ),
    max_leaves=12,
)

odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+40")]),
    st.text(max_size=20),
    st.binary(max_size=5),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.frozensets(st.text(max_size=5), max_size=3),
    st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["low", "high", "urgent", "chat", "vip"]),
)
odd_facts = st.dictionaries(st.sampled_from(sorted(SPECS)), odd_values, max_size=8)


@settings(max_examples=200)
@given(data=conditions_data)
def test_parse_and_to_data_round_trip(data: dict[str, Any]) -> None:
    # given any valid condition document, when parsed, written back and parsed again
    cond = parse_condition(data, specs=SPECS)
    back = condition_to_data(cond)
    # then the tree is the same and the written form is stable
    assert parse_condition(back, specs=SPECS) == cond
    assert condition_to_data(parse_condition(back, specs=SPECS)) == back


@settings(max_examples=200)
@given(data=conditions_data, facts=odd_facts, before=st.none() | odd_facts)
def test_evaluation_is_total_on_odd_facts_and_explain_agrees(
    data: dict[str, Any], facts: dict[str, Any], before: dict[str, Any] | None
) -> None:
    cond = parse_condition(data, specs=SPECS)
    result = evaluate(cond, facts, before=before, specs=SPECS)
    explained, traces = explain(cond, facts, before=before, specs=SPECS)
    assert result in (True, False)
    assert explained is result
    assert all(isinstance(t.result, bool) for t in traces)


NEGATIONS = [
    (Op.IS, Op.IS_NOT),
    (Op.IN, Op.NOT_IN),
    (Op.CONTAINS, Op.NOT_CONTAINS),
    (Op.PRESENT, Op.ABSENT),
    (Op.CHANGED, Op.NOT_CHANGED),
]


@settings(max_examples=200)
@given(data=predicates(), facts=odd_facts, before=st.none() | odd_facts)
def test_every_negative_operator_is_the_negation_of_its_positive(
    data: dict[str, Any], facts: dict[str, Any], before: dict[str, Any] | None
) -> None:
    cond = parse_condition(data, specs=SPECS)
    assert isinstance(cond, Predicate)
    for positive, negative in NEGATIONS:
        if cond.op in (positive, negative):
            other = Op(negative if cond.op is positive else positive)
            flipped = Predicate(cond.field, other, cond.value)
            assert evaluate(flipped, facts, before=before, specs=SPECS) is not evaluate(
                cond, facts, before=before, specs=SPECS
            )


def _typed(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Facts of the field's own type, drawn from a small alphabet so they meet the conditions."""
    t = spec.type
    words = st.text(st.sampled_from("aAbB éÉx1"), max_size=6)
    if spec.choices:
        return st.sampled_from(spec.choices) | st.none()
    if t in (FieldType.TEXT, FieldType.CHOICE):
        return words | _scalar(spec) | st.none()
    if t is FieldType.SET:
        return st.frozensets(words | _scalar(spec), max_size=3) | st.none()
    if t is FieldType.NUMBER:
        return st.integers(-5, 5) | st.decimals(-5, 5, places=1, allow_nan=False) | st.none()
    if t is FieldType.DATE:
        return st.dates(date(1999, 1, 1), date(2001, 1, 1)) | st.none()
    if t is FieldType.DATETIME:
        return st.datetimes(datetime(1999, 1, 2), datetime(2001, 1, 1), timezones=st.just(UTC)) | st.none()
    if t is FieldType.BOOLEAN:
        return st.booleans() | st.none()
    return st.integers(1, 5) | st.none()


typed_facts = st.fixed_dictionaries({}, optional={s.path: _typed(s) for s in PROP_SPECS})


@settings(max_examples=400)
@given(data=conditions_data, facts=typed_facts | odd_facts, before=st.none() | typed_facts | odd_facts)
def test_compiled_conditions_agree_with_evaluate(
    data: dict[str, Any], facts: dict[str, Any], before: dict[str, Any] | None
) -> None:
    # given any condition and any facts, typed or odd
    cond = parse_condition(data, specs=SPECS)
    compiled = compile_condition(cond, SPECS)
    # then the compiled form and the interpreter give the same answer
    after_view = FactView(facts, SPECS)
    before_view = None if before is None else FactView(before, SPECS)
    assert compiled(after_view, before_view) is evaluate(cond, facts, before=before, specs=SPECS)


@settings(max_examples=400)
@given(data=conditions_data, facts=typed_facts | odd_facts, before=st.none() | typed_facts | odd_facts)
def test_the_first_failure_is_none_exactly_when_the_condition_holds_and_names_a_failing_part(
    data: dict[str, Any], facts: dict[str, Any], before: dict[str, Any] | None
) -> None:
    # given any condition and any facts
    cond = parse_condition(data, specs=SPECS)
    failed = compile_failure(cond, SPECS)(
        FactView(facts, SPECS), None if before is None else FactView(before, SPECS)
    )
    holds = evaluate(cond, facts, before=before, specs=SPECS)
    # then there is a failing part exactly when the condition is false
    assert (failed is None) is holds
    if failed is not None:
        # and that part, evaluated alone, is false, and every `all` on its way failed first there
        # (the items before it hold: the short-circuit of `evaluate` and `explain`)
        assert evaluate(_at_path(cond, failed), facts, before=before, specs=SPECS) is False
        for group, index in _groups_on(cond, failed):
            assert all(evaluate(c, facts, before=before, specs=SPECS) for c in group.items[:index])


def _groups_on(cond: Any, path: str) -> list[tuple[Any, int]]:
    """The `all` groups on the way to `path`, each with the index taken in it."""
    out: list[tuple[Any, int]] = []
    node = cond
    for name, index in re.findall(r"\.(all|any|not)|\[(\d+)\]", path.removeprefix("when")):
        if index:
            if isinstance(node, All):
                out.append((node, int(index)))
            node = node.items[int(index)]
        elif name == "not":
            node = node.item
    return out


def _at_path(cond: Any, path: str) -> Any:
    node = cond
    for step in re.findall(r"\.(all|any|not)|\[(\d+)\]", path.removeprefix("when")):
        name, index = step
        node = node.items[int(index)] if index else (node.item if name == "not" else node)
    return node


def test_the_first_failure_follows_all_and_stops_at_any_and_not() -> None:
    cond = parse_condition(
        {"all": [
            {"field": "ticket.priority", "op": "is", "value": "high"},
            {"all": [{"field": "ticket.subject", "op": "present"},
                     {"field": "ticket.subject", "op": "contains", "value": "refund"}]},
            {"any": [{"field": "requester.vip", "op": "is", "value": True}]},
            {"not": {"field": "ticket.tags", "op": "contains", "value": "spam"}},
        ]},
        specs=SPECS,
    )  # fmt: skip
    facts: dict[str, Any] = {"ticket.priority": "high", "ticket.subject": "Hello", "requester.vip": False}
    first = compile_failure(cond, SPECS)

    def failed(**changes: Any) -> str | None:
        return first(FactView({**facts, **changes}, SPECS), None)

    assert failed() == "when.all[1].all[1]"
    assert failed(**{"ticket.priority": "low"}) == "when.all[0]"
    assert failed(**{"ticket.subject": "refund"}) == "when.all[2]"
    assert (
        failed(**{"ticket.subject": "refund", "requester.vip": True, "ticket.tags": {"spam"}})
        == "when.all[3]"
    )
    assert failed(**{"ticket.subject": "refund", "requester.vip": True}) is None
