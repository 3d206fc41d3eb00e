"""Deflection counted honestly: an engaged portal session counts as deflected only when the
request was abandoned (or "solved" clicked) and the same person opened no ticket within 7 days;
younger engagements are pending. The API figure is admins' alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.core.actors import Via
from sportello.core.errors import NotFound
from sportello.kb import deflection
from sportello.kb.models import Article, KbCategory, KbSection
from sportello.kb.models_suggest import SuggestionEvent
from sportello.tickets import services as ticket_services
from testing import NOW

DAY = timedelta(days=1)


@pytest.fixture
def article(db: Any) -> Article:
    category = KbCategory.objects.create(slug="help", title={"en": "Help"}, created_at=NOW, updated_at=NOW)
    section = KbSection.objects.create(
        category=category, slug="s", title={"en": "S"}, created_at=NOW, updated_at=NOW
    )
    return Article.objects.create(section=section, created_at=NOW, updated_at=NOW)


def shown(article: Article, session: str, *, contact_id: int | None = None, at: Any = NOW) -> SuggestionEvent:
    return deflection.suggestion_shown(
        article_ids=[article.pk], text="refund", language="en", audience="customer", session=session,
        contact_id=contact_id, department_id=None, now=at,
    )  # fmt: skip


def opened(event: SuggestionEvent, article: Article, *, contact_id: int | None = None, at: Any = NOW) -> None:
    deflection.suggestion_opened(
        shown_id=event.pk, article_id=article.pk, session=event.session, contact_id=contact_id, now=at
    )


def open_ticket(desk: Any, *, at: Any) -> None:
    ticket_services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={"subject": "Refund", "description": "Please", "department_id": desk.books.pk,
              "requester_id": desk.alice.pk},
        now=at,
    )  # fmt: skip


def stats(now: Any) -> deflection.DeflectionStats:
    return deflection.deflection_stats(since=NOW - DAY, until=NOW + DAY, now=now)


def test_an_opened_suggestion_and_an_abandoned_request_deflect_after_7_days(article: Article) -> None:
    opened(shown(article, "s1"), article)
    assert stats(NOW + 6 * DAY).pending == 1
    assert stats(NOW + 6 * DAY).deflected == 0
    result = stats(NOW + 8 * DAY)
    assert (result.sessions_shown, result.sessions_engaged, result.deflected, result.pending) == (1, 1, 1, 0)
    assert result.rate == 1.0


def test_a_request_submitted_from_the_same_session_is_not_deflected(article: Article) -> None:
    opened(shown(article, "s1"), article)
    deflection.suggestion_request_submitted(
        session="s1", contact_id=None, ticket_id=None, now=NOW + timedelta(minutes=3)
    )
    result = stats(NOW + 8 * DAY)
    assert (result.deflected, result.not_deflected, result.rate) == (0, 1, 0.0)


def test_solved_clicked_but_the_contact_opened_a_ticket_within_7_days_is_not_deflected(
    article: Article, desk: Any
) -> None:
    event = shown(article, "s1", contact_id=desk.alice.pk)
    deflection.suggestion_solved(
        shown_id=event.pk, article_id=article.pk, session="s1", contact_id=desk.alice.pk, now=NOW
    )
    open_ticket(desk, at=NOW + 3 * DAY)  # by e-mail, the API, anywhere: the same person came back
    result = stats(NOW + 8 * DAY)
    assert (result.solved_clicks, result.deflected, result.not_deflected) == (1, 0, 1)


def test_a_ticket_after_the_7_days_does_not_undo_the_deflection(article: Article, desk: Any) -> None:
    opened(shown(article, "s1", contact_id=desk.alice.pk), article, contact_id=desk.alice.pk)
    open_ticket(desk, at=NOW + 8 * DAY)
    assert stats(NOW + 9 * DAY).deflected == 1


def test_shown_but_never_opened_is_not_engaged(article: Article) -> None:
    shown(article, "s1")
    result = stats(NOW + 8 * DAY)
    assert (result.sessions_shown, result.sessions_engaged, result.deflected, result.rate) == (1, 0, 0, None)


def test_opening_is_recorded_once_and_only_for_the_viewer_it_was_shown_to(article: Article) -> None:
    event = shown(article, "s1")
    opened(event, article)
    opened(event, article)
    assert SuggestionEvent.objects.filter(kind="opened").count() == 1
    with pytest.raises(NotFound):
        deflection.suggestion_opened(
            shown_id=event.pk, article_id=article.pk, session="other", contact_id=None, now=NOW
        )
    with pytest.raises(NotFound):
        deflection.suggestion_opened(
            shown_id=event.pk, article_id=article.pk + 1, session="s1", contact_id=None, now=NOW
        )
    assert SuggestionEvent.objects.filter(kind="opened").count() == 1


def test_the_api_gives_admins_the_figures(article: Article, desk: Any, as_role: Any) -> None:
    opened(shown(article, "s1"), article)
    r = as_role("admin").get(
        "/kb/deflection", {"since": (NOW - DAY).isoformat(), "until": (NOW + DAY).isoformat()}
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["sessions_shown"], body["sessions_engaged"]) == (1, 1)
    assert as_role("agent").get("/kb/deflection").status_code == 403
    bad = as_role("admin").get("/kb/deflection", {"since": NOW.isoformat(), "until": (NOW - DAY).isoformat()})
    assert bad.status_code == 422
