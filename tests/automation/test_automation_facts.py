"""The facts builder: a stored ticket as the flat facts conditions read, and the field specs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sportello.engine.conditions import FIELDS, FieldSpec, FieldType

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # as in conftest.py


def test_field_specs_are_the_standard_fields_and_each_active_custom_field(world: Any) -> None:
    from sportello.automation.facts import field_specs

    # Given the world's nine active custom fields and one retired one
    specs = field_specs()
    # Then every standard field is there unchanged, plus one spec per active custom field
    assert {k: v for k, v in specs.items() if not k.startswith("ticket.custom.")} == FIELDS
    custom = {k: v for k, v in specs.items() if k.startswith("ticket.custom.")}
    assert custom == {
        "ticket.custom.code": FieldSpec("ticket.custom.code", FieldType.TEXT),
        "ticket.custom.notes": FieldSpec("ticket.custom.notes", FieldType.TEXT),
        "ticket.custom.qty": FieldSpec("ticket.custom.qty", FieldType.NUMBER),
        "ticket.custom.amount": FieldSpec("ticket.custom.amount", FieldType.NUMBER),
        "ticket.custom.due": FieldSpec("ticket.custom.due", FieldType.DATE),
        "ticket.custom.seen": FieldSpec("ticket.custom.seen", FieldType.DATETIME),
        "ticket.custom.ok": FieldSpec("ticket.custom.ok", FieldType.BOOLEAN),
        "ticket.custom.pick": FieldSpec("ticket.custom.pick", FieldType.CHOICE, choices=("a", "b", "c")),
        "ticket.custom.colors": FieldSpec(
            "ticket.custom.colors", FieldType.SET, choices=("red", "green", "blue")
        ),
    }


def test_ticket_facts_of_a_full_ticket(world: Any, make_ticket: Any) -> None:
    from sportello.automation.facts import ticket_facts
    from sportello.tickets.models import AuthorKind, Message, Ticket

    # Given a ticket with every kind of value
    t = make_ticket(
        subject="Écran cassé",
        status="pending",
        priority=4,
        channel="chat",
        requester=world.alice,
        organization=world.acme,
        tags=["vip", "screen"],
        custom={
            "code": "XT372",
            "qty": 7,
            "amount": "-0.25",
            "due": "2026-02-28",
            "seen": "2026-03-01T10:00:00.250000Z",
            "ok": False,
            "pick": "c",
            "colors": ["blue", "red"],
        },
        due_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        message_count=4,
        customer_message_count=3,
        agent_reply_count=1,
    )
    message = Message(
        ticket=t, public=False, author_kind=AuthorKind.AGENT, body_text="internal", via="web", created_at=T0
    )
    event = {"type": "message.added", "via": "web", "actor_kind": "agent", "depth": 0}
    ticket = Ticket.objects.select_related("status", "requester", "organization").get(pk=t.pk)

    # When its facts are built at its due instant
    due = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    facts = ticket_facts(ticket, message=message, event=event, now=due)

    # Then each fact has its condition type and value
    assert facts == {
        "ticket.number": t.number,
        "ticket.subject": "Écran cassé",
        "ticket.status": "pending",
        "ticket.status_category": "pending",
        "ticket.priority": "urgent",
        "ticket.channel": "chat",
        "ticket.department": world.dept.pk,
        "ticket.team": None,
        "ticket.assignee": None,
        "ticket.requester": world.alice.pk,
        "ticket.organization": world.acme.pk,
        "ticket.tags": frozenset({"vip", "screen"}),
        "ticket.due_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        "ticket.overdue": True,
        "ticket.created_at": T0,
        "ticket.updated_at": T0,
        "ticket.first_response_at": None,
        "ticket.solved_at": None,
        "ticket.message_count": 4,
        "ticket.customer_message_count": 3,
        "ticket.agent_reply_count": 1,
        "requester.email": "alice@Acme.test",
        "requester.domain": "acme.test",
        "requester.name": "Alice Ärger",
        "requester.vip": True,
        "requester.language": "en",
        "organization.name": "Acme",
        "organization.tier": "gold",
        "organization.vip": True,
        "ticket.satisfaction": "unoffered",  # no survey (surveys)
        "ticket.satisfaction_score": None,
        "event.rated": False,
        "message.body": "internal",
        "message.public": False,
        "message.author_kind": "agent",
        "message.channel": "web",
        "event.type": "message.added",
        "event.via": "web",
        "event.actor_kind": "agent",
        "event.depth": 0,
        "clock.in_business_hours": True,
        "ticket.custom.code": "XT372",
        "ticket.custom.notes": None,
        "ticket.custom.qty": 7,
        "ticket.custom.amount": Decimal("-0.25"),
        "ticket.custom.due": date(2026, 2, 28),
        "ticket.custom.seen": datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC),
        "ticket.custom.ok": False,
        "ticket.custom.pick": "c",
        "ticket.custom.colors": frozenset({"blue", "red"}),
    }
    assert type(facts["ticket.custom.qty"]) is int
    # and a microsecond before its due instant it is not overdue yet
    earlier = ticket_facts(ticket, now=due - timedelta(microseconds=1))
    assert earlier["ticket.overdue"] is False


def test_ticket_facts_without_organization_message_or_event_are_absent(world: Any, make_ticket: Any) -> None:
    from sportello.automation.facts import ticket_facts

    # Given a ticket with no organization, tags or custom values, built with explicit tags
    t = make_ticket(subject="Plain", requester=world.carla, tags=["stored"])

    # When its facts are built with the tags of a change under way
    facts = ticket_facts(t, tags=["new_tag"])

    # Then what it lacks is None, and the given tags win over the stored ones
    assert facts["ticket.tags"] == frozenset({"new_tag"})
    assert facts["requester.domain"] == "sub.example.test"
    assert [facts[f"organization.{k}"] for k in ("name", "tier", "vip")] == [None, None, None]
    assert [facts[f"message.{k}"] for k in ("body", "public", "author_kind", "channel")] == [None] * 4
    assert [facts[f"event.{k}"] for k in ("type", "via", "actor_kind", "depth")] == [None] * 4
    assert all(facts[k] is None for k in facts if k.startswith("ticket.custom."))
    assert "ticket.custom.retired" not in facts
    assert facts["clock.in_business_hours"] is True
    assert facts["ticket.overdue"] is False  # no due date: never overdue


@pytest.mark.parametrize(
    ("email", "domain"),
    [("a@Example.COM", "example.com"), ("odd@x@Sub.Test", "sub.test"), ("no-at-sign", None), ("a@", "")],
)
def test_email_domain_is_the_lower_cased_part_after_the_last_at(email: str, domain: str | None) -> None:
    from sportello.automation.facts import email_domain

    assert email_domain(email) == domain


@pytest.mark.parametrize(
    ("field_type", "raw", "value"),
    [
        (FieldType.NUMBER, 3, 3),
        (FieldType.NUMBER, "1.50", Decimal("1.50")),
        (FieldType.NUMBER, True, None),
        (FieldType.DATE, "2026-02-28", date(2026, 2, 28)),
        (FieldType.DATE, "28/02/2026", None),
        (FieldType.DATETIME, "2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
        (FieldType.DATETIME, "2026-03-01T10:00:00", None),
        (FieldType.BOOLEAN, True, True),
        (FieldType.BOOLEAN, "yes", None),
        (FieldType.SET, ["b", "a"], frozenset({"a", "b"})),
        (FieldType.SET, "a", None),
        (FieldType.TEXT, "", ""),
        (FieldType.TEXT, 5, None),
        (FieldType.CHOICE, None, None),
    ],
)
def test_custom_value_takes_the_condition_type_or_is_absent(
    field_type: FieldType, raw: Any, value: Any
) -> None:
    from sportello.automation.facts import custom_value

    assert custom_value(field_type, raw) == value
