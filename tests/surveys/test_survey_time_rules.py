"""Satisfaction in time rules and the cost of the satisfaction facts.

"A day after the solve, a ticket rated bad gets the tag `unhappy` and its manager a note": the
time rule's condition names `ticket.satisfaction`, re-checked when its step fires, and the
rule's preview (a database filter) selects the same tickets. The facts are read only for rule
sets that name them: a change under rules that do not pays no survey query."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.accounts.models import Role
from sportello.accounts.services import agent_create
from sportello.automation import timers
from sportello.automation.api.timers import time_rule_preview
from sportello.automation.models import RuleKind, Timer
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.outbox.models import OutboxMessage
from sportello.surveys.models import Survey
from sportello.surveys.services import survey_answer
from sportello.tickets import pipeline
from sportello.tickets.models import Ticket, TicketTag
from sportello.tickets.pipeline import Mutation
from survey_helpers import fire, move

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _fresh_rule_caches() -> None:
    timers.forget_parsed_rules()


@pytest.fixture
def manager(desk: Any) -> Any:
    return agent_create(
        email="mara@desk.test", name="Mara Manager", role=Role.AGENT, departments=[desk.books]
    )


@pytest.fixture
def unhappy_rule(desk: Any, now: datetime, manager: Any) -> Any:
    rule, _ = rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": "unhappy",
            "name": "Rated bad a day after the solve",
            "anchor": "status_entered:solved",
            "when": {"field": "ticket.satisfaction", "op": "is", "value": "bad"},
            "steps": [
                {
                    "after": "1d",
                    "actions": [
                        {"add_tags": ["unhappy"]},
                        {"notify": {"to": [f"agent:{manager.pk}"], "subject": "Unhappy #{{ ticket.number }}",
                                    "body": "Rated {{ ticket.satisfaction }}."}},
                    ],
                }
            ],
        },
        created_by=desk.admin,
        now=now,
    )  # fmt: skip
    return rule


def tags(ticket: Any) -> set[str]:
    return set(TicketTag.objects.filter(ticket=ticket).values_list("name", flat=True))


def test_a_bad_rating_is_tagged_a_day_after_the_solve_and_a_good_one_is_not(
    desk: Any, now: datetime, unhappy_rule: Any, policy: Any, open_ticket: Any
) -> None:
    # Given two tickets solved now, whose surveys go out an hour later
    bad = move(desk, open_ticket("Broken"), "solved", now)
    good = move(desk, open_ticket("Fine"), "solved", now)
    assert fire(now + HOUR) == ["sent", "sent"]
    # and answered bad and good an hour after that
    survey_answer(survey=Survey.objects.get(ticket=bad), rating=1, now=now + 2 * HOUR)
    survey_answer(survey=Survey.objects.get(ticket=good), rating=2, now=now + 2 * HOUR)
    # When the day since the solve has passed
    assert timers.timers_fire_due(now=now + DAY - timedelta(seconds=1)) == []
    armed = dict(Timer.objects.filter(rule=unhappy_rule).values_list("id", "ticket_id"))
    outcomes = {armed[f.timer_id]: f.outcome for f in timers.timers_fire_due(now=now + DAY)}
    # Then the bad one is tagged and the manager told; the good one is left alone
    assert outcomes == {bad.pk: "applied", good.pk: "conditions_false"}
    assert "unhappy" in tags(bad)
    assert "unhappy" not in tags(good)
    (mail,) = OutboxMessage.objects.filter(payload__to=["mara@desk.test"])
    assert mail.ticket_id == bad.pk
    assert mail.payload["subject"] == f"Unhappy #{bad.number}"
    assert mail.payload["body"] == "Rated bad."


def test_the_preview_selects_the_tickets_rated_bad_with_a_database_filter(
    desk: Any, now: datetime, unhappy_rule: Any, policy: Any, open_ticket: Any
) -> None:
    # Given three solved tickets: rated bad, rated good, offered and unanswered
    bad = move(desk, open_ticket("Broken"), "solved", now)
    good = move(desk, open_ticket("Fine"), "solved", now)
    silent = move(desk, open_ticket("Quiet"), "solved", now)
    assert fire(now + HOUR) == ["sent", "sent", "sent"]
    survey_answer(survey=Survey.objects.get(ticket=bad), rating=1, now=now + 2 * HOUR)
    survey_answer(survey=Survey.objects.get(ticket=good), rating=2, now=now + 2 * HOUR)
    # When the rule's firings of the next two days are previewed
    preview = time_rule_preview(user=desk.admin, key="unhappy", now=now + 2 * HOUR, hours=48, limit=10)
    # Then only the ticket rated bad would fire
    assert [i["ticket_id"] for i in preview["items"]] == [bad.pk]
    assert silent.pk not in [i["ticket_id"] for i in preview["items"]]


def event_rule(desk: Any, now: datetime, key: str, when: dict[str, Any]) -> None:
    rule_save(
        kind=RuleKind.EVENT,
        definition={"key": key, "name": key, "when": when, "actions": [{"add_tags": [key]}]},
        created_by=desk.admin,
        now=now,
    )


def change_priority(desk: Any, ticket: Any, priority: str, now: datetime) -> tuple[int, int]:
    """The priority changed by the agent: (statements, of which on the surveys table)."""
    agent = Actor(ActorKind.AGENT, desk.agent.pk, desk.agent.name)
    mutation = Mutation(actor=agent, via=Via.WEB, fields={"priority": priority})
    with CaptureQueriesContext(connection) as ctx:
        pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=now)
    sqls = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return len(sqls), sum('"surveys_survey"' in s for s in sqls)


def test_rules_that_do_not_name_satisfaction_do_not_read_the_survey(
    desk: Any, now: datetime, offered: Survey
) -> None:
    # Given an active event rule on the subject only
    event_rule(desk, now, "subject-x", {"field": "ticket.subject", "op": "is", "value": "x"})
    ticket = Ticket.objects.get(pk=offered.ticket_id)
    change_priority(desk, ticket, "low", now + 2 * HOUR)  # warm the per-process caches
    # When the agent changes the ticket
    without, survey_reads = change_priority(desk, ticket, "high", now + 3 * HOUR)
    # Then the rules' facts did not read the ticket's survey
    assert survey_reads == 0
    # Given a second rule, on the satisfaction (it does not fire: the survey is unanswered)
    event_rule(desk, now, "rated-bad", {"field": "ticket.satisfaction", "op": "is", "value": "bad"})
    change_priority(desk, ticket, "low", now + 4 * HOUR)  # warm: the new rule set is parsed once
    # When the agent changes the ticket again
    with_it, survey_reads = change_priority(desk, ticket, "high", now + 5 * HOUR)
    # Then the survey is read once: the one statement the satisfaction facts cost
    assert survey_reads == 1
    assert with_it == without + 1
    assert not {"subject-x", "rated-bad"} & tags(ticket)


def test_a_rule_naming_satisfaction_sees_the_stored_one_read_once_per_change(
    desk: Any, now: datetime, offered: Survey
) -> None:
    # Given a rule on an offered, unanswered survey
    event_rule(desk, now, "awaiting", {"field": "ticket.satisfaction", "op": "is", "value": "offered"})
    ticket = Ticket.objects.get(pk=offered.ticket_id)
    # When the agent changes the ticket
    _, survey_reads = change_priority(desk, ticket, "high", now + 2 * HOUR)
    # Then the rule saw the offered survey and fired; the facts built again after its action
    # did not read the survey again
    assert "awaiting" in tags(ticket)
    assert survey_reads == 1


def test_a_rule_naming_satisfaction_sees_it_when_the_rating_arrives(
    desk: Any, now: datetime, offered: Survey
) -> None:
    # Given a rule on the rating itself (the change that records it: no survey read needed)
    event_rule(desk, now, "rated-good", {"all": [
        {"field": "event.rated", "op": "is", "value": True},
        {"field": "ticket.satisfaction_score", "op": "gte", "value": 2},
    ]})  # fmt: skip
    # When the customer rates the support good
    survey_answer(survey=offered, rating=2, now=now + 2 * HOUR)
    # Then the rule saw the rating
    assert "rated-good" in tags(offered.ticket)
