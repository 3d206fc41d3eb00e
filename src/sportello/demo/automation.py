"""The demo desk's sample automation: what a team that has run a desk for a while would have.

Saved through the same services an admin's rules go through (`automation.services.rule_save`,
`automation.macros.macro_create`, `automation.assignment.policy_save`), after the demo's
conversations are loaded, so they act on the desk from now on, not on its history:

- event rules: a request received by e-mail is acknowledged (the `ticket_received` template, in
  the customer's language); urgent wording raises the priority; a ticket about a phone that heats up goes to
  Technical Support's Replacements team; new Returns tickets without an agent go round robin;
  the assignee hears of an assignment; a team hears when a ticket is handed to it;
- a time rule (saved inactive, for an admin to switch on): a ticket with a team and no update
  for a day reminds the team — active, it would at once remind every idle ticket of the demo's
  history;
- a round-robin policy over Returns (at most 15 open tickets each, offline agents included —
  the demo's agents never went online — with a backlog);
- macros: ask for the order number, approve a refund, and (for Technical Support) send the
  reset steps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.accounts.models import Department, Team, User
from sportello.automation.assignment import policy_save
from sportello.automation.macros import macro_create
from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save


def demo_automation_create(*, now: datetime) -> dict[str, int]:
    """Save the sample rules, policy and macros. Returns how many of each."""
    admin = User.objects.filter(role="admin", is_active=True).order_by("id").first()
    assert admin is not None  # the demo desk's admin (demo.loader)
    returns = Department.objects.get(name="Returns")
    support = Department.objects.get(name="Technical Support")
    replacements = Team.objects.get(department=support, name="Replacements")
    policy, _ = policy_save(
        definition={
            "key": "returns-round-robin",
            "name": "Returns round robin",
            "pool": {"department": returns.pk},
            "max_open_per_agent": 15,
            "count_categories": ["new", "open"],
            "offline": "assign",  # the demo's agents are offline until they say otherwise
            "backlog": True,
        },
        created_by=admin,
        now=now,
    )
    events = _event_rules(returns=returns.pk, replacements=replacements.pk, policy=policy.pk)
    for definition in events:
        rule_save(kind=RuleKind.EVENT, definition=definition, created_by=admin, now=now)
    rule_save(
        kind=RuleKind.TIME, definition={**IDLE_TEAM_REMINDER, "active": False}, created_by=admin, now=now
    )
    macros = _macros(support=support.pk)
    for definition in macros:
        macro_create(definition=definition, actor=admin, now=now)
    return {"event_rules": len(events), "time_rules": 1, "policies": 1, "macros": len(macros)}


def _event_rules(*, returns: int, replacements: int, policy: int) -> list[dict[str, Any]]:
    return [
        {
            "key": "urgent-wording",
            "name": "Urgent wording raises the priority",
            "category": "triage",
            "position": 10,
            "on": ["ticket.created", "message.added"],
            "when": {
                "all": [
                    {"field": "message.author_kind", "op": "is", "value": "contact"},
                    {"field": "ticket.priority", "op": "in", "value": ["low", "normal"]},
                    {
                        "any": [
                            {"field": "message.body", "op": "contains_word", "value": w}
                            for w in ("urgent", "urgente", "asap", "immediately", "subito")
                        ]
                    },
                ]
            },
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"add_tags": ["urgent_wording"]},
            ],
        },
        {
            "key": "phone-heats-up",
            "name": "Phones that heat up go to Replacements",
            "category": "triage",
            "position": 20,
            "on": ["ticket.created"],
            "when": {
                "any": [
                    {"field": "message.body", "op": "contains", "value": "the phone heats up"},
                    {"field": "message.body", "op": "contains", "value": "el teléfono se calienta"},
                    {"field": "message.body", "op": "contains", "value": "il telefono si surriscalda"},
                ]
            },
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"assign": {"team": replacements}},
            ],
        },
        {
            "key": "returns-round-robin",
            "name": "New Returns tickets go round robin",
            "category": "routing",
            "position": 10,
            "on": ["ticket.created"],
            "when": {
                "all": [
                    {"field": "ticket.department", "op": "is", "value": returns},
                    {"field": "ticket.assignee", "op": "absent"},
                ]
            },
            "actions": [{"assign": {"policy": policy}}],
        },
        {
            "key": "acknowledge-email",
            "name": "Acknowledge a request received by e-mail",
            "category": "notifications",
            "position": 5,
            "on": ["ticket.created"],
            "when": {
                "all": [
                    {"field": "ticket.channel", "op": "is", "value": "email"},
                    {"field": "message.author_kind", "op": "is", "value": "contact"},
                ]
            },
            # The shipped `ticket_received` template, in the customer's language.
            "actions": [{"notify": {"to": ["requester"], "template": "ticket_received"}}],
        },
        {
            "key": "notify-assignee",
            "name": "Tell the assignee about an assignment",
            "category": "notifications",
            "position": 10,
            "when": {
                "all": [
                    {"field": "ticket.assignee", "op": "changed"},
                    {"field": "ticket.assignee", "op": "present"},
                ]
            },
            "actions": [
                {
                    "notify": {
                        "to": ["assignee"],
                        "subject": "[#{{ ticket.number }}] assigned to you: {{ ticket.subject }}",
                        "body": "Hello {{ agent.name }},\n\nticket #{{ ticket.number }} from "
                        "{{ requester.name }} is now yours (priority {{ ticket.priority }})."
                        "\n\nOpen the ticket: {{ links.agent_ticket }}",
                    }
                }
            ],
        },
        {
            "key": "notify-team",
            "name": "Tell a team about a ticket handed to it",
            "category": "notifications",
            "position": 20,
            "when": {
                "all": [
                    {"field": "ticket.team", "op": "changed"},
                    {"field": "ticket.team", "op": "present"},
                ]
            },
            "actions": [
                {
                    "notify": {
                        "to": ["team"],
                        "subject": "[#{{ ticket.number }}] for your team: {{ ticket.subject }}",
                        "body": "Ticket #{{ ticket.number }} from {{ requester.name }} was handed "
                        "to your team (priority {{ ticket.priority }})."
                        "\n\nOpen the ticket: {{ links.agent_ticket }}",
                    }
                }
            ],
        },
    ]


IDLE_TEAM_REMINDER: dict[str, Any] = {
    "key": "idle-team-reminder",
    "name": "Remind the team of a ticket idle for a day",
    "anchor": "last_update",
    "when": {
        "all": [
            {"field": "ticket.team", "op": "present"},
            {"field": "ticket.status_category", "op": "in", "value": ["new", "open"]},
        ]
    },
    "steps": [
        {
            "after": "1d",
            "actions": [
                {
                    "notify": {
                        "to": ["team"],
                        "subject": "[#{{ ticket.number }}] waiting a day: {{ ticket.subject }}",
                        "body": "Ticket #{{ ticket.number }} has not been updated for a day."
                        "\n\nOpen the ticket: {{ links.agent_ticket }}",
                    }
                },
                {"add_tags": ["idle_reminder"]},
            ],
        }
    ],
}


def _macros(*, support: int) -> list[dict[str, Any]]:
    return [
        {
            "key": "ask-order-number",
            "name": "Ask for the order number",
            "visibility": {"scope": "everyone"},
            "actions": [
                {"set": {"field": "ticket.status", "value": "pending"}},
                {
                    "reply": {
                        "body": "Hello {{ requester.name }},\n\nthank you for writing. Could you send "
                        "us the number of your order (it starts with A and is in the "
                        "confirmation e-mail)?\n\n{{ agent.name }}"
                    }
                },
            ],
        },
        {
            "key": "refund-approved",
            "name": "Refund approved",
            "visibility": {"scope": "everyone"},
            "actions": [
                {"set": {"field": "ticket.status", "value": "solved"}},
                {"add_tags": ["refund_approved"]},
                {
                    "reply": {
                        "body": "Hello {{ requester.name }},\n\nyour refund is approved: you will see "
                        "it on your statement within five working days.\n\n{{ agent.name }}"
                    }
                },
            ],
        },
        {
            "key": "reset-steps",
            "name": "Send the reset steps",
            "visibility": {"scope": "department", "ids": [support]},
            "actions": [
                {"add_tags": ["reset_steps_sent"]},
                {
                    "reply": {
                        "body": "Hello {{ requester.name }},\n\nplease hold the power button for 15 "
                        "seconds, wait a minute and switch the device on again. If it still does "
                        "not work, reply here and we will arrange a replacement.\n\n{{ agent.name }}"
                    }
                },
            ],
        },
    ]
