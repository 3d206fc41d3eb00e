"""The rules-as-code document: parsing with error paths, defaults, durations, YAML round trip.
Pure Python: no database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.engine.actions import AddNote, AddTags, Assign, SetField
from sportello.engine.conditions import FIELDS, FieldSpec, custom_field_spec, parse_condition
from sportello.engine.rules import (
    DOCUMENT_MAX_BYTES,
    EVENTS,
    SCHEMA,
    AssignmentPolicy,
    EventRule,
    Macro,
    Pool,
    RuleDocument,
    TimeRule,
    TimeStep,
    Visibility,
    category_rank,
    document_to_data,
    dump_yaml,
    format_duration,
    load_yaml,
    parse_document,
    parse_duration,
)
from sportello.engine.schema import RuleSchemaError

SPECS: dict[str, FieldSpec] = {
    **FIELDS,
    "ticket.custom.product_code": custom_field_spec("product_code", "text"),
}

EXAMPLE = """\
schema: sportello/rules/v1
categories: [routing, notifications]
event_rules:
  - key: phone-heat
    name: Phone heats up
    category: routing
    position: 10
    on: [ticket.created, message.added]
    when: {field: message.body, op: contains, value: the phone heats up}
    actions:
      - {set: {field: ticket.priority, value: high}}
      - {assign: {team: 7}}
  - key: team-assigned
    name: Notify the team of a new assignment
    category: notifications
    when: {field: ticket.team, op: changed}
    actions:
      - {notify: {template: team_assigned, to: [team]}}
time_rules:
  - key: team-idle
    name: Team ticket idle for a day
    anchor: last_update
    when: {field: ticket.team, op: present}
    steps:
      - after: 24h
        actions: [{notify: {template: team_reminder, to: [team]}}]
  - key: due-soon
    name: Before the due date
    anchor: due_date
    business: true
    when: {field: ticket.status_category, op: in, value: [new, open]}
    steps:
      - {after: -1h, actions: [{add_tags: [due_soon]}]}
      - {after: 90m, actions: [{note: {body: "Overdue: {{ ticket.subject }}"}}]}
macros:
  - key: refund-ok
    name: Refund approved
    visibility: {scope: team, ids: [3]}
    actions: [{add_tags: [refund_approved]}]
assignment_policies:
  - key: billing-rr
    name: Billing round robin
    pool: {team: 3}
    max_open_per_agent: 15
"""


def when(data: dict[str, Any]) -> Any:
    return parse_condition(data, specs=SPECS)


def test_example_document_parses_with_defaults_filled_in() -> None:
    # When the documented example is loaded
    doc = load_yaml(EXAMPLE, specs=SPECS)
    # Then every part has the written values and the documented defaults
    assert doc == RuleDocument(
        categories=("routing", "notifications"),
        event_rules=(
            EventRule(
                key="phone-heat",
                name="Phone heats up",
                category="routing",
                position=10,
                on=frozenset({"ticket.created", "message.added"}),
                when=when({"field": "message.body", "op": "contains", "value": "the phone heats up"}),
                actions=(SetField("ticket.priority", "high"), Assign("team", 7)),
            ),
            EventRule(
                key="team-assigned",
                name="Notify the team of a new assignment",
                category="notifications",
                position=0,
                active=True,
                on=frozenset(EVENTS),
                when=when({"field": "ticket.team", "op": "changed"}),
                actions=doc.event_rules[1].actions,
                max_fires_per_ticket=None,
                stop_processing=False,
            ),
        ),
        time_rules=(
            TimeRule(
                key="team-idle",
                name="Team ticket idle for a day",
                anchor="last_update",
                when=when({"field": "ticket.team", "op": "present"}),
                steps=(TimeStep(timedelta(hours=24), doc.time_rules[0].steps[0].actions),),
                business=False,
            ),
            TimeRule(
                key="due-soon",
                name="Before the due date",
                anchor="due_date",
                business=True,
                when=when({"field": "ticket.status_category", "op": "in", "value": ["new", "open"]}),
                steps=(
                    TimeStep(timedelta(hours=-1), (AddTags(("due_soon",)),)),
                    TimeStep(timedelta(minutes=90), (AddNote("Overdue: {{ ticket.subject }}"),)),
                ),
            ),
        ),
        macros=(
            Macro("refund-ok", "Refund approved", Visibility("team", (3,)), (AddTags(("refund_approved",)),)),
        ),
        assignment_policies=(
            AssignmentPolicy(
                key="billing-rr",
                name="Billing round robin",
                pool=Pool(team=3),
                max_open_per_agent=15,
                count_categories=("new", "open"),
                offline="skip",
                backlog=True,
            ),
        ),
    )


def test_yaml_round_trip_is_exact() -> None:
    doc = load_yaml(EXAMPLE, specs=SPECS)
    text = dump_yaml(doc)
    assert load_yaml(text, specs=SPECS) == doc
    assert dump_yaml(load_yaml(text, specs=SPECS)) == text
    # Durations are written in the largest exact unit
    assert [s["after"] for s in document_to_data(doc)["time_rules"][1]["steps"]] == ["-1h", "90m"]
    assert document_to_data(doc)["time_rules"][0]["steps"][0]["after"] == "1d"


def test_json_documents_load_too() -> None:
    text = '{"schema": "sportello/rules/v1", "macros": []}'
    assert load_yaml(text, specs=SPECS) == RuleDocument()


def test_version_is_kept_only_when_given() -> None:
    data = document_to_data(load_yaml(EXAMPLE, specs=SPECS))
    assert "version" not in data["event_rules"][0]
    data["event_rules"][0]["version"] = 4
    doc = parse_document(data, specs=SPECS)
    assert doc.event_rules[0].version == 4
    assert document_to_data(doc) == data


def _doc(**parts: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, **parts}


RULE = {"key": "r", "name": "R", "when": {"field": "ticket.team", "op": "present"}, "actions": []}
TRULE = {
    "key": "t",
    "name": "T",
    "anchor": "created",
    "when": {"field": "ticket.team", "op": "present"},
    "steps": [{"after": "1h", "actions": []}],
}
MACRO = {"key": "m", "name": "M", "visibility": {"scope": "everyone"}, "actions": [{"add_tags": ["x"]}]}
POLICY = {"key": "p", "name": "P", "pool": {"agents": [1, 2]}}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"event_rules": []}, "schema"),
        (_doc(schema="sportello/rules/v9"), "schema"),
        (_doc(extra=1), "extra"),
        (_doc(categories=["a", "a"]), "categories"),
        (_doc(event_rules=[RULE, RULE]), "event_rules[1].key"),
        (_doc(event_rules=[{**RULE, "key": "Bad Key"}]), "event_rules[0].key"),
        (_doc(event_rules=[{**RULE, "name": ""}]), "event_rules[0].name"),
        (_doc(event_rules=[{**RULE, "on": ["ticket.deleted"]}]), "event_rules[0].on[0]"),
        (_doc(event_rules=[{**RULE, "on": []}]), "event_rules[0].on"),
        (_doc(event_rules=[{**RULE, "position": -1}]), "event_rules[0].position"),
        (_doc(event_rules=[{**RULE, "max_fires_per_ticket": 0}]), "event_rules[0].max_fires_per_ticket"),
        (_doc(event_rules=[{**RULE, "stop_processing": "yes"}]), "event_rules[0].stop_processing"),
        (_doc(event_rules=[{**RULE, "actions": [{"stop": 1}]}]), "event_rules[0].actions[0].stop"),
        (_doc(time_rules=[{**TRULE, "anchor": "sometime"}]), "time_rules[0].anchor"),
        (_doc(time_rules=[{k: v for k, v in TRULE.items() if k != "anchor"}]), "time_rules[0].anchor"),
        (
            _doc(time_rules=[{**TRULE, "when": {"field": "message.public", "op": "is", "value": True}}]),
            "time_rules[0].when.field",
        ),
        (
            _doc(
                time_rules=[
                    {
                        **TRULE,
                        "when": {
                            "all": [
                                {"field": "ticket.team", "op": "present"},
                                {"not": {"field": "ticket.status", "op": "changed"}},
                            ]
                        },
                    }
                ]
            ),
            "time_rules[0].when.all[1].not.op",
        ),
        (_doc(time_rules=[{**TRULE, "steps": []}]), "time_rules[0].steps"),
        (
            _doc(time_rules=[{**TRULE, "steps": [{"after": "-1h", "actions": []}]}]),
            "time_rules[0].steps[0].after",
        ),
        (
            _doc(time_rules=[{**TRULE, "steps": [{"after": "1 hour", "actions": []}]}]),
            "time_rules[0].steps[0].after",
        ),
        (
            _doc(
                time_rules=[
                    {**TRULE, "steps": [{"after": "2h", "actions": []}, {"after": "2h", "actions": []}]}
                ]
            ),
            "time_rules[0].steps[1].after",
        ),
        (_doc(time_rules=[TRULE, TRULE]), "time_rules[1].key"),
        (
            _doc(macros=[{**MACRO, "actions": [{"add_tags": ["x"]}, {"stop": True}]}]),
            "macros[0].actions[1].stop",
        ),
        (_doc(macros=[{**MACRO, "actions": [{"apply_macro": 2}]}]), "macros[0].actions[0].apply_macro"),
        (_doc(macros=[{**MACRO, "actions": []}]), "macros[0].actions"),
        (
            _doc(macros=[{**MACRO, "visibility": {"scope": "everyone", "ids": [1]}}]),
            "macros[0].visibility.ids",
        ),
        (_doc(macros=[{**MACRO, "visibility": {"scope": "team"}}]), "macros[0].visibility.ids"),
        (_doc(macros=[{**MACRO, "visibility": {"scope": "world"}}]), "macros[0].visibility.scope"),
        (
            _doc(assignment_policies=[{**POLICY, "pool": {"team": 1, "agents": [2]}}]),
            "assignment_policies[0].pool",
        ),
        (
            _doc(assignment_policies=[{**POLICY, "pool": {"agents": []}}]),
            "assignment_policies[0].pool.agents",
        ),
        (
            _doc(assignment_policies=[{**POLICY, "pool": {"agents": [1, 0]}}]),
            "assignment_policies[0].pool.agents[1]",
        ),
        (_doc(assignment_policies=[{**POLICY, "offline": "backlog"}]), "assignment_policies[0].offline"),
        (
            _doc(assignment_policies=[{**POLICY, "count_categories": ["open", "lost"]}]),
            "assignment_policies[0].count_categories[1]",
        ),
        (
            _doc(assignment_policies=[{**POLICY, "max_open_per_agent": 0}]),
            "assignment_policies[0].max_open_per_agent",
        ),
    ],
)
def test_invalid_document_is_refused_with_the_path_of_the_error(data: dict[str, Any], path: str) -> None:
    with pytest.raises(RuleSchemaError) as info:
        parse_document(data, specs=SPECS)
    assert info.value.path == path


def test_negative_step_is_allowed_with_the_due_date_anchor() -> None:
    doc = parse_document(
        _doc(time_rules=[{**TRULE, "anchor": "due_date", "steps": [{"after": "-1h", "actions": []}]}]),
        specs=SPECS,
    )
    assert doc.time_rules[0].steps[0].after == timedelta(hours=-1)


def test_status_entered_anchor_names_a_category_or_status_key() -> None:
    doc = parse_document(_doc(time_rules=[{**TRULE, "anchor": "status_entered:pending"}]), specs=SPECS)
    assert doc.time_rules[0].anchor == "status_entered:pending"


def test_yaml_syntax_error_gives_the_line() -> None:
    with pytest.raises(RuleSchemaError) as info:
        load_yaml("schema: sportello/rules/v1\nevent_rules: [\n  {key: a\n", specs=SPECS)
    assert info.value.path == ""
    assert "line 4" in info.value.message


def test_yaml_aliases_are_refused() -> None:
    text = "schema: sportello/rules/v1\ncategories: &c [a]\nevent_rules: *c\n"
    with pytest.raises(RuleSchemaError) as info:
        load_yaml(text, specs=SPECS)
    assert "aliases are not allowed" in info.value.message


def test_oversized_document_is_refused_unread() -> None:
    text = "schema: sportello/rules/v1\n#" + "x" * DOCUMENT_MAX_BYTES
    with pytest.raises(RuleSchemaError) as info:
        load_yaml(text, specs=SPECS)
    assert info.value.message == f"the document is larger than {DOCUMENT_MAX_BYTES} bytes"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86_400),
        ("90m", 5_400),
        ("2d", 172_800),
        ("-1h", -3_600),
        ("1h30m", 5_400),
        ("45s", 45),
        ("0m", 0),
    ],
)
def test_durations_parse_exactly(text: str, seconds: int) -> None:
    assert parse_duration(text, "after") == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "1.5h", "1H", "1h 30m", "30m1h", "--1h", "+1h", 90])
def test_malformed_durations_are_refused(text: Any) -> None:
    with pytest.raises(RuleSchemaError):
        parse_duration(text, "after")


@given(st.integers(min_value=-10 * 86_400, max_value=3_650 * 86_400))
def test_duration_format_round_trips(seconds: int) -> None:
    d = timedelta(seconds=seconds)
    assert parse_duration(format_duration(d), "after") == d


def test_categories_order_listed_first_then_alphabetical() -> None:
    rank = category_rank(["routing", "notify"])
    assert sorted(["zeta", "notify", "alpha", "routing"], key=rank) == ["routing", "notify", "alpha", "zeta"]
    assert sorted(["b", "a"], key=category_rank([])) == ["a", "b"]


# -- round trip law ------------------------------------------------------------------------

_slug = st.text(alphabet="abcdefghij0123-_", min_size=1, max_size=10).filter(lambda s: s[0] not in "-_")
_name = st.text(alphabet="abcdefghij ABC", min_size=1, max_size=20).filter(lambda s: s.strip() != "")
_CONDITION_DATA: list[dict[str, Any]] = [
    {"field": "ticket.team", "op": "present"},
    {"field": "ticket.priority", "op": "is", "value": "high"},
    {"field": "ticket.custom.product_code", "op": "is", "value": "XT372"},
    {"all": [{"field": "ticket.subject", "op": "contains", "value": "refund"}]},
]
_conditions = st.sampled_from(_CONDITION_DATA).map(when)
_actions = st.lists(
    st.one_of(
        st.builds(AddTags, st.lists(_slug, max_size=3, unique=True).map(tuple)),
        st.builds(Assign, st.sampled_from(["agent", "team", "policy"]), st.integers(1, 99)),
        st.builds(SetField, st.just("ticket.priority"), st.sampled_from(["low", "high"])),
    ),
    max_size=3,
).map(tuple)
_event_rule = st.builds(
    EventRule,
    key=_slug,
    name=_name,
    when=_conditions,
    actions=_actions,
    category=_slug,
    position=st.integers(0, 1000),
    active=st.booleans(),
    on=st.frozensets(st.sampled_from(EVENTS), min_size=1),
    max_fires_per_ticket=st.none() | st.integers(1, 5),
    stop_processing=st.booleans(),
    version=st.none() | st.integers(1, 50),
)
_time_rule = st.builds(
    TimeRule,
    key=_slug,
    name=_name,
    anchor=st.sampled_from(["created", "assigned", "last_update", "status_entered:pending"]),
    when=_conditions,
    steps=st.lists(st.integers(0, 10**6), min_size=1, max_size=3, unique=True).map(
        lambda xs: tuple(TimeStep(timedelta(seconds=s), ()) for s in sorted(xs))
    ),
    active=st.booleans(),
    business=st.booleans(),
)
_macro = st.builds(
    Macro,
    key=_slug,
    name=_name,
    visibility=st.one_of(
        st.just(Visibility("everyone")),
        st.builds(
            Visibility,
            st.sampled_from(["personal", "team", "department"]),
            st.lists(st.integers(1, 99), min_size=1, max_size=3, unique=True).map(tuple),
        ),
    ),
    actions=_actions.filter(bool),
)
_policy = st.builds(
    AssignmentPolicy,
    key=_slug,
    name=_name,
    pool=st.one_of(
        st.builds(Pool, team=st.integers(1, 9)),
        st.builds(Pool, department=st.integers(1, 9)),
        st.builds(Pool, agents=st.lists(st.integers(1, 99), min_size=1, unique=True).map(tuple)),
    ),
    max_open_per_agent=st.none() | st.integers(1, 50),
    count_categories=st.lists(st.sampled_from(["new", "open", "pending"]), unique=True).map(tuple),
    offline=st.sampled_from(["skip", "assign"]),
    backlog=st.booleans(),
)


def _unique(items: list[Any]) -> tuple[Any, ...]:
    return tuple({i.key: i for i in items}.values())


DOCS = st.builds(
    RuleDocument,
    categories=st.lists(_slug, unique=True, max_size=3).map(tuple),
    event_rules=st.lists(_event_rule, max_size=3).map(_unique),
    time_rules=st.lists(_time_rule, max_size=2).map(_unique),
    macros=st.lists(_macro, max_size=2).map(_unique),
    assignment_policies=st.lists(_policy, max_size=2).map(_unique),
)


@settings(max_examples=40)
@given(DOCS)
def test_document_round_trips_through_data_and_yaml(doc: RuleDocument) -> None:
    data = document_to_data(doc)
    assert parse_document(data, specs=SPECS) == doc
    assert load_yaml(dump_yaml(doc), specs=SPECS) == doc


def test_a_public_reply_is_for_macros_only() -> None:
    from sportello.engine.conditions import FIELDS
    from sportello.engine.rules import SCHEMA, parse_document
    from sportello.engine.schema import RuleSchemaError

    rule = {
        "key": "r",
        "name": "R",
        "when": {"all": []},
        "actions": [{"note": {"body": "x"}}, {"reply": {"body": "Hi"}}],
    }
    with pytest.raises(RuleSchemaError) as err:
        parse_document({"schema": SCHEMA, "event_rules": [rule]}, specs=FIELDS)
    assert err.value.path == "event_rules[0].actions[1].reply"
    macro = {
        "key": "m",
        "name": "M",
        "visibility": {"scope": "everyone"},
        "actions": [{"reply": {"body": "Hi"}}],
    }
    assert parse_document({"schema": SCHEMA, "macros": [macro]}, specs=FIELDS).macros[0].key == "m"
