"""The deflection events the portal's pages record: an article opened from a suggestion list, and
a request submitted from the same session (which makes that session's suggestions not
deflected)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from kb_suggest_data import build_kb
from sportello.kb.models_suggest import SuggestionEvent
from sportello.tickets.models import Ticket


@pytest.fixture
def kb(desk: Any) -> Any:
    return build_kb(departments={"electronics": desk.electronics, "books": desk.books})


def _shown_link(client: Client) -> str:
    r = client.get("/suggest/portal/", {"q": "Ho dimenticato la password, come accedo?", "lang": "it"})
    found = re.findall(r'class="kb-suggest-link"[^>]*href="([^"]+)"', r.content.decode())
    assert found
    return found[0].replace("&amp;", "&")


def test_opening_an_article_from_a_suggestion_records_it_once(kb: Any) -> None:
    # Given a reader shown a list of suggestions
    client = Client()
    link = _shown_link(client)
    shown = SuggestionEvent.objects.get(kind="shown")
    # When they open the first one (twice)
    assert client.get(link).status_code == 200
    assert client.get(link).status_code == 200
    # Then it is recorded opened once, for that list and article
    opened = SuggestionEvent.objects.get(kind="opened")
    assert (opened.shown_id, opened.article_id) == (shown.pk, kb.articles["password"].pk)


def test_a_list_shown_to_someone_else_records_nothing(kb: Any) -> None:
    link = _shown_link(Client())
    assert Client().get(link).status_code == 200  # the article is public: it is shown
    assert not SuggestionEvent.objects.filter(kind="opened").exists()


@pytest.mark.parametrize("s", ["abc", "-1", "99999999999999999999", ""])
def test_a_bad_list_number_is_ignored(kb: Any, s: str) -> None:
    article = kb.articles["password"]
    r = Client().get(f"/portal/kb/en/a/{article.pk}-password/", {"from": "suggest", "s": s})
    assert r.status_code == 200
    assert not SuggestionEvent.objects.filter(kind="opened").exists()


def test_a_request_submitted_after_suggestions_is_recorded_for_the_session(kb: Any, desk: Any) -> None:
    # Given a new customer who was shown suggestions, then submits the request anyway
    client = Client(headers={"accept-language": "it"})
    _shown_link(client)
    shown = SuggestionEvent.objects.get(kind="shown")
    r = client.post(
        "/portal/requests/new/",
        {
            "department": desk.books.pk,
            "name": "Giulia",
            "email": "giulia@example.test",
            "subject": "Password",
            "description": "Non riesco ad accedere",
        },
    )
    assert r.status_code == 302
    # Then the submission is recorded for the same session, with the new contact and ticket
    submitted = SuggestionEvent.objects.get(kind="submitted")
    ticket = Ticket.objects.get()
    assert submitted.session == shown.session
    assert (submitted.contact_id, submitted.ticket_id) == (ticket.requester_id, ticket.pk)
