"""One-click rating links and the machines that fetch them: link checkers (`HEAD`) and browser
prefetches or previews record nothing; a person's click records the rating, and a later click
on another rating changes it while the survey is open."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.surveys.links import survey_token
from sportello.surveys.models import Survey
from sportello.tickets.models import TicketEvent

HOUR = timedelta(hours=1)


@pytest.fixture
def at(monkeypatch: Any, now: Any) -> Any:
    from testing import hand_clock

    return hand_clock(monkeypatch, now + 2 * HOUR)


def ratings(survey: Survey) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket_id=survey.ticket_id, kind="rating").order_by("id"))


def test_a_head_request_shows_the_page_and_records_nothing(offered: Survey, at: Any) -> None:
    # When a link checker sends HEAD for a rating link
    r = Client().head(f"/portal/survey/{survey_token(offered)}/rate/1/")
    # Then it is answered, and nothing is recorded
    assert r.status_code == 200
    assert ratings(offered) == []
    assert Survey.objects.get(pk=offered.pk).answered_at is None


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Sec-Purpose", "prefetch"),
        ("Sec-Purpose", "prefetch;prerender"),
        ("Sec-Purpose", "prefetch;anonymous-client-ip"),
        ("Purpose", "prefetch"),
        ("X-Moz", "prefetch"),
        ("X-Purpose", "preview"),
    ],
)
def test_a_prefetch_is_refused_and_records_nothing(offered: Survey, at: Any, header: str, value: str) -> None:
    # When a browser prefetches a rating link
    r = Client().get(f"/portal/survey/{survey_token(offered)}/rate/1/", headers={header: value})
    # Then it gets a non-2xx answer (the browser drops the prefetch), never cached
    assert r.status_code == 503
    assert "no-store" in r["Cache-Control"]
    # and nothing is recorded
    assert ratings(offered) == []
    assert Survey.objects.get(pk=offered.pk).answered_at is None


def test_the_click_after_a_prefetch_records_the_rating(offered: Survey, at: Any) -> None:
    client = Client()
    url = f"/portal/survey/{survey_token(offered)}/rate/2/"
    # Given a prefetch of the link
    assert client.get(url, headers={"Sec-Purpose": "prefetch"}).status_code == 503
    # When the customer clicks it
    r = client.get(url)
    # Then the rating is recorded once, and the answer is not cached for anyone else
    assert r.status_code == 200
    assert "Thank you for your rating!" in r.content.decode()
    assert "no-store" in r["Cache-Control"]
    assert {v.strip() for v in r["Vary"].split(",")} >= {"Sec-Purpose", "Purpose"}
    survey = Survey.objects.get(pk=offered.pk)
    assert (survey.rating, survey.satisfaction, survey.answers) == (2, "good", 1)
    assert [e.field for e in ratings(offered)] == ["answered"]


def test_a_click_on_another_rating_changes_the_answer_while_the_survey_is_open(
    offered: Survey, at: Any, monkeypatch: Any, now: Any
) -> None:
    from testing import hand_clock

    client = Client()
    token = survey_token(offered)
    # Given a click on "bad"
    client.get(f"/portal/survey/{token}/rate/1/")
    # When the customer clicks "good" in the same e-mail a day later
    hand_clock(monkeypatch, now + 26 * HOUR)
    r = client.get(f"/portal/survey/{token}/rate/2/")
    # Then the last answer counts, and the thank-you page offers to change it again
    assert r.status_code == 200
    assert 'name="rating"' in r.content.decode()
    survey = Survey.objects.get(pk=offered.pk)
    assert (survey.rating, survey.satisfaction, survey.answers) == (2, "good", 2)
    assert [e.field for e in ratings(offered)] == ["answered", "changed"]
    # but once the window has ended, a click changes nothing
    hand_clock(monkeypatch, now + HOUR + timedelta(days=14))
    assert client.get(f"/portal/survey/{token}/rate/1/").status_code == 410
    assert Survey.objects.get(pk=offered.pk).rating == 2
