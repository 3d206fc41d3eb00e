"""A rule's `notify` action with a `template`, through the real pipeline, and the hourly limit of
automatic notifications to one customer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.notifications.limits import (
    customer_notification_allowed,
    customer_notification_claim,
    customer_notifications_prune,
)
from sportello.notifications.models import CustomerNotification
from sportello.notifications.services import template_save
from sportello.outbox.models import OutboxMessage
from sportello.tickets import pipeline
from sportello.tickets.models import TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import NOW, recorded

ON_CREATION = {"all": [{"field": "event.type", "op": "is", "value": "ticket.created"}]}


def rule(desk: Any, key: str, notify: dict[str, Any], when: Any = ON_CREATION) -> Any:
    definition = {"key": key, "name": key, "when": when, "actions": [{"notify": notify}]}
    return rule_save(kind=RuleKind.EVENT, definition=definition, created_by=desk.admin, now=NOW)[0]


def mails(ticket: Any) -> list[dict[str, Any]]:
    return [m.payload for m in OutboxMessage.objects.filter(ticket=ticket, kind="email").order_by("id")]


def test_a_spanish_customer_gets_the_spanish_acknowledgement(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    # given a rule that acknowledges every new ticket with the `ticket_received` template
    rule(desk, "ack", {"to": ["requester"], "template": "ticket_received"})
    # when a Spanish customer opens a ticket
    ticket = open_ticket(carmen, subject="Paquete perdido").ticket
    # then the outbox holds the Spanish text, rendered on the created ticket
    (mail,) = mails(ticket)
    assert mail["to"] == ["carmen@cliente.test"]
    assert mail["subject"] == f"[#{ticket.number}] Hemos recibido su solicitud: Paquete perdido"
    assert mail["body"].startswith("Hola, Carmen Ruiz:\n\nGracias por contactar con nosotros.")
    assert mail["html"].startswith("<p>Hola, Carmen Ruiz:</p>")
    assert (mail["language"], mail["template"], mail["rule"]) == ("es", "ticket_received", "ack@1")


def test_each_recipient_reads_the_template_in_their_language(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    desk.agent.language = "it"
    desk.agent.save(update_fields=["language"])
    rule(desk, "both", {"to": ["requester", f"agent:{desk.agent.pk}", "address:ops@desk.test"],
                        "template": "status_changed"})  # fmt: skip
    ticket = open_ticket(carmen).ticket
    got = [(m["to"], m["language"], m["subject"]) for m in mails(ticket)]
    assert got == [
        (["carmen@cliente.test"], "es", f"[#{ticket.number}] Actualización de estado: Nuevo"),
        (["bruno@desk.test"], "it", f"[#{ticket.number}] Aggiornamento di stato: Nuovo"),
        (["ops@desk.test"], "en", f"[#{ticket.number}] Status update: New"),
    ]


def test_an_inline_subject_replaces_the_templates_and_an_unknown_template_keeps_inline_texts(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    rule(
        desk,
        "a",
        {"to": ["requester"], "template": "ticket_received", "subject": "Nuevo: {{ ticket.subject }}"},
    )
    rule(desk, "b", {"to": ["requester"], "template": "not_a_template", "subject": "S", "body": "B"})
    ticket = open_ticket(carmen, subject="Hola").ticket
    first, second = mails(ticket)
    assert (first["subject"], first["language"]) == ("Nuevo: Hola", "es")
    assert first["body"].startswith("Hola, Carmen Ruiz:")
    assert second == {
        "to": ["carmen@cliente.test"], "subject": "S", "body": "B", "ticket_number": ticket.number,
        "rule": "b@1", "template": "not_a_template",
    }  # fmt: skip


def test_an_admins_override_is_what_the_rule_sends(desk: Any, carmen: Any, open_ticket: Any) -> None:
    template_save(
        key="ticket_received", language="es", subject="Recibido #{{ ticket.number }}",
        body_text="Gracias.", actor=desk.admin, now=NOW,
    )  # fmt: skip
    rule(desk, "ack", {"to": ["requester"], "template": "ticket_received"})
    ticket = open_ticket(carmen).ticket
    assert [(m["subject"], m["body"]) for m in mails(ticket)] == [(f"Recibido #{ticket.number}", "Gracias.")]


def test_agent_reply_template_carries_the_public_message_never_an_internal_note(
    desk: Any, carmen: Any, open_ticket: Any
) -> None:
    rule(
        desk, "wrap", {"to": ["address:audit@desk.test"], "template": "agent_reply"},
        when={"all": [{"field": "event.type", "op": "is", "value": "message.added"}]},
    )  # fmt: skip
    ticket = open_ticket(carmen).ticket
    agent = Actor(ActorKind.AGENT, desk.agent.pk, "Bruno")
    for public, body in ((True, "Ya está."), (False, "secret note")):
        mutation = Mutation(actor=agent, via=Via.WEB, message=NewMessage(body=body, public=public))
        pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=NOW)
    bodies = [m["body"] for m in mails(ticket) if m.get("template") == "agent_reply"]
    assert bodies[0].startswith("Ya está.\n\n--\nBruno Books\nBooks\n")
    assert bodies[1].startswith("\n\n--\n")  # an internal note's text never reaches the template
    assert all("secret" not in m["body"] for m in mails(ticket))


# -- the hourly limit


def test_the_limit_counts_an_address_in_the_last_hour(db: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "CUSTOMER_NOTIFICATIONS_PER_HOUR": 2}
    assert customer_notification_claim(email="A@x.test", ticket_number=1, now=NOW)
    assert customer_notification_claim(email="a@x.test", ticket_number=2, now=NOW + timedelta(minutes=30))
    assert not customer_notification_allowed(email="a@X.test", now=NOW + timedelta(minutes=59))
    assert not customer_notification_claim(email="a@x.test", ticket_number=3, now=NOW + timedelta(minutes=59))
    assert customer_notification_allowed(email="b@x.test", now=NOW + timedelta(minutes=59))
    # an hour after the first, one slot is free again
    assert customer_notification_allowed(email="a@x.test", now=NOW + timedelta(hours=1))
    assert CustomerNotification.objects.count() == 2
    assert customer_notifications_prune(now=NOW + timedelta(days=1, minutes=1)) == 1


def test_the_default_limit_is_ten_an_hour(db: Any) -> None:
    for minute in range(10):
        assert customer_notification_claim(
            email="c@x.test", ticket_number=1, now=NOW + timedelta(minutes=minute)
        )
    assert not customer_notification_allowed(email="c@x.test", now=NOW + timedelta(minutes=10))


@pytest.fixture
def limit_of_two(settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "CUSTOMER_NOTIFICATIONS_PER_HOUR": 2}


def test_automatic_notifications_past_the_limit_are_not_queued_and_say_why(
    desk: Any, carmen: Any, open_ticket: Any, limit_of_two: None
) -> None:
    # given a rule that notifies the requester and an agent of every new ticket
    rule(desk, "ack", {"to": ["requester", f"agent:{desk.agent.pk}"], "template": "ticket_received"})
    # when the customer opens three tickets within the hour
    tickets = [open_ticket(carmen, now=NOW + timedelta(minutes=m)).ticket for m in (0, 10, 20)]
    # then the first two reach the customer; the third only the agent
    assert [[m["to"] for m in mails(t)] for t in tickets] == [
        [["carmen@cliente.test"], ["bruno@desk.test"]],
        [["carmen@cliente.test"], ["bruno@desk.test"]],
        [["bruno@desk.test"]],
    ]
    # and the third ticket records the suppression, made by the limit, caused by the rule
    (event,) = TicketEvent.objects.filter(ticket=tickets[2], kind="notification")
    assert (event.field, event.actor_kind, event.cause, event.via) == (
        "suppressed", "system", "rule:ack@1", "system"
    )  # fmt: skip
    assert event.new_value == {
        "to": "carmen@cliente.test",
        "reason": "over the limit of 2 automatic notifications an hour to this customer",
        "rule": "ack@1",
        "template": "ticket_received",
    }
    assert not TicketEvent.objects.filter(ticket__in=tickets[:2], kind="notification").exists()
    # an hour after the first, the customer is notified again
    later = open_ticket(carmen, now=NOW + timedelta(minutes=61)).ticket
    assert [m["to"] for m in mails(later)] == [["carmen@cliente.test"], ["bruno@desk.test"]]


def test_agents_replies_are_not_limited_nor_counted(
    desk: Any, carmen: Any, open_ticket: Any, limit_of_two: None
) -> None:
    ticket = open_ticket(carmen).ticket
    agent = Actor(ActorKind.AGENT, desk.agent.pk, "Bruno")
    for i in range(3):
        mutation = Mutation(actor=agent, via=Via.WEB, message=NewMessage(body=f"reply {i}"))
        pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=NOW + timedelta(minutes=i))
    # each reply went out, wrapped in the `agent_reply` template (the text before its signature)
    assert [m["body"].split("\n\n--\n")[0] for m in mails(ticket)] == ["reply 0", "reply 1", "reply 2"]
    assert not CustomerNotification.objects.exists()
    assert customer_notification_allowed(email="carmen@cliente.test", now=NOW + timedelta(minutes=5))


def test_a_customer_named_by_address_is_limited_but_other_addresses_are_not(
    desk: Any, carmen: Any, open_ticket: Any, limit_of_two: None
) -> None:
    rule(
        desk,
        "cc",
        {"to": ["address:carmen@cliente.test", "address:ops@desk.test"], "subject": "S", "body": "B"},
    )
    tickets = [open_ticket(desk.alice, now=NOW + timedelta(minutes=m)).ticket for m in (0, 1, 2)]
    assert [[m["to"] for m in mails(t)] for t in tickets] == [
        [["carmen@cliente.test", "ops@desk.test"]],
        [["carmen@cliente.test", "ops@desk.test"]],
        [["ops@desk.test"]],
    ]


def test_a_notification_left_with_no_recipient_is_not_queued(
    desk: Any, carmen: Any, open_ticket: Any, limit_of_two: None
) -> None:
    rule(desk, "ack", {"to": ["requester"], "template": "ticket_received"})
    tickets = [open_ticket(carmen, now=NOW + timedelta(minutes=m)).ticket for m in (0, 1, 2)]
    assert [len(mails(t)) for t in tickets] == [1, 1, 0]
    assert TicketEvent.objects.filter(ticket=tickets[2], kind="notification", field="suppressed").count() == 1


def test_a_suppression_on_an_existing_ticket_is_recorded_in_its_change(
    desk: Any, carmen: Any, open_ticket: Any, limit_of_two: None
) -> None:
    rule(
        desk, "on-priority", {"to": ["requester"], "template": "status_changed"},
        when={"all": [{"field": "ticket.priority", "op": "changed"}]},
    )  # fmt: skip
    ticket = open_ticket(carmen).ticket
    agent = Actor(ActorKind.AGENT, desk.agent.pk, "Bruno")
    outcomes = [
        pipeline.ticket_apply(
            ticket_id=ticket.pk, mutation=Mutation(actor=agent, via=Via.WEB, fields={"priority": p}), now=NOW
        )
        for p in ("high", "low", "urgent")
    ]
    # the creation (its priority set) and the first change are notified; the next two are not
    assert len(mails(ticket)) == 2
    events = TicketEvent.objects.filter(ticket=ticket, kind="notification").order_by("id")
    assert [e.change_id for e in events] == [outcomes[1].change_id, outcomes[2].change_id]


def test_a_macros_notification_past_the_limit_is_recorded_too(
    desk: Any, carmen: Any, open_ticket: Any, api: Any, settings: Any
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "CUSTOMER_NOTIFICATIONS_PER_HOUR": 0}
    macro = {
        "key": "tested",
        "name": "Solution under test",
        "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"notify": {"to": ["requester", "assignee"], "template": "solution_under_test"}}],
    }
    assert api(desk.admin).post("/macros", macro).status_code == 201
    ticket = open_ticket(carmen).ticket
    r = api(desk.agent).post("/macros/tested/apply", {"ticket_id": ticket.pk})
    assert r.status_code == 200, r.content
    assert mails(ticket) == []  # nobody left: unassigned, and the customer over the limit
    (event,) = TicketEvent.objects.filter(ticket=ticket, kind="notification")
    assert (event.field, event.cause, recorded(event)["to"]) == (
        "suppressed", "macro:tested@1", "carmen@cliente.test"
    )  # fmt: skip
