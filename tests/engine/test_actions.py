"""Actions as data: parsing with error paths, the exact inverse, and what they write.
Pure Python: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.actions import (
    AddNote,
    AddTags,
    ApplyMacro,
    Assign,
    Notify,
    RemoveTags,
    Reply,
    SetField,
    SetTags,
    Stop,
    Webhook,
    actions_to_data,
    field_writes,
    fields_written,
    is_field_action,
    parse_actions,
    templates_of,
)
from sportello.engine.conditions import FIELDS, FieldSpec, custom_field_spec
from sportello.engine.schema import RuleSchemaError

SPECS: dict[str, FieldSpec] = {
    **FIELDS,
    **{
        s.path: s
        for s in (
            custom_field_spec("product_code", "text"),
            custom_field_spec("qty", "number"),
            custom_field_spec("price", "decimal"),
            custom_field_spec("ship_by", "date"),
            custom_field_spec("gift", "boolean"),
            custom_field_spec("size", "picklist", ("s", "m", "l")),
            custom_field_spec("formats", "multi_select", ("paper", "ebook")),
        )
    },
}


def parse(data: Any) -> tuple[Any, ...]:
    return parse_actions(data, specs=SPECS)


def error_of(data: Any) -> RuleSchemaError:
    with pytest.raises(RuleSchemaError) as info:
        parse(data)
    return info.value


def test_every_action_kind_parses_to_its_dataclass() -> None:
    # Given one action of each kind
    data = [
        {"set": {"field": "ticket.priority", "value": "high"}},
        {"add_tags": ["vip"]},
        {"remove_tags": ["spam"]},
        {"set_tags": ["a", "b"]},
        {"assign": {"agent": 12}},
        {"assign": {"team": 3}},
        {"assign": {"department": 2}},
        {"assign": {"policy": 5}},
        {"note": {"body": "Escalated: {{ ticket.subject }}"}},
        {"reply": {"body": "Hello {{ requester.name }}"}},
        {
            "notify": {
                "template": "team_assigned",
                "subject": "",
                "body": "",
                "to": ["team", "agent:12", "address:lead@example.com"],
            }
        },
        {"webhook": {"url": "https://hooks.example.com/x", "body": "{}", "secret_ref": "pager"}},
        {"apply_macro": 7},
        {"stop": True},
    ]
    # When parsed
    actions = parse(data)
    # Then each is the matching frozen dataclass with the given values
    assert actions == (
        SetField("ticket.priority", "high"),
        AddTags(("vip",)),
        RemoveTags(("spam",)),
        SetTags(("a", "b")),
        Assign("agent", 12),
        Assign("team", 3),
        Assign("department", 2),
        Assign("policy", 5),
        AddNote("Escalated: {{ ticket.subject }}"),
        Reply("Hello {{ requester.name }}"),
        Notify("team_assigned", "", "", ("team", "agent:12", "address:lead@example.com")),
        Webhook("https://hooks.example.com/x", "{}", "pager"),
        ApplyMacro(7),
        Stop(),
    )
    # And dumping gives the data back exactly
    assert actions_to_data(actions) == data


def test_set_coerces_custom_values_to_their_fact_types() -> None:
    actions = parse(
        [
            {"set": {"field": "ticket.custom.qty", "value": 3}},
            {"set": {"field": "ticket.custom.product_code", "value": "line one\nline two"}},
            {"set": {"field": "ticket.custom.price", "value": "12.50"}},
            {"set": {"field": "ticket.custom.ship_by", "value": "2026-12-24"}},
            {"set": {"field": "ticket.custom.gift", "value": True}},
            {"set": {"field": "ticket.custom.formats", "value": ["paper", "ebook"]}},
            {"set": {"field": "ticket.due_at", "value": "2026-12-01T11:00:00+01:00"}},
            {"set": {"field": "ticket.custom.size", "value": None}},
        ]
    )
    assert [a.value for a in actions if isinstance(a, SetField)] == [
        3,
        "line one\nline two",
        Decimal("12.50"),
        date(2026, 12, 24),
        True,
        frozenset({"paper", "ebook"}),
        datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        None,
    ]
    # The data form writes sets sorted and instants in ISO 8601
    assert actions_to_data(actions)[5] == {
        "set": {"field": "ticket.custom.formats", "value": ["ebook", "paper"]}
    }
    assert actions_to_data(actions)[6] == {"set": {"field": "ticket.due_at", "value": "2026-12-01T10:00:00Z"}}
    assert parse(actions_to_data(actions)) == actions


def test_tags_are_normalised_as_the_ticket_stores_them() -> None:
    assert parse([{"add_tags": ["  Phone Heat ", "phone_heat", "VIP"]}]) == (AddTags(("phone_heat", "vip")),)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"set": {"field": "ticket.number", "value": 3}}, "actions[1].set.field"),
        ({"set": {"field": "ticket.custom.nope", "value": 3}}, "actions[1].set.field"),
        ({"set": {"field": "ticket.priority", "value": "extreme"}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.priority", "value": None}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.subject", "value": " "}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.subject", "value": "two\nlines"}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.subject", "value": "x" * 251}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.custom.qty", "value": "many"}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.custom.gift", "value": "yes"}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.due_at", "value": "2026-12-01T10:00:00"}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.team", "value": 0}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.team"}}, "actions[1].set.value"),
        ({"set": {"field": "ticket.team", "value": 1, "extra": 1}}, "actions[1].set.extra"),
        ({"add_tags": ["a,b"]}, "actions[1].add_tags[0]"),
        ({"add_tags": "vip"}, "actions[1].add_tags"),
        ({"assign": {"agent": -1}}, "actions[1].assign.agent"),
        ({"assign": {"agent": True}}, "actions[1].assign.agent"),
        ({"assign": {"robot": 1}}, "actions[1].assign.robot"),
        ({"assign": {"agent": 1, "team": 2}}, "actions[1].assign"),
        ({"note": {"body": "  "}}, "actions[1].note.body"),
        ({"reply": {"body": "\n"}}, "actions[1].reply.body"),
        ({"reply": {"body": "{{ ticket.subject "}}, "actions[1].reply.body"),
        ({"reply": {"body": "Hi", "public": False}}, "actions[1].reply.public"),
        ({"reply": "Hi"}, "actions[1].reply"),
        (
            {"notify": {"template": None, "subject": "Hi", "body": "x", "to": ["boss"]}},
            "actions[1].notify.to[0]",
        ),
        (
            {"notify": {"template": None, "subject": "Hi", "body": "x", "to": ["address:not-an-address"]}},
            "actions[1].notify.to[0]",
        ),
        (
            {"notify": {"template": None, "subject": "Hi", "body": "x", "to": ["agent:0"]}},
            "actions[1].notify.to[0]",
        ),
        ({"notify": {"template": None, "subject": "", "body": "", "to": ["team"]}}, "actions[1].notify"),
        ({"notify": {"template": "t", "to": []}}, "actions[1].notify.to"),
        ({"webhook": {"url": "ftp://example.com/x"}}, "actions[1].webhook.url"),
        ({"webhook": {"url": "https://user:pw@example.com/x"}}, "actions[1].webhook.url"),
        ({"webhook": {"url": "https:///nohost"}}, "actions[1].webhook.url"),
        (
            {"webhook": {"url": "https://example.com", "secret_ref": "Bad Name"}},
            "actions[1].webhook.secret_ref",
        ),
        ({"apply_macro": "7"}, "actions[1].apply_macro"),
        ({"stop": False}, "actions[1].stop"),
        ({"explode": True}, "actions[1]"),
        ({"stop": True, "add_tags": ["x"]}, "actions[1]"),
    ],
)
def test_invalid_action_is_refused_with_its_path(data: dict[str, Any], path: str) -> None:
    # Given a valid first action and an invalid second one
    # When parsed, Then the error points at the bad part of the second
    assert error_of([{"add_tags": ["ok"]}, data]).path == path


def test_actions_must_be_a_list() -> None:
    assert error_of({"stop": True}).path == "actions"


def test_field_writes_lists_constant_writes_with_the_last_value() -> None:
    actions = parse(
        [
            {"set": {"field": "ticket.priority", "value": "high"}},
            {"assign": {"team": 4}},
            {"add_tags": ["x"]},
            {"assign": {"policy": 2}},
            {"set": {"field": "ticket.priority", "value": "urgent"}},
            {"set_tags": ["b", "a"]},
            {"assign": {"agent": 9}},
        ]
    )
    assert field_writes(actions) == {
        "ticket.priority": "urgent",
        "ticket.team": 4,
        "ticket.tags": frozenset({"a", "b"}),
        "ticket.assignee": 9,
    }


def test_fields_written_includes_relative_writes() -> None:
    actions = parse([{"remove_tags": ["x"]}, {"assign": {"policy": 2}}, {"note": {"body": "n"}}])
    assert field_writes(actions) == {}
    assert fields_written(actions) == {"ticket.tags", "ticket.assignee"}


def test_field_actions_are_the_ones_that_change_fields_directly() -> None:
    actions = parse(
        [
            {"set": {"field": "ticket.priority", "value": "high"}},
            {"add_tags": ["x"]},
            {"assign": {"team": 4}},
            {"assign": {"policy": 2}},
            {"note": {"body": "n"}},
            {"apply_macro": 1},
            {"stop": True},
        ]
    )
    assert [is_field_action(a) for a in actions] == [True, True, True, False, False, False, False]


# -- round trip ----------------------------------------------------------------------------

_ids = st.integers(min_value=1, max_value=2**40)
_tag = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
_tags = st.lists(_tag, max_size=4, unique=True).map(tuple)
_plain = st.text(alphabet="abcdefghij ABC.!?", min_size=1, max_size=30).filter(lambda s: s.strip() != "")
_template = st.one_of(_plain, st.sampled_from(["Hello {{ ticket.subject }}", "#{{ ticket.number }} is due"]))
_recipient = st.one_of(
    st.sampled_from(["requester", "assignee", "team", "department"]),
    _ids.map(lambda i: f"agent:{i}"),
    st.sampled_from(["address:a@example.com", "address:ops@desk.example.org"]),
)
_set = st.one_of(
    st.builds(SetField, st.just("ticket.priority"), st.sampled_from(["low", "normal", "high", "urgent"])),
    st.builds(SetField, st.just("ticket.subject"), _plain),
    st.builds(
        SetField, st.sampled_from(["ticket.team", "ticket.assignee", "ticket.department"]), st.none() | _ids
    ),
    st.builds(SetField, st.just("ticket.custom.qty"), st.integers(-1000, 1000)),
    st.builds(
        SetField,
        st.just("ticket.custom.price"),
        st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000),
    ),
    st.builds(SetField, st.just("ticket.custom.ship_by"), st.dates()),
    st.builds(
        SetField,
        st.just("ticket.due_at"),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    ),
    st.builds(SetField, st.just("ticket.custom.formats"), st.frozensets(st.sampled_from(["paper", "ebook"]))),
)
ACTIONS = st.one_of(
    _set,
    st.builds(AddTags, _tags),
    st.builds(RemoveTags, _tags),
    st.builds(SetTags, _tags),
    st.builds(Assign, st.sampled_from(["agent", "team", "department", "policy"]), _ids),
    st.builds(AddNote, _template),
    st.builds(Reply, _template),
    st.builds(
        Notify,
        st.just("tpl_x"),
        _template,
        _template,
        st.lists(_recipient, min_size=1, max_size=4, unique=True).map(tuple),
    ),
    st.builds(
        Webhook,
        st.sampled_from(["https://example.com/h", "http://hooks.example.org:8080/a?b=1"]),
        _template,
        st.none() | st.just("pager"),
    ),
    st.builds(ApplyMacro, _ids),
    st.just(Stop()),
)


@given(st.lists(ACTIONS, max_size=8).map(tuple))
def test_parse_is_the_exact_inverse_of_dump(actions: tuple[Any, ...]) -> None:
    data = actions_to_data(actions)
    assert parse(data) == actions
    assert actions_to_data(parse(data)) == data


def test_a_reply_is_a_side_effect_whose_body_is_a_template() -> None:
    # Given a reply with a placeholder
    (reply,) = parse([{"reply": {"body": "Dear {{ requester.name }}"}}])
    # Then it writes no field and its body is listed among the templates to check
    assert not is_field_action(reply)
    assert fields_written([reply]) == set()
    assert templates_of(reply) == [("reply.body", "Dear {{ requester.name }}")]
