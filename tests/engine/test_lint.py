"""Save-time warnings on a rules document. Pure Python: no database."""

from __future__ import annotations

from typing import Any

from sportello.engine.conditions import FIELDS, FieldSpec, custom_field_spec
from sportello.engine.lint import LintWarning, lint
from sportello.engine.rules import SCHEMA, parse_document

SPECS: dict[str, FieldSpec] = {
    **FIELDS,
    "ticket.custom.product_code": custom_field_spec("product_code", "text"),
}
REFUND = {"field": "ticket.subject", "op": "contains", "value": "refund"}


def event_rule(key: str, when: dict[str, Any], actions: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"key": key, "name": key, "when": when, "actions": actions, **kw}


def warnings(**parts: Any) -> list[LintWarning]:
    return lint(parse_document({"schema": SCHEMA, **parts}, specs=SPECS), specs=SPECS)


def codes(found: list[LintWarning]) -> list[tuple[str, str]]:
    return [(w.code, w.path) for w in found]


def test_a_clean_document_has_no_warnings() -> None:
    found = warnings(
        event_rules=[
            event_rule("a", REFUND, [{"set": {"field": "ticket.priority", "value": "high"}}]),
            event_rule(
                "b", {"field": "ticket.priority", "op": "changed_to", "value": "high"}, [{"add_tags": ["x"]}]
            ),
        ]
    )
    assert found == []


def test_two_rules_setting_one_field_to_different_values_are_reported() -> None:
    found = warnings(
        event_rules=[
            event_rule("a", REFUND, [{"set": {"field": "ticket.priority", "value": "high"}}]),
            event_rule(
                "b",
                {"field": "requester.vip", "op": "is", "value": False},
                [{"add_tags": ["y"]}, {"set": {"field": "ticket.priority", "value": "low"}}],
            ),
        ]
    )
    assert found == [
        LintWarning(
            "event_rules[1].actions[1]",
            "opposite_writes",
            "rules 'a' and 'b' both set ticket.priority ('high' and 'low') and can match the same change: "
            "the later one wins and they may undo each other",
        )
    ]


def test_same_value_disjoint_events_or_exclusive_conditions_are_not_reported() -> None:
    set_high = {"set": {"field": "ticket.priority", "value": "high"}}
    set_low = {"set": {"field": "ticket.priority", "value": "low"}}
    # Same value
    assert (
        warnings(event_rules=[event_rule("a", REFUND, [set_high]), event_rule("b", REFUND, [set_high])]) == []
    )
    # Disjoint event filters
    assert (
        warnings(
            event_rules=[
                event_rule("a", REFUND, [set_high], on=["ticket.created"]),
                event_rule("b", REFUND, [set_low], on=["message.added"]),
            ]
        )
        == []
    )
    # Conditions that require different channels at their top level
    assert (
        warnings(
            event_rules=[
                event_rule(
                    "a",
                    {"all": [{"field": "ticket.channel", "op": "is", "value": "chat"}, REFUND]},
                    [set_high],
                ),
                event_rule(
                    "b", {"field": "ticket.channel", "op": "in", "value": ["email", "web"]}, [set_low]
                ),
            ]
        )
        == []
    )


def test_assignments_to_different_agents_are_opposite_writes() -> None:
    found = warnings(
        event_rules=[
            event_rule("a", REFUND, [{"assign": {"agent": 1}}]),
            event_rule(
                "b", {"field": "ticket.channel", "op": "is", "value": "chat"}, [{"assign": {"agent": 2}}]
            ),
        ]
    )
    assert codes(found) == [("opposite_writes", "event_rules[1].actions[0]")]


def test_a_rule_reading_what_it_writes_without_a_guard_is_reported() -> None:
    found = warnings(
        event_rules=[
            event_rule(
                "a",
                {"field": "ticket.priority", "op": "is_not", "value": "urgent"},
                [{"set": {"field": "ticket.priority", "value": "urgent"}}],
            )
        ]
    )
    assert found == [
        LintWarning(
            "event_rules[0].when",
            "reads_own_write",
            "rule 'a' reads and writes ticket.priority without a change guard: it may fire on every update; "
            "add a changed/changed_to condition, an event filter or max_fires_per_ticket",
        )
    ]


def test_guards_silence_the_read_own_write_warning() -> None:
    reads_tags = {"field": "ticket.tags", "op": "contains", "value": "vip"}
    write = [{"remove_tags": ["vip"]}]
    guarded = [
        event_rule("a", {"all": [reads_tags, {"field": "ticket.status", "op": "changed"}]}, write),
        event_rule(
            "b", {"all": [reads_tags, {"field": "event.type", "op": "is", "value": "ticket.created"}]}, write
        ),
        event_rule("c", reads_tags, write, on=["ticket.created"]),
        event_rule("d", reads_tags, write, max_fires_per_ticket=1),
    ]
    assert warnings(event_rules=guarded) == []
    assert codes(warnings(event_rules=[event_rule("e", reads_tags, write)])) == [
        ("reads_own_write", "event_rules[0].when")
    ]


def test_placeholders_naming_missing_fields_are_reported_everywhere() -> None:
    found = warnings(
        event_rules=[
            event_rule(
                "a",
                REFUND,
                [
                    {"note": {"body": "{{ ticket.subject }} for {{ ticket.custom.product_code }}"}},
                    {"note": {"body": "{% for k in ticket.custom %}{{ k }}{% endfor %} {{ agent.name }}"}},
                    {"note": {"body": "Order {{ ticket.custom.order_id }}"}},
                ],
            )
        ],
        time_rules=[
            {
                "key": "t",
                "name": "t",
                "anchor": "created",
                "when": {"field": "ticket.team", "op": "present"},
                "steps": [
                    {
                        "after": "1h",
                        "actions": [
                            {
                                "notify": {
                                    "template": None,
                                    "subject": "{{ ticket.nope }}",
                                    "body": "b",
                                    "to": ["team"],
                                }
                            }
                        ],
                    }
                ],
            }
        ],
        macros=[
            {
                "key": "m",
                "name": "m",
                "visibility": {"scope": "everyone"},
                "actions": [
                    {"webhook": {"url": "https://example.com/h", "body": "{{ requester.shoe_size }}"}}
                ],
            }
        ],
    )
    assert found == [
        LintWarning(
            "event_rules[0].actions[2].note.body",
            "missing_placeholder",
            "placeholder 'ticket.custom.order_id' names no known field; it renders empty",
        ),
        LintWarning(
            "time_rules[0].steps[0].actions[0].notify.subject",
            "missing_placeholder",
            "placeholder 'ticket.nope' names no known field; it renders empty",
        ),
        LintWarning(
            "macros[0].actions[0].webhook.body",
            "missing_placeholder",
            "placeholder 'requester.shoe_size' names no known field; it renders empty",
        ),
    ]


def test_a_category_missing_from_the_list_is_reported() -> None:
    found = warnings(
        categories=["routing"],
        event_rules=[
            event_rule("a", REFUND, [], category="routing"),
            event_rule("b", REFUND, [], category="later"),
        ],
    )
    assert codes(found) == [("unknown_category", "event_rules[1].category")]


def test_two_rules_moving_one_tag_in_opposite_directions_are_reported() -> None:
    vip = {"field": "requester.vip", "op": "is", "value": True}
    found = warnings(
        event_rules=[
            event_rule("a", REFUND, [{"add_tags": ["refund", "billing"]}]),
            event_rule(
                "b",
                vip,
                [{"set": {"field": "ticket.priority", "value": "high"}}, {"remove_tags": ["refund"]}],
            ),
            event_rule("c", vip, [{"set_tags": ["vip"]}]),
        ]
    )
    assert found == [
        LintWarning(
            "event_rules[1].actions[1]",
            "opposite_writes",
            "rules 'a' and 'b' move the tags refund in opposite directions and can match the same change: "
            "the later one wins and they may undo each other",
        ),
        LintWarning(
            "event_rules[2].actions[0]",
            "opposite_writes",
            "rules 'a' and 'c' move the tags billing, refund in opposite directions and can match the same "
            "change: the later one wins and they may undo each other",
        ),
    ]
    # the same tag added by both, or different tags, or exclusive events: nothing to say
    add_x, remove_x = {"add_tags": ["x"]}, {"remove_tags": ["x"]}
    same = [event_rule("a", REFUND, [add_x]), event_rule("b", vip, [add_x, {"remove_tags": ["y"]}])]
    assert warnings(event_rules=same) == []
    apart = [
        event_rule("a", REFUND, [add_x], on=["ticket.created"]),
        event_rule("b", vip, [remove_x], on=["message.added"]),
    ]
    assert warnings(event_rules=apart) == []
