"""The Console's contact page lists the contact's survey answers: the rating (with the labels of
the Desk's customer panel), the comment, the ticket and when; newest first, a fixed number of
statements however many there are, only the contact's own and only for admins."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.accounts.services import agent_create
from sportello.surveys.models import Survey
from sportello.surveys.selectors import contact_ratings
from sportello.surveys.services import survey_answer
from survey_helpers import fire, move, set_policy

HOUR = timedelta(hours=1)
# session, user, the contact, its likely duplicates, the answers with their tickets (one query
# however many), the organizations of the form's choice
CONTACT_PAGE = 6


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def rated(
    desk: Any, now: datetime, open_ticket: Any, subject: str, rating: int, comment: str = "", **kw: Any
) -> Survey:
    """A ticket of `requester` (Alice by default) solved, surveyed and rated."""
    ticket = move(desk, open_ticket(subject, **kw), "solved", now)
    fire(now + HOUR)
    survey, _ = survey_answer(survey=Survey.objects.get(ticket=ticket), rating=rating, comment=comment,
                              now=now + 2 * HOUR)  # fmt: skip
    return survey


def page(desk: Any, browser: Any, contact: Any) -> str:
    r = browser(desk.admin).get(f"/console/people/contacts/{contact.pk}/")
    assert r.status_code == 200
    return str(r.content.decode())


def test_the_contact_page_lists_the_answers_newest_first(
    desk: Any, now: datetime, browser: Any, open_ticket: Any
) -> None:
    # Given Alice's two answers (one on each scale) and Bob's one
    set_policy(desk, now)
    first = rated(desk, now, open_ticket, "Broken screen", 1, "Nobody called back")
    set_policy(desk, now, scale="five", ask_nps=True)
    second = rated(desk, now + HOUR, open_ticket, "Late parcel", 4)
    survey_answer(survey=second, rating=4, nps=9, now=now + 4 * HOUR)  # changed: now newest
    rated(desk, now, open_ticket, "Bob's issue", 2, "Bob is happy", requester=desk.bob)
    # When an admin opens Alice's page
    html = page(desk, browser, desk.alice)
    # Then her answers are listed, newest first, with the panel's labels and the ticket links
    section = html[html.index('id="contact-satisfaction"') :]
    assert '<h2 id="satisfaction-title">Satisfaction</h2>' in section
    assert section.index("4/5 · Good") < section.index("Bad</span>")
    assert '<span class="badge survey-good">4/5 · Good</span>' in section
    assert "recommend 9/10" in section
    assert '<span class="badge survey-bad">Bad</span>' in section
    assert '<span class="survey-comment">Nobody called back</span>' in section
    assert f'<a href="/tickets/{first.ticket_id}/">#{first.ticket.number}</a>' in section
    assert f'<a href="/tickets/{second.ticket_id}/">#{second.ticket.number}</a>' in section
    assert "Bob is happy" not in section


def test_a_contact_without_answers_shows_the_empty_state(desk: Any, browser: Any) -> None:
    html = page(desk, browser, desk.alice)
    assert "No ratings from this customer yet." in html


def test_the_page_costs_a_fixed_number_of_statements(
    desk: Any, now: datetime, browser: Any, open_ticket: Any
) -> None:
    # Given one answer
    set_policy(desk, now)
    rated(desk, now, open_ticket, "One", 2)
    client = browser(desk.admin)
    url = f"/console/people/contacts/{desk.alice.pk}/"
    client.get(url)  # warm the session's first read
    assert count(lambda: client.get(url)) == CONTACT_PAGE
    # When there are five
    for i in range(4):
        rated(desk, now + i * HOUR, open_ticket, f"More {i}", 1 + i % 2)
    # Then the page costs the same
    assert count(lambda: client.get(url)) == CONTACT_PAGE
    assert client.get(url).content.decode().count('class="badge survey-') == 5


def test_agents_may_not_open_it_and_see_only_their_departments_answers(
    desk: Any, now: datetime, browser: Any, open_ticket: Any
) -> None:
    # Given an answer on a Books ticket
    set_policy(desk, now)
    survey = rated(desk, now, open_ticket, "Books", 1)
    # Then the Console's page is for admins only
    assert browser(desk.agent).get(f"/console/people/contacts/{desk.alice.pk}/").status_code == 403
    # and the selector shows the answer to admins and Books agents, not to an agent elsewhere
    other = agent_create(email="eli@desk.test", name="Eli", departments=[desk.electronics])
    assert contact_ratings(user=desk.admin, contact_id=desk.alice.pk) == [survey]
    assert contact_ratings(user=desk.agent, contact_id=desk.alice.pk) == [survey]
    assert contact_ratings(user=other, contact_id=desk.alice.pk) == []
