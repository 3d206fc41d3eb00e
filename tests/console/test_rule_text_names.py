"""Rules in words name values as the Desk does: priorities, statuses and channels by their
labels, and the records and picklist options a rule holds by key by their names."""

from __future__ import annotations

from typing import Any

from sportello.automation.models import RuleKind
from sportello.console import rule_text

NAMES = rule_text.Names(
    by_path={
        "ticket.team": {"replacements": "Replacements"},
        "ticket.assignee": {"bruno@desk.test": "Bruno Books"},
        "ticket.department": {"books": "Books"},
        "ticket.status": {"waiting-supplier": "Waiting for the supplier"},
        "ticket.custom.subcategory": {"childrens_books": "Children's books"},
        "macro": {"thanks": "Say thanks"},
        "policy": {"books-rr": "Books round robin"},
    },
    fields={"ticket.custom.subcategory": "Subcategory"},
)

RULE: dict[str, Any] = {
    "key": "r",
    "name": "R",
    "when": {
        "all": [
            {"field": "ticket.priority", "op": "in", "value": ["high", "urgent"]},
            {"field": "ticket.status", "op": "is", "value": "waiting-supplier"},
            {"field": "ticket.status_category", "op": "is", "value": "on_hold"},
            {"field": "ticket.channel", "op": "is", "value": "email"},
            {"field": "ticket.team", "op": "is", "value": "replacements"},
            {"field": "ticket.custom.subcategory", "op": "is", "value": "childrens_books"},
            {"field": "ticket.subject", "op": "contains", "value": "high"},
        ]
    },
    "actions": [
        {"set": {"field": "ticket.priority", "value": "high"}},
        {"set": {"field": "ticket.status", "value": "waiting-supplier"}},
        {"set": {"field": "ticket.custom.subcategory", "value": "childrens_books"}},
        {"assign": {"team": "replacements"}},
        {"assign": {"agent": "bruno@desk.test"}},
        {"assign": {"department": "books"}},
        {"assign": {"policy": "books-rr"}},
        {"apply_macro": "thanks"},
    ],
}


def texts(node: rule_text.Node) -> list[str]:
    return [node.text, *(t for c in node.children for t in texts(c))]


def test_conditions_and_actions_name_values_by_their_labels() -> None:
    shown = rule_text.rendering(RuleKind.EVENT, RULE, NAMES)
    assert texts(shown.when)[1:] == [
        "Priority is one of High, Urgent",
        "Status is Waiting for the supplier",
        "Status category is On hold",
        "Channel is Email",
        "Team is Replacements",
        "Subcategory is Children's books",
        # a text field's value is what was typed, even when it reads like a label's key
        "Subject contains high",
    ]
    assert shown.actions == [
        "Set Priority to High",
        "Set Status to Waiting for the supplier",
        "Set Subcategory to Children's books",
        "Assign to team Replacements",
        "Assign to agent Bruno Books",
        "Move to department Books",
        "Assign through policy Books round robin",
        "Apply macro Say thanks",
    ]


def test_without_names_records_keep_their_keys_and_fixed_labels_still_show() -> None:
    shown = rule_text.rendering(RuleKind.EVENT, RULE)
    assert shown.actions[0] == "Set Priority to High"
    assert shown.actions[3] == "Assign to team replacements"
    assert texts(shown.when)[2] == "Status is waiting-supplier"
    # a record the desk does not have (deleted, or a typo) is shown by its key
    gone = {"assign": {"team": "gone"}}
    assert rule_text.action(gone, NAMES) == "Assign to team gone"


def test_a_time_rules_steps_name_values_too() -> None:
    definition = {
        "anchor": "created",
        "when": {"all": []},
        "steps": [{"after": "1d", "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}]}],
    }
    shown = rule_text.rendering(RuleKind.TIME, definition, NAMES)
    assert shown.steps[0].actions == ["Set Priority to Urgent"]
    # an anchor on a status names it too (a status, or a status category)
    definition["anchor"] = "status_entered:waiting-supplier"
    assert rule_text.rendering(RuleKind.TIME, definition, NAMES).anchor == (
        "the ticket entered Waiting for the supplier"
    )
    definition["anchor"] = "status_entered:on_hold"
    assert rule_text.rendering(RuleKind.TIME, definition, NAMES).anchor == "the ticket entered On hold"


def test_the_message_body_is_called_so() -> None:
    assert rule_text.field_label("message.body") == "Message body"
