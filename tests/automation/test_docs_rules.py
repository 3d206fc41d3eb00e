"""`docs/rules.md` is a fixture: every YAML block parses, and the stories behave as told."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sportello.automation.services import load_rules_text, rules_import
from sportello.core.actors import Actor, ActorKind, Via
from sportello.engine.conditions import FIELDS, FieldSpec, FieldType
from sportello.engine.rules import load_yaml
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
SPECS = {**FIELDS, "ticket.custom.product_code": FieldSpec("ticket.custom.product_code", FieldType.TEXT)}


def test_the_page_has_an_example_of_every_kind_of_item() -> None:
    sections = {key for block in BLOCKS for key, items in yaml.safe_load(block).items() if items}
    assert sections >= {"event_rules", "time_rules", "macros", "assignment_policies", "categories"}


@pytest.fixture
def named_records(desk: Any) -> None:
    """The records the page names by key: departments `books` (the desk's), teams `replacements`
    and `billing`, and three agents."""
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create, team_create

    team_create(name="Replacements", department=desk.books)
    team_create(name="Billing", department=desk.books)
    for name in ("adebayo", "caterina", "miriam"):
        agent_create(
            email=f"{name}@desk.example", name=name.title(), role=Role.AGENT, departments=[desk.books]
        )


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_yaml_block_is_a_valid_rules_document(block: str, named_records: None) -> None:
    from sportello.automation.refs import document_to_ids

    data = document_to_ids(load_rules_text(block))
    doc = load_yaml(yaml.safe_dump(data), specs=SPECS)
    assert yaml.safe_load(block)["schema"] == "sportello/rules/v1"
    assert doc is not None


def story_block() -> str:
    return next(b for b in BLOCKS if "key: phone-heats-up" in b)


def test_the_overheating_story_imports_and_behaves_as_described(desk: Any, now: Any) -> None:
    from sportello.accounts.services import team_create

    # given the documented stories, in a desk with a Replacements team (named by its slug)
    replacements = team_create(name="Replacements", department=desk.books, members=[desk.agent])
    data = load_rules_text(story_block())
    data["event_rules"] = [
        r for r in data["event_rules"] if r["key"] in ("phone-heats-up", "team-assigned-mail")
    ]
    assert data["event_rules"][0]["actions"][1] == {"assign": {"team": "replacements"}}
    result = rules_import(data=data, created_by=desk.admin, now=now)
    assert [i.outcome for i in result.items] == ["created", "created"]
    replacements.email = "replacements@desk.test"
    replacements.save()
    # when a customer writes that the phone heats up
    out = pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject="Hot",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Since Monday the phone heats up."),
        fields={"channel": "email"},
        now=now,
    )
    # then it is high priority with the Replacements team, and the team is told
    out.ticket.refresh_from_db()
    assert (out.ticket.priority, out.ticket.team_id) == (3, replacements.pk)
    from sportello.outbox.models import OutboxMessage

    mail = OutboxMessage.objects.get(change_id=out.change_id, kind="email")
    assert mail.payload["to"] == ["replacements@desk.test"]
    assert mail.payload["subject"] == f"[#{out.ticket.number}] Hot is now yours"


def overdue_block() -> str:
    return next(b for b in BLOCKS if "key: overdue-chatty" in b)


def _manager_alerts(ticket_id: int) -> list[str]:
    from sportello.outbox.models import OutboxMessage

    mails = OutboxMessage.objects.filter(ticket_id=ticket_id, kind="email").order_by("id")
    return [m.payload["subject"] for m in mails if m.payload["to"] == ["manager@desk.example"]]


def _customer_writes(desk: Any, ticket: Any, now: Any) -> None:
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=pipeline.Mutation(
            actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
            via=Via.EMAIL,
            message=NewMessage(body="And?"),
        ),
        now=now,
    )


def _overdue_story_ticket(desk: Any, now: Any, due_in: Any) -> Any:
    result = rules_import(data=load_rules_text(overdue_block()), created_by=desk.admin, now=now)
    assert [i.key for i in result.items] == ["overdue-chatty-message", "overdue-chatty"]
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject="Late order",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Where is it?"),
        fields={"due_at": now + due_in},
        now=now,
    ).ticket


def test_the_overdue_recipe_alerts_once_when_the_messages_come_before_the_deadline(
    desk: Any, now: Any
) -> None:
    from datetime import timedelta

    from sportello.automation import timers

    # Given the recipe and a ticket due in a day
    ticket = _overdue_story_ticket(desk, now, timedelta(days=1))
    # When the customer writes ten more times before the deadline (11 customer messages)
    for i in range(10):
        _customer_writes(desk, ticket, now + timedelta(minutes=i + 1))
    ticket.refresh_from_db()
    assert (ticket.customer_message_count, _manager_alerts(ticket.pk)) == (11, [])
    # Then the manager is alerted when the deadline passes
    timers.timers_fire_due(now=now + timedelta(days=1, seconds=5))
    assert _manager_alerts(ticket.pk) == [f"Overdue and long: #{ticket.number}"]
    # and not again on the next message
    _customer_writes(desk, ticket, now + timedelta(days=1, hours=1))
    assert _manager_alerts(ticket.pk) == [f"Overdue and long: #{ticket.number}"]


def test_the_overdue_recipe_alerts_once_when_the_messages_come_after_the_deadline(
    desk: Any, now: Any
) -> None:
    from datetime import timedelta

    from sportello.automation import timers

    # Given the recipe and a ticket due in an hour, with five customer messages by then
    ticket = _overdue_story_ticket(desk, now, timedelta(hours=1))
    for i in range(4):
        _customer_writes(desk, ticket, now + timedelta(minutes=i + 1))
    # When the deadline passes (the time rule's condition is false: nothing)
    timers.timers_fire_due(now=now + timedelta(hours=1, seconds=5))
    assert _manager_alerts(ticket.pk) == []
    # and the customer writes on after it
    for i in range(5):
        _customer_writes(desk, ticket, now + timedelta(hours=2, minutes=i))
    ticket.refresh_from_db()
    assert (ticket.customer_message_count, _manager_alerts(ticket.pk)) == (10, [])
    # Then the eleventh customer message alerts the manager, once
    _customer_writes(desk, ticket, now + timedelta(hours=3))
    assert _manager_alerts(ticket.pk) == [f"Overdue and long: #{ticket.number}"]
    _customer_writes(desk, ticket, now + timedelta(hours=4))
    assert _manager_alerts(ticket.pk) == [f"Overdue and long: #{ticket.number}"]
