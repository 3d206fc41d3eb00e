"""The satisfaction survey in a real browser: the agent solves a ticket, the survey's timer fires
and its e-mail reaches the SMTP sink; the customer clicks "Bad" in it, lands on the thank-you
page, adds a comment; the bad rating has told the manager (a rule) and reopened the ticket; the
agent sees the rating in the ticket's customer panel. Zero axe-core violations; fits 390 px."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .axe import assert_accessible
from .pages import no_sideways_overflow

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def _bad_rating_rule(desk: Any, manager: Any) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.core import clock

    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "bad-rating",
            "name": "Bad rating: tell the manager and reopen",
            "when": {"all": [{"field": "event.rated", "op": "is", "value": True},
                             {"field": "ticket.satisfaction", "op": "is", "value": "bad"}]},
            "actions": [
                {"notify": {"to": [f"agent:{manager.pk}"], "subject": "Bad rating on #{{ ticket.number }}",
                            "body": "{{ requester.name }} rated #{{ ticket.number }} badly."}},
                {"set": {"field": "ticket.status", "value": "open"}},
            ],
        },
        created_by=desk.admin,
        now=clock.now(),
    )  # fmt: skip


def test_a_bad_rating_from_the_email_reaches_the_manager(
    desk: Any, page: Any, phone_page: Any, sign_in: Any, url: Any, sink: Any, settings: Any
) -> None:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.outbox.models import OutboxMessage
    from sportello.outbox.services import outbox_deliver
    from sportello.surveys.policies import PolicyIn, survey_policy_save
    from sportello.surveys.services import survey_fire_due
    from sportello.tickets.models import Ticket
    from sportello.tickets.services import ticket_open, ticket_update

    # given Books surveys solved tickets at once, and a rule for bad ratings
    settings.SPORTELLO = {**settings.SPORTELLO, "PUBLIC_URL": url("").rstrip("/")}
    manager = agent_create(
        email="mara@desk.test", name="Mara Manager", role=Role.AGENT, departments=[desk.books]
    )
    survey_policy_save(
        actor=desk.admin, department_id=desk.books.pk, now=clock.now(),
        data=PolicyIn(enabled=True, delay_minutes=0, channels=("email", "portal"), ask_ces=True),
    )  # fmt: skip
    _bad_rating_rule(desk, manager)
    ticket = ticket_open(
        principal=desk.agent, via=Via.WEB, now=clock.now(),
        data={"subject": "Parcel never arrived", "description": "Where is it?",
              "department_id": desk.books.pk, "requester_id": desk.alice.pk, "assignee_id": desk.agent.pk},
    ).ticket  # fmt: skip
    # when the agent solves it and the worker fires the survey's timer
    ticket_update(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, now=clock.now(),
        data={"status": "solved", "version": Ticket.objects.get(pk=ticket.pk).version},
    )  # fmt: skip
    assert survey_fire_due(now=clock.now() + timedelta(seconds=1)) == ["sent"]
    (item,) = OutboxMessage.objects.filter(ticket=ticket, payload__template="survey_request")
    outbox_deliver(outbox_id=item.pk, now=clock.now() + timedelta(seconds=2))
    # then the survey arrives at the SMTP sink, with one link per rating
    (got,) = sink.received
    mail = got.parsed()
    assert mail["Subject"] == f"[#{ticket.number}] How did we do?"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    bad = re.search(r"Bad, I'm unsatisfied:\n(\S+)", body)
    assert bad is not None, body
    # when the customer clicks "Bad"
    page.goto(bad.group(1), timeout=90_000)
    expect(page.get_by_role("heading", name="Thank you for your rating!")).to_be_visible()
    assert_accessible(page, context="the thank-you page")
    # then the manager was told and the ticket reopened
    (told,) = OutboxMessage.objects.filter(ticket=ticket, payload__to=["mara@desk.test"])
    assert told.payload["subject"] == f"Bad rating on #{ticket.number}"
    assert Ticket.objects.get(pk=ticket.pk).status_category == "open"
    # and the customer adds a comment and how easy it was
    page.get_by_label("Anything you'd like to add? (optional)").fill("Three weeks and no parcel.")
    page.get_by_role("radio", name="2", exact=True).first.check()
    page.get_by_role("button", name="Save my answer").click(timeout=90_000)
    expect(page.get_by_text("Your answer is saved")).to_be_visible(timeout=90_000)
    assert_accessible(page, context="the saved answer")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "survey-thanks.png"), full_page=True)
    # on a phone the page fits
    phone_page.goto(bad.group(1), timeout=90_000)
    expect(phone_page.get_by_role("heading", name="Thank you for your rating!")).to_be_visible()
    no_sideways_overflow(phone_page)
    phone_page.screenshot(path=str(SHOTS / "survey-phone.png"), full_page=True)
    # the agent sees the rating and the comment in the customer panel
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"), timeout=90_000)
    panel = page.locator("#ticket-satisfaction")
    expect(panel).to_contain_text("Bad")
    expect(panel).to_contain_text("Three weeks and no parcel.")
    assert_accessible(page, context="the ticket with its rating")


def test_the_console_contact_page_lists_the_customers_answers(
    desk: Any, page: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.surveys.models import Survey
    from sportello.surveys.policies import PolicyIn, survey_policy_save
    from sportello.surveys.services import survey_answer, survey_fire_due
    from sportello.tickets.models import Ticket
    from sportello.tickets.services import ticket_open, ticket_update

    # given Alice rated a solved Books ticket 2 of 5 with a comment
    survey_policy_save(
        actor=desk.admin, department_id=desk.books.pk, now=clock.now(),
        data=PolicyIn(enabled=True, delay_minutes=0, channels=("portal",), scale="five"),
    )  # fmt: skip
    ticket = ticket_open(
        principal=desk.agent, via=Via.WEB, now=clock.now(),
        data={"subject": "Torn cover", "description": "The cover is torn.",
              "department_id": desk.books.pk, "requester_id": desk.alice.pk},
    ).ticket  # fmt: skip
    ticket_update(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, now=clock.now(),
        data={"status": "solved", "version": Ticket.objects.get(pk=ticket.pk).version},
    )  # fmt: skip
    assert survey_fire_due(now=clock.now() + timedelta(seconds=1)) == ["offered in the portal"]
    survey_answer(survey=Survey.objects.get(ticket=ticket), rating=2, comment="Slow replacement.",
                  now=clock.now() + timedelta(seconds=2))  # fmt: skip
    # when an admin opens Alice in the Console
    sign_in(page, desk.admin)
    page.goto(url(f"/console/people/contacts/{desk.alice.pk}/"), timeout=90_000)
    # then her answer is listed with its rating, comment and ticket
    answers = page.locator("#contact-satisfaction")
    expect(answers.get_by_role("heading", name="Satisfaction")).to_be_visible()
    row = answers.get_by_role("row").nth(1)
    expect(row).to_contain_text("2/5 · Bad")
    expect(row).to_contain_text("Slow replacement.")
    assert_accessible(page, context="the contact's survey answers")
    # and the ticket link opens the ticket, whose customer panel shows the same rating
    row.get_by_role("link", name=f"#{ticket.number}").click(timeout=90_000)
    expect(page.locator("#ticket-satisfaction")).to_contain_text("2/5 · Bad")
    # on a phone the contact page fits
    sign_in(phone_page, desk.admin)
    phone_page.goto(url(f"/console/people/contacts/{desk.alice.pk}/"), timeout=90_000)
    expect(phone_page.locator("#contact-satisfaction")).to_contain_text("Slow replacement.")
    no_sideways_overflow(phone_page)
