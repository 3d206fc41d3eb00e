"""The survey's pages: one click records a rating once, the thank-you page takes a comment;
tampered, foreign, expired links and values out of scale record nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.surveys.links import survey_token
from sportello.surveys.models import Survey
from sportello.tickets.models import TicketEvent
from survey_helpers import fire, move, set_policy

HOUR = timedelta(hours=1)


@pytest.fixture
def at(monkeypatch: Any, now: Any) -> Any:
    from testing import hand_clock

    return hand_clock(monkeypatch, now + 2 * HOUR)


def ratings(ticket: Any) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind="rating").order_by("id"))


def test_one_click_records_the_rating_once_and_shows_the_comment_box(offered: Survey, at: Any) -> None:
    client = Client()
    url = f"/portal/survey/{survey_token(offered)}/rate/1/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Thank you for your rating!" in html
    assert 'name="comment"' in html
    assert client.get(url).status_code == 200  # clicked again: nothing more
    survey = Survey.objects.get(pk=offered.pk)
    assert (survey.rating, survey.satisfaction, survey.answered_via, survey.answers) == (1, "bad", "email", 1)
    (event,) = ratings(offered.ticket)
    assert (event.field, event.actor_kind, event.actor_id, event.via) == (
        "answered", "contact", offered.ticket.requester_id, "email",
    )  # fmt: skip
    assert event.new_value["satisfaction"] == "bad"  # type: ignore[index]


def test_the_comment_and_a_changed_rating_are_saved(offered: Survey, at: Any) -> None:
    client = Client()
    token = survey_token(offered)
    client.get(f"/portal/survey/{token}/rate/1/")
    page = client.post(f"/portal/survey/{token}/", {"rating": "2", "comment": "Quick in the end"})
    assert page.status_code == 200
    assert "Your answer is saved" in page.content.decode()
    survey = Survey.objects.get(pk=offered.pk)
    assert (survey.rating, survey.satisfaction, survey.comment, survey.answers) == (
        2,
        "good",
        "Quick in the end",
        2,
    )
    _first, second = ratings(offered.ticket)
    assert second.field == "changed"
    assert second.old_value["rating"] == 1  # type: ignore[index]
    assert second.new_value["comment"] == "Quick in the end"  # type: ignore[index]


def test_ces_and_nps_are_asked_when_the_department_wants_them(
    desk: Any, now: Any, open_ticket: Any, at: Any
) -> None:
    set_policy(desk, now, scale="five", ask_ces=True, ask_nps=True)
    ticket = move(desk, open_ticket("Five"), "solved", now)
    fire(now + HOUR)
    survey = Survey.objects.get(ticket=ticket)
    token = survey_token(survey)
    page = Client().get(f"/portal/survey/{token}/rate/4/")
    html = page.content.decode()
    assert 'name="ces"' in html
    assert 'name="nps"' in html
    page = Client().post(f"/portal/survey/{token}/", {"rating": "4", "ces": "6", "nps": "9"})
    assert page.status_code == 200
    survey.refresh_from_db()
    assert (survey.rating, survey.satisfaction, survey.ces, survey.nps) == (4, "good", 6, 9)
    # out of range: an inline error, nothing recorded
    page = Client().post(f"/portal/survey/{token}/", {"rating": "4", "ces": "9"})
    assert page.status_code == 422
    assert 'id="id_ces-error"' in page.content.decode()
    survey.refresh_from_db()
    assert survey.ces == 6


def test_a_tampered_or_foreign_token_records_nothing(offered: Survey, at: Any) -> None:
    token = survey_token(offered)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "nonsense", token.replace(":", "")):
        page = Client().get(f"/portal/survey/{bad}/rate/1/")
        assert page.status_code == 404
        assert "Survey not found" in page.content.decode()
    # a token signed for the same survey with another nonce (a stale link) is refused too
    from django.core import signing

    forged = signing.Signer(salt="sportello.surveys.link").sign_object([offered.pk, "guessed-nonce"])
    assert Client().get(f"/portal/survey/{forged}/rate/1/").status_code == 404
    assert ratings(offered.ticket) == []
    assert Survey.objects.get(pk=offered.pk).answered_at is None


def test_a_value_out_of_scale_records_nothing(offered: Survey, at: Any) -> None:
    token = survey_token(offered)
    assert Client().get(f"/portal/survey/{token}/rate/5/").status_code == 400
    assert Client().post(f"/portal/survey/{token}/", {"rating": "7"}).status_code == 422
    assert ratings(offered.ticket) == []


def test_an_expired_survey_records_nothing(offered: Survey, monkeypatch: Any, now: Any) -> None:
    from testing import hand_clock

    hand_clock(monkeypatch, now + HOUR + timedelta(days=14))
    page = Client().get(f"/portal/survey/{survey_token(offered)}/rate/2/")
    assert page.status_code == 410
    assert "This survey is closed" in page.content.decode()
    assert ratings(offered.ticket) == []


def test_the_signed_in_contact_finds_their_ticket_survey(desk: Any, offered: Survey, at: Any) -> None:
    client = Client()
    number = offered.ticket.number
    assert client.get(f"/portal/survey/ticket/{number}/").status_code == 404  # not signed in
    session = client.session
    session["portal_contact_id"] = desk.bob.pk
    session.save()
    assert client.get(f"/portal/survey/ticket/{number}/").status_code == 404  # not Bob's
    session["portal_contact_id"] = desk.alice.pk
    session.save()
    page = client.get(f"/portal/survey/ticket/{number}/")
    assert page.status_code == 302
    assert page["Location"] == f"/portal/survey/{survey_token(offered)}/"


def test_the_portal_prompt_offers_the_ratings_then_shows_the_answer(
    desk: Any, offered: Survey, at: Any
) -> None:
    from django.template.loader import render_to_string

    from sportello.surveys.selectors import portal_prompt
    from sportello.surveys.services import survey_answer

    assert portal_prompt(contact_id=desk.bob.pk, ticket_id=offered.ticket_id, now=at()) is None
    prompt = portal_prompt(contact_id=desk.alice.pk, ticket_id=offered.ticket_id, now=at())
    html = render_to_string("surveys/_portal_prompt.html", {"survey_prompt": prompt})
    assert f'href="http://127.0.0.1:8000/portal/survey/{survey_token(offered)}/rate/2/">Good' in html
    survey_answer(survey=offered, rating=2, comment="Thanks!", now=at())
    prompt = portal_prompt(contact_id=desk.alice.pk, ticket_id=offered.ticket_id, now=at())
    html = render_to_string("surveys/_portal_prompt.html", {"survey_prompt": prompt})
    assert "Good, I&#x27;m satisfied — “Thanks!”" in html
    assert "Change my answer" in html
