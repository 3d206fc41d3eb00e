"""The suggestion fragments: the portal's (while a customer types), "This solved my problem",
and the ticket page's side panel for agents."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from kb_suggest_data import build_kb
from sportello.core.actors import Via
from sportello.kb.models_suggest import SuggestionEvent
from sportello.tickets import services as ticket_services
from testing import NOW


@pytest.fixture
def kb(desk: Any) -> Any:
    return build_kb(departments={"electronics": desk.electronics, "books": desk.books})


def links(html: str) -> list[str]:
    return re.findall(r'class="kb-suggest-link"[^>]*href="([^"]+)"', html)


def test_the_portal_fragment_lists_article_links_and_records_what_was_shown(kb: Any, client: Client) -> None:
    r = client.get("/suggest/portal/", {"q": "Ho dimenticato la password, come accedo?", "lang": "it"})
    assert r.status_code == 200
    shown = SuggestionEvent.objects.get(kind="shown")
    article = kb.articles["password"]
    assert (
        links(r.content.decode())[0]
        == f"/portal/kb/en/a/{article.pk}-password/?from=suggest&amp;s={shown.pk}"
    )
    assert "Questo ha risolto il mio problema" in r.content.decode()  # the viewer's language
    assert shown.article_ids[0] == article.pk
    assert shown.language == "it"
    assert shown.audience == "customer"
    assert shown.session  # a hash of the session key, never the key
    assert shown.session != client.session.session_key


@pytest.mark.parametrize("q", ["asdf", "hello", "ab", "", "fraud chargeback on hold"])
def test_nothing_under_the_floor_or_not_public_is_an_empty_200_and_records_nothing(
    kb: Any, client: Client, q: str
) -> None:
    r = client.get("/suggest/portal/", {"q": q, "lang": "en"})
    assert r.status_code == 200
    assert "fraud" not in r.content.decode().lower()
    if q != "fraud chargeback on hold":
        assert r.content == b""
    shown = SuggestionEvent.objects.values_list("article_ids", flat=True)
    assert not [ids for ids in shown if kb.articles["fraud"].pk in ids]


def test_the_portal_fragment_reads_subject_and_description_and_the_department(
    kb: Any, client: Client, desk: Any
) -> None:
    params = {"subject": "Battery", "description": "my laptop battery drains quickly", "lang": "en"}
    html = client.get("/suggest/portal/", {**params, "department": desk.electronics.pk}).content.decode()
    assert f"/a/{kb.articles['battery'].pk}-battery/" in html
    html = client.get("/suggest/portal/", {**params, "department": desk.books.pk}).content.decode()
    assert f"/a/{kb.articles['battery'].pk}-battery/" not in html
    # A department that is not a number is ignored, not an error.
    assert client.get("/suggest/portal/", {**params, "department": "x'"}).status_code == 200


def test_the_portal_fragment_costs_a_fixed_number_of_statements(
    kb: Any, client: Client, django_assert_num_queries: Any
) -> None:
    client.get("/suggest/portal/", {"q": "refund", "lang": "en"})  # the session and the cache exist
    # the session, the version, the full-text hits, the shown event (in its savepoint pair)
    with django_assert_num_queries(6):
        assert client.get("/suggest/portal/", {"q": "money back refund", "lang": "en"}).status_code == 200


def test_this_solved_my_problem_is_recorded_once_for_the_same_viewer_only(kb: Any, client: Client) -> None:
    client.get("/suggest/portal/", {"q": "I want a refund for my order", "lang": "en"})
    shown = SuggestionEvent.objects.get(kind="shown")
    article_id = kb.articles["refund"].pk
    for _ in range(2):
        r = client.post("/suggest/solved/", {"s": shown.pk, "article": article_id})
        assert r.status_code == 200
        assert "Glad it helped" in r.content.decode()
    assert SuggestionEvent.objects.filter(kind="solved", shown=shown, article_id=article_id).count() == 1
    # Someone else's list, or an article it did not show: 404, nothing recorded.
    other = Client()
    assert other.post("/suggest/solved/", {"s": shown.pk, "article": article_id}).status_code == 404
    assert (
        client.post("/suggest/solved/", {"s": shown.pk, "article": kb.articles["fraud"].pk}).status_code
        == 404
    )
    assert client.post("/suggest/solved/", {"s": "x", "article": article_id}).status_code == 404
    assert SuggestionEvent.objects.filter(kind="solved").count() == 1


def open_ticket(desk: Any, subject: str, description: str, department: Any) -> Any:
    return ticket_services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": subject,
            "description": description,
            "department_id": department.pk,
            "requester_id": desk.alice.pk,
        },
        now=NOW,
    ).ticket


def test_the_ticket_panel_suggests_public_and_internal_articles_to_agents_who_may_read_it(
    kb: Any, desk: Any, client: Client
) -> None:
    ticket = open_ticket(
        desk, "Suspicious order", "Looks like fraud, the bank filed a chargeback.", desk.books
    )
    client.force_login(desk.agent)
    r = client.get(f"/suggest/ticket/{ticket.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Handling a suspected fraudulent order" in html
    assert "Internal" in html
    client.force_login(desk.outsider)  # an Electronics agent: not their ticket
    assert client.get(f"/suggest/ticket/{ticket.pk}/").status_code == 404
    assert client.get("/suggest/ticket/999999/").status_code == 404
    anonymous = Client()
    assert anonymous.get(f"/suggest/ticket/{ticket.pk}/").status_code == 302


def test_the_ticket_page_loads_the_panel_after_the_page(kb: Any, desk: Any, client: Client) -> None:
    ticket = open_ticket(desk, "Refund", "I want my money back", desk.books)
    client.force_login(desk.agent)
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'hx-get="/suggest/ticket/{ticket.pk}/"' in html
