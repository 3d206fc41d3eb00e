"""A survey is armed when a ticket is solved, sent at solve + delay, reminded at most once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sportello.core.actors import Via
from sportello.outbox.models import OutboxMessage
from sportello.surveys.links import survey_token
from sportello.surveys.models import Satisfaction, Survey, SurveyFiring, SurveyState, SurveyTimer
from sportello.surveys.selectors import ticket_satisfaction
from sportello.surveys.services import survey_answer
from sportello.tickets.models import Ticket
from sportello.tickets.services import ticket_update
from survey_helpers import fire, move, set_policy

HOUR = timedelta(hours=1)


def mails(ticket: Any) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(ticket=ticket, kind="email", payload__template__startswith="survey_")
    )


def test_solving_arms_the_survey_with_the_solve_attribution(desk: Any, now: Any, solved: Any) -> None:
    survey = Survey.objects.get(ticket=solved)
    assert survey.state == SurveyState.PENDING
    assert (survey.agent_id, survey.team_id, survey.department_id) == (
        desk.agent.pk,
        desk.team.pk,
        desk.books.pk,
    )
    assert (survey.tier, survey.blueprint_state, survey.solved_at) == ("", "", now)
    (timer,) = SurveyTimer.objects.filter(ticket=solved)
    assert (timer.step, timer.due_at) == ("send", now + HOUR)


def test_the_survey_is_sent_at_the_delay_not_before(desk: Any, now: Any, solved: Any) -> None:
    assert fire(now + timedelta(minutes=59)) == []
    assert mails(solved) == []
    assert fire(now + HOUR) == ["sent"]
    (mail,) = mails(solved)
    survey = Survey.objects.get(ticket=solved)
    assert mail.payload["to"] == ["alice@acme.test"]
    assert mail.payload["subject"] == f"[#{solved.number}] How did we do?"
    token = survey_token(survey)
    assert (
        f"Good, I'm satisfied:\nhttp://127.0.0.1:8000/portal/survey/{token}/rate/2/\n" in mail.payload["body"]
    )
    assert (
        f"Bad, I'm unsatisfied:\nhttp://127.0.0.1:8000/portal/survey/{token}/rate/1/\n"
        in mail.payload["body"]
    )
    assert survey.state == SurveyState.OFFERED
    assert survey.expires_at == now + HOUR + timedelta(days=14)
    assert ticket_satisfaction(solved) == (Satisfaction.OFFERED, None, False)
    # never twice
    assert fire(now + 10 * HOUR) == []
    assert len(mails(solved)) == 1


def test_reopening_before_the_delay_sends_nothing(desk: Any, now: Any, solved: Any) -> None:
    move(desk, solved, "open", now + timedelta(minutes=30))
    assert not SurveyTimer.objects.filter(ticket=solved).exists()
    assert fire(now + 2 * HOUR) == []
    assert mails(solved) == []
    # solving again re-arms it, at the new solve + delay
    move(desk, solved, "solved", now + 3 * HOUR)
    assert SurveyTimer.objects.get(ticket=solved).due_at == now + 4 * HOUR
    assert fire(now + 4 * HOUR) == ["sent"]
    assert len(mails(solved)) == 1


def test_a_ticket_solved_again_after_the_survey_is_not_surveyed_twice(
    desk: Any, now: Any, offered: Any
) -> None:
    ticket = offered.ticket
    move(desk, ticket, "open", now + 2 * HOUR)
    move(desk, ticket, "solved", now + 3 * HOUR)
    assert not SurveyTimer.objects.filter(ticket=ticket, step="send").exists()
    assert fire(now + 5 * HOUR) == []
    assert len(mails(ticket)) == 1


def test_one_reminder_at_most_and_none_once_answered(desk: Any, now: Any, open_ticket: Any) -> None:
    set_policy(desk, now, reminder_hours=24)
    first = move(desk, open_ticket("One"), "solved", now)
    second = move(desk, open_ticket("Two"), "solved", now)
    assert sorted(fire(now + HOUR)) == ["sent", "sent"]
    survey = Survey.objects.get(ticket=second)
    survey_answer(survey=survey, rating=2, now=now + 2 * HOUR)
    assert sorted(fire(now + 25 * HOUR)) == ["sent", "skipped: answered"]
    assert [m.payload["template"] for m in mails(first)] == ["survey_request", "survey_reminder"]
    assert [m.payload["template"] for m in mails(second)] == ["survey_request"]
    assert fire(now + 100 * HOUR) == []
    assert SurveyFiring.objects.filter(ticket=first).count() == 2


def test_a_policy_turned_off_meanwhile_sends_nothing(desk: Any, now: Any, solved: Any) -> None:
    set_policy(desk, now, enabled=False)
    assert fire(now + HOUR) == ["skipped: the department's policy is off"]
    assert mails(solved) == []


def test_no_survey_without_a_policy_nor_for_spam(desk: Any, now: Any, policy: Any, open_ticket: Any) -> None:
    other = move(desk, open_ticket("Elsewhere", department=desk.electronics), "solved", now, by=desk.admin)
    assert not Survey.objects.filter(ticket=other).exists()
    ticket = open_ticket("Buy now")
    ticket_update(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.WEB,
        data={"add_tags": ["spam"], "status": "solved", "version": Ticket.objects.get(pk=ticket.pk).version},
        now=now,
    )
    assert not Survey.objects.filter(ticket=ticket).exists()
    assert not SurveyTimer.objects.exists()


def test_a_requester_without_address_is_surveyed_in_the_portal_only(
    desk: Any, now: Any, open_ticket: Any
) -> None:
    from sportello.contacts.services import contact_create

    caller = contact_create(phone="+39 06 1234567", name="Carla Caller")
    set_policy(desk, now, channels=("email",))
    ticket = move(desk, open_ticket("By phone", requester=caller), "solved", now)
    assert fire(now + HOUR) == ["skipped: the requester has no e-mail address"]
    assert Survey.objects.get(ticket=ticket).state == SurveyState.PENDING
    # with the portal among the channels, the survey is offered there, without an e-mail
    set_policy(desk, now)
    other = move(desk, open_ticket("By phone again", requester=caller), "solved", now)
    assert fire(now + HOUR) == ["offered in the portal"]
    assert Survey.objects.get(ticket=other).state == SurveyState.OFFERED
    assert mails(other) == []
