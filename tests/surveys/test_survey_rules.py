"""Rules act on ratings: "a bad rating → tell the manager and reopen the ticket"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.accounts.models import Role
from sportello.accounts.services import agent_create
from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.outbox.models import OutboxMessage
from sportello.surveys.models import Survey
from sportello.surveys.selectors import ticket_satisfaction
from sportello.surveys.services import survey_answer
from sportello.tickets.models import Ticket, TicketEvent

HOUR = timedelta(hours=1)


@pytest.fixture
def manager(desk: Any) -> Any:
    return agent_create(
        email="mara@desk.test", name="Mara Manager", role=Role.AGENT, departments=[desk.books]
    )


@pytest.fixture
def bad_rating_rule(desk: Any, now: Any, manager: Any) -> Any:
    rule, _ = rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "bad-rating",
            "name": "A bad rating: tell the manager, reopen",
            "when": {
                "all": [
                    {"field": "event.rated", "op": "is", "value": True},
                    {"field": "ticket.satisfaction", "op": "is", "value": "bad"},
                ]
            },
            "actions": [
                {
                    "notify": {
                        "to": [f"agent:{manager.pk}"],
                        "subject": "Bad rating on #{{ ticket.number }}",
                        "body": "{{ requester.name }} rated #{{ ticket.number }} badly.",
                    }
                },
                {"set": {"field": "ticket.status", "value": "open"}},
            ],
        },
        created_by=desk.admin,
        now=now,
    )
    return rule


def manager_mails(ticket: Any) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(ticket=ticket, payload__to=["mara@desk.test"]))


def test_a_bad_rating_notifies_the_manager_and_reopens(
    offered: Survey, now: Any, bad_rating_rule: Any
) -> None:
    survey_answer(survey=offered, rating=1, comment="Nobody answered", now=now + 2 * HOUR)
    (mail,) = manager_mails(offered.ticket)
    assert mail.payload["subject"] == f"Bad rating on #{offered.ticket.number}"
    assert Ticket.objects.get(pk=offered.ticket_id).status_category == "open"
    (rating,) = TicketEvent.objects.filter(ticket=offered.ticket, kind="rating")
    status = TicketEvent.objects.get(
        ticket=offered.ticket, kind="field", field="status", change_id=rating.change_id
    )
    assert status.cause.startswith("rule:bad-rating@")


def test_a_good_rating_or_a_later_change_does_not_fire_it(
    desk: Any, offered: Survey, now: Any, bad_rating_rule: Any
) -> None:
    survey_answer(survey=offered, rating=2, now=now + 2 * HOUR)
    assert manager_mails(offered.ticket) == []
    assert Ticket.objects.get(pk=offered.ticket_id).status_category == "solved"
    assert ticket_satisfaction(offered.ticket) == ("good", 2, False)


def test_the_satisfaction_facts(desk: Any, now: Any, solved: Any, open_ticket: Any) -> None:
    assert ticket_satisfaction(open_ticket("Not solved")) == ("unoffered", None, False)
    assert ticket_satisfaction(solved) == ("unoffered", None, False)  # armed, not sent yet
