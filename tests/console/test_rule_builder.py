"""The rule builder's translation, rule ⇄ form inputs: every rule of the demo, of docs/rules.md
and of these tests reads into the builder and writes back unchanged; edits (add, remove, move,
a new field, a new action type) change what they say and nothing else; a part the builder has
no inputs for is kept as YAML."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.automation import refs
from sportello.automation.models import RuleKind
from sportello.console import rule_builder as rb
from sportello.console.rules import NEW_EVENT_RULE, NEW_TIME_RULE
from sportello.demo import automation as demo
from sportello.engine.conditions import FIELDS, FieldSpec, FieldType, custom_field_spec
from sportello.engine.rules import RulesLoader

SPECS: dict[str, FieldSpec] = {
    **FIELDS,
    "ticket.custom.product_code": custom_field_spec("product_code", "text"),
    "ticket.custom.reason": custom_field_spec("reason", "picklist", ("broken", "late")),
    "ticket.custom.parts": custom_field_spec("parts", "multi_select", ("screen", "battery")),
    "ticket.custom.bought_on": custom_field_spec("bought_on", "date"),
    "ticket.custom.amount": custom_field_spec("amount", "decimal"),
}
DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def load(text: str) -> Any:
    return yaml.load(text, Loader=RulesLoader)  # noqa: S506 - a SafeLoader subclass


def round_trip(kind: RuleKind, definition: dict[str, Any]) -> dict[str, Any]:
    """The rule read into the builder, posted as a browser posts its inputs, and written back."""
    form = rb.from_definition(kind, definition, SPECS)
    posted = rb.to_post(form)
    return rb.merge(kind, definition, rb.to_definition(kind, rb.from_post(posted), SPECS))


def expected(kind: RuleKind, definition: dict[str, Any]) -> dict[str, Any]:
    return rb.merge(kind, definition, rb.normal_parts(kind, definition))


class KeyedDirectory(refs.Directory):
    """Records named `<kind>-<id>`, without a database: the demo's rules as the editor shows them."""

    def key(self, kind: refs.Ref, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            return value
        return f"{kind.value.replace(' ', '-')}-{value}"


def demo_rules() -> list[tuple[RuleKind, dict[str, Any]]]:
    events = demo._event_rules(returns=3, replacements=7, policy=2)
    keyed = refs.document_to_keys(
        {"event_rules": events, "time_rules": [demo.IDLE_TEAM_REMINDER]}, KeyedDirectory()
    )
    return [(RuleKind.EVENT, r) for r in keyed["event_rules"]] + [
        (RuleKind.TIME, r) for r in keyed["time_rules"]
    ]


def docs_rules() -> list[tuple[RuleKind, dict[str, Any]]]:
    found: list[tuple[RuleKind, dict[str, Any]]] = []
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S):
        data = load(block)
        found += [(RuleKind.EVENT, r) for r in data.get("event_rules") or []]
        found += [(RuleKind.TIME, r) for r in data.get("time_rules") or []]
    return found


TEST_RULES = [
    (RuleKind.EVENT, load(NEW_EVENT_RULE)),
    (RuleKind.TIME, load(NEW_TIME_RULE)),
    (
        RuleKind.EVENT,
        load(
            """key: heats-up
name: Phone heats up
when:
  all:
    - {field: ticket.subject, op: contains, value: heats up}
actions:
  - set: {field: ticket.priority, value: high}
  - assign: {team: novels}
"""
        ),
    ),
]


def all_rules() -> list[tuple[RuleKind, dict[str, Any]]]:
    return demo_rules() + docs_rules() + TEST_RULES


def test_there_are_rules_of_both_kinds_to_read() -> None:
    kinds = [k for k, _ in all_rules()]
    assert kinds.count(RuleKind.EVENT) >= 10
    assert kinds.count(RuleKind.TIME) >= 2


@pytest.mark.parametrize(
    ("kind", "definition"), [pytest.param(k, d, id=f"{k}-{d['key']}") for k, d in all_rules()]
)
def test_every_known_rule_reads_into_the_builder_and_back_unchanged(
    kind: RuleKind, definition: dict[str, Any]
) -> None:
    assert round_trip(kind, definition) == expected(kind, definition)


def test_the_builder_has_inputs_for_the_common_parts_of_known_rules() -> None:
    """Only the parts with no inputs are kept as YAML: on the demo and the docs, none of the
    conditions, and only actions the builder does not know."""
    for kind, definition in demo_rules() + docs_rules():
        form = rb.from_definition(kind, definition, SPECS)
        stack: list[Any] = [form.when]
        while stack:
            node = stack.pop()
            if isinstance(node, rb.Group):
                stack.extend(node.items)
            else:
                assert node.kind == "pred", (definition["key"], node.yaml)
        actions = form.actions + [a for s in form.steps for a in s.actions]
        assert all(a.type != "yaml" for a in actions), definition["key"]


def test_nested_groups_read_as_groups_with_typed_values() -> None:
    rule = docs_rules()[0][1]  # vip-chat-urgent
    form = rb.from_definition(RuleKind.EVENT, rule, SPECS)
    assert form.shape == "group"
    assert form.when.join == "all"
    channel, any_group, not_group, priority = form.when.items
    assert isinstance(channel, rb.Pred)
    assert (channel.field, channel.op, channel.value) == (
        "ticket.channel",
        "is",
        "chat",
    )
    assert isinstance(any_group, rb.Group)
    assert any_group.join == "any"
    vip, tier = any_group.items
    assert isinstance(vip, rb.Pred)
    assert vip.value == "true"
    assert isinstance(tier, rb.Pred)
    assert tier.multi
    assert tier.values == ["gold", "platinum"]
    assert isinstance(not_group, rb.Group)
    assert not_group.join == "not"
    assert isinstance(priority, rb.Pred)
    assert priority.op == "lt"


def test_a_single_test_as_the_whole_condition_stays_a_single_test() -> None:
    rule = {
        "key": "k",
        "name": "n",
        "when": {"field": "ticket.subject", "op": "contains", "value": "x"},
        "actions": [],
    }
    form = rb.from_definition(RuleKind.EVENT, rule, SPECS)
    assert form.shape == "bare"
    assert round_trip(RuleKind.EVENT, rule) == rule
    # once a second condition is added, the condition is a group
    rb.apply(form, "add-pred:bw", SPECS, RuleKind.EVENT)
    when = rb.to_definition(RuleKind.EVENT, form, SPECS)["when"]
    assert when == {
        "all": [
            {"field": "ticket.subject", "op": "contains", "value": "x"},
            {"field": "ticket.subject", "op": "contains", "value": ""},
        ]
    }


def test_parts_without_inputs_are_kept_as_yaml_snippets() -> None:
    rule = {
        "key": "k",
        "name": "n",
        "when": {
            "any": [
                {"field": "ticket.nothing", "op": "is", "value": 1},
                {"field": "ticket.number", "op": "gt", "value": 3},
            ]
        },
        "actions": [{"future_action": {"x": 1}}, {"add_tags": ["a, b"]}, {"stop": True}],
    }
    form = rb.from_definition(RuleKind.EVENT, rule, SPECS)
    unknown, number = form.when.items
    assert isinstance(unknown, rb.Pred)
    assert unknown.kind == "yaml"
    assert unknown.yaml == "{field: ticket.nothing, op: is, value: 1}"
    assert isinstance(number, rb.Pred)
    assert (number.kind, number.value) == ("pred", "3")
    assert [a.type for a in form.actions] == ["yaml", "yaml", "stop"]
    assert round_trip(RuleKind.EVENT, rule) == rule


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (
            {"key": "k", "name": "n", "when": {"all": []}, "actions": {"add_tags": ["x"]}},
            "actions that are not a list",
        ),
        (
            {
                "key": "k",
                "name": "n",
                "anchor": "created",
                "when": {"all": []},
                "steps": [{"after": "1h", "actions": [], "x": 1}],
            },
            "a step that is not",
        ),
    ],
)
def test_a_rule_whose_shape_has_no_inputs_is_left_to_the_yaml(rule: dict[str, Any], why: str) -> None:
    kind = RuleKind.TIME if "steps" in rule else RuleKind.EVENT
    with pytest.raises(rb.Unrepresentable, match=why):
        rb.from_definition(kind, rule, SPECS)


def test_optional_action_keys_holding_their_default_are_left_out() -> None:
    rule = {
        "key": "k",
        "name": "n",
        "when": {"all": []},
        "actions": [
            {"notify": {"template": None, "subject": "Hi", "body": "There", "to": ["requester", "team"]}},
            {"webhook": {"url": "https://hooks.example.com/x", "body": "", "secret_ref": None}},
        ],
    }
    back = round_trip(RuleKind.EVENT, rule)
    assert back["actions"] == [
        {"notify": {"to": ["requester", "team"], "subject": "Hi", "body": "There"}},
        {"webhook": {"url": "https://hooks.example.com/x"}},
    ]


# -- edits -------------------------------------------------------------------------------------


def event_form() -> rb.BuilderForm:
    return rb.from_post(rb.to_post(rb.from_definition(RuleKind.EVENT, load(NEW_EVENT_RULE), SPECS)))


def test_groups_nest_three_levels_deep_and_write_back_as_all_and_any() -> None:
    form = event_form()
    assert rb.apply(form, "add-group:bw", SPECS, RuleKind.EVENT) == "bw-1-join"
    assert rb.apply(form, "add-group:bw-1", SPECS, RuleKind.EVENT) == "bw-1-1-join"
    assert rb.apply(form, "add-group:bw-1-1", SPECS, RuleKind.EVENT) == "bw-1-1-1-join"
    form = rb.from_post(rb.to_post(form))  # as the browser posts it back
    when = rb.to_definition(RuleKind.EVENT, form, SPECS)["when"]
    subject = {"field": "ticket.subject", "op": "contains", "value": ""}
    assert when == {
        "all": [
            {"field": "ticket.channel", "op": "is", "value": "email"},
            {"any": [subject, {"any": [subject, {"any": [subject]}]}]},
        ]
    }


def test_remove_and_move_keep_the_other_items_in_order() -> None:
    form = event_form()
    rb.apply(form, "add-pred:bw", SPECS, RuleKind.EVENT)
    rb.apply(form, "add-pred:bw", SPECS, RuleKind.EVENT)
    first, second, third = form.when.items
    assert rb.apply(form, "up:bw-2", SPECS, RuleKind.EVENT) == "bw-1-up"
    assert form.when.items == [first, third, second]
    assert rb.apply(form, "up:bw-1", SPECS, RuleKind.EVENT) == "bw-0-down"  # now first: focus "down"
    assert form.when.items == [third, first, second]
    assert rb.apply(form, "remove:bw-1", SPECS, RuleKind.EVENT) == "bw-add-pred"
    assert form.when.items == [third, second]
    rb.apply(form, "add-action:ba", SPECS, RuleKind.EVENT)
    assert [a.type for a in form.actions] == ["add_tags", "add_tags"]
    form.actions[1].type = "stop"
    assert rb.apply(form, "up:ba-1", SPECS, RuleKind.EVENT) == "ba-0-down"
    assert [a.type for a in form.actions] == ["stop", "add_tags"]
    assert rb.apply(form, "remove:ba-0", SPECS, RuleKind.EVENT) == "ba-add"
    assert rb.apply(form, "remove:bw-9", SPECS, RuleKind.EVENT) is None  # nothing there


def test_a_new_field_gets_operators_of_its_type_and_an_empty_value() -> None:
    post = rb.to_post(event_form())
    post["bw-0.field"] = ["ticket.priority"]
    form = rb.from_post(post)
    rb.apply(form, "", SPECS, RuleKind.EVENT)
    pred = form.when.items[0]
    assert isinstance(pred, rb.Pred)
    assert (pred.field, pred.op, pred.value) == ("ticket.priority", "is", "")
    assert "lt" in rb.operators(SPECS["ticket.priority"], RuleKind.EVENT)
    assert "contains" not in rb.operators(SPECS["ticket.priority"], RuleKind.EVENT)
    assert "changed" not in rb.operators(SPECS["ticket.priority"], RuleKind.TIME)
    # "is one of" takes several values
    post = rb.to_post(form)
    post["bw-0.op"] = ["in"]
    form = rb.from_post(post)
    rb.apply(form, "", SPECS, RuleKind.EVENT)
    pred = form.when.items[0]
    assert isinstance(pred, rb.Pred)
    assert pred.multi


def test_a_new_action_type_starts_with_its_own_inputs() -> None:
    post = rb.to_post(event_form())
    post["ba-0.type"] = ["assign"]
    form = rb.from_post(post)
    rb.apply(form, "", SPECS, RuleKind.EVENT)
    assert form.actions[0].inputs == {"target": "team", "who": ""}
    post = rb.to_post(form)
    post["ba-0.who"] = ["replacements"]
    parts = rb.to_definition(RuleKind.EVENT, rb.from_post(post), SPECS)
    assert parts["actions"] == [{"assign": {"team": "replacements"}}]


def test_a_yaml_snippet_that_does_not_read_names_its_input() -> None:
    post = rb.to_post(event_form())
    post["ba-0.type"] = ["yaml"]
    post["ba-0.was"] = ["yaml"]
    post["ba-0.yaml"] = ["note: [unclosed"]
    with pytest.raises(rb.BuilderInvalid) as caught:
        rb.to_definition(RuleKind.EVENT, rb.from_post(post), SPECS)
    assert caught.value.input_id == "ba-0-yaml"


def test_time_rule_steps_are_added_and_written_with_their_actions() -> None:
    form = rb.from_definition(RuleKind.TIME, load(NEW_TIME_RULE), SPECS)
    assert rb.apply(form, "add-step", SPECS, RuleKind.TIME) == "bs-1-after"
    assert rb.apply(form, "add-action:bs-1-a", SPECS, RuleKind.TIME) == "bs-1-a-1-type"
    post = rb.to_post(form)
    post["bs-1-a-0.tags"] = ["late"]
    post["bs-1-a-1.tags"] = ["later, latest"]
    steps = rb.to_definition(RuleKind.TIME, rb.from_post(post), SPECS)["steps"]
    assert steps == [
        {"after": "72h", "actions": [{"add_tags": ["stale"]}]},
        {"after": "24h", "actions": [{"add_tags": ["late"]}, {"add_tags": ["later", "latest"]}]},
    ]


def test_custom_fields_take_typed_values() -> None:
    rule = {
        "key": "k",
        "name": "n",
        "when": {
            "all": [
                {"field": "ticket.custom.reason", "op": "in", "value": ["broken"]},
                {"field": "ticket.custom.parts", "op": "contains", "value": "screen"},
                {"field": "ticket.custom.bought_on", "op": "gte", "value": date(2026, 1, 31)},
                {"field": "ticket.custom.amount", "op": "lt", "value": 12.5},
            ]
        },
        "actions": [{"set": {"field": "ticket.custom.parts", "value": ["screen", "battery"]}}],
    }
    assert round_trip(RuleKind.EVENT, rule) == rule


# -- with a browser's inputs: what a save means --------------------------------------------


def test_a_builder_change_not_yet_in_the_yaml_is_what_a_save_means(db: Any) -> None:
    text = NEW_EVENT_RULE
    post = rb.to_post(rb.from_definition(RuleKind.EVENT, load(text), rb.field_specs()))
    post.update(yaml=[text], bdigest=[rb.digest(text)])
    from django.http import QueryDict

    def query(data: dict[str, list[str]]) -> QueryDict:
        q = QueryDict(mutable=True)
        for name, values in data.items():
            q.setlist(name, values)
        return q

    assert rb.resolve(RuleKind.EVENT, query(post)) == text  # nothing changed
    post["bw-0.value"] = ["chat"]
    assert "value: chat" in rb.resolve(RuleKind.EVENT, query(post))
    # typed into the YAML since the builder was drawn: the YAML wins
    post["yaml"] = [text.replace("triage", "sorted")]
    assert rb.resolve(RuleKind.EVENT, query(post)) == text.replace("triage", "sorted")


# -- any condition -------------------------------------------------------------------------

TEXT = st.text(alphabet="ab ,\n-é", min_size=1, max_size=8)


def _value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    if spec.choices:
        return st.sampled_from(spec.choices)
    return {
        FieldType.TEXT: TEXT,
        FieldType.CHOICE: TEXT,
        FieldType.ORDINAL: TEXT,
        FieldType.SET: TEXT,
        FieldType.NUMBER: st.one_of(st.integers(-(10**6), 10**6), st.sampled_from([1.5, -0.25])),
        FieldType.DATE: st.dates(),
        FieldType.BOOLEAN: st.booleans(),
        FieldType.REF: st.one_of(st.integers(1, 10**6), st.sampled_from(["tier-1", "ana@desk.test"])),
        FieldType.DATETIME: st.sampled_from(["2026-01-31T09:30:00+01:00"]),
    }[spec.type]


@st.composite
def predicates(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.sampled_from(sorted(SPECS)))
    spec = SPECS[path]
    op = draw(st.sampled_from(rb.operators(spec, RuleKind.EVENT)))
    node: dict[str, Any] = {"field": path, "op": op}
    if op not in rb.NO_VALUE_OPS:
        if rb.is_multi(spec, op):
            node["value"] = draw(st.lists(_value(spec), min_size=1, max_size=3))
        else:
            node["value"] = draw(_value(spec))
    return node


CONDITIONS = st.recursive(
    predicates(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: {"all": items}),
        st.lists(inner, max_size=3).map(lambda items: {"any": items}),
        inner.map(lambda item: {"not": item}),
    ),
    max_leaves=8,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(when=CONDITIONS)
def test_any_condition_reads_into_the_builder_and_back_unchanged(when: Any) -> None:
    rule = {"key": "k", "name": "n", "when": when, "actions": [{"add_tags": ["x"]}]}
    assert round_trip(RuleKind.EVENT, rule) == rule


@pytest.mark.parametrize(
    ("path", "shape", "node"),
    [
        ("when.all[1].any[0].value", "group", "bw-1-0"),
        ("when.all[2].not.field", "group", "bw-2-0"),
        ("when.field", "bare", "bw-0"),
        ("when", "group", "bw"),
        ("actions[2].assign.team", "group", "ba-2"),
        ("steps[1].actions[0]", "group", "bs-1-a-0"),
        ("steps[1].after", "group", "bs-1"),
        ("key", "group", None),
    ],
)
def test_a_rule_path_names_the_builder_part_it_is_about(path: str, shape: str, node: str | None) -> None:
    assert rb.builder_id(path, shape) == node


def test_inputs_nested_deeper_than_a_rule_may_be_are_ignored() -> None:
    post = rb.to_post(event_form())
    deep = "bw" + "-0" * 500
    post[f"{deep}.kind"] = ["pred"]
    post[f"{deep}.field"] = ["ticket.subject"]
    form = rb.from_post(post)  # no recursion error
    assert rb.to_definition(RuleKind.EVENT, form, SPECS)["when"] == load(NEW_EVENT_RULE)["when"]
