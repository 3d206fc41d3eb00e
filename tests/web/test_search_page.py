"""The Desk's search page: the top-bar box, results with snippets, filters in the URL, pages,
ticket numbers that jump, and the API's permission rules (tickets and internal notes)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from sportello.core.actors import Via
from sportello.tickets.services import message_add, ticket_update


def _numbers(response: Any) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [int(n) for n in re.findall(r'<span class="num">#(\d+)</span>', response.content.decode())]


def _note(ticket: Any, by: Any, body: str, now: Any) -> None:
    message_add(
        principal=by,
        ticket_id=ticket.pk,
        via=Via.WEB,
        body=body,
        body_html="",
        public=False,
        attachment_ids=[],
        version=None,
        now=now,
    )


def test_every_desk_page_has_a_labelled_search_box_that_slash_focuses(desk: Any, browser: Any) -> None:
    html = browser(desk.agent).get("/").content.decode()
    assert 'role="search"' in html
    assert '<label for="topbar-q" class="visually-hidden">Search tickets</label>' in html
    assert 'data-shortcut="/"' in html
    assert 'action="/search/"' in html


def test_words_find_tickets_with_a_highlighted_snippet(desk: Any, open_ticket: Any, browser: Any) -> None:
    # given two tickets, one about a printer
    printer = open_ticket("Printer jams", description="The office printer jams on every page")
    open_ticket("Refund", description="Please refund my order")
    # when the agent searches for "printer"
    r = browser(desk.agent).get("/search/", {"q": "printer"})
    # then only the printer ticket is listed, its snippet marks the word, and the count says 1
    assert _numbers(r) == [printer.number]
    html = r.content.decode()
    assert "<mark>printer</mark>" in html.lower()
    assert "1 ticket found" in html
    assert f'data-row="{printer.pk}"' in html
    assert f'href="/tickets/{printer.pk}/"' in html


def test_a_script_in_a_message_never_reaches_the_page(desk: Any, open_ticket: Any, browser: Any) -> None:
    open_ticket("Hostile", description="<script>alert('x')</script> beacon <img src=x onerror=alert(1)>")
    r = browser(desk.agent).get("/search/", {"q": "beacon"})
    html = r.content.decode()
    snippet = re.search(r'<p class="snippet">(.*?)</p>', html, re.S)
    assert snippet is not None
    assert "<mark>beacon</mark>" in snippet.group(1)
    assert "<script" not in snippet.group(1)
    assert "<img" not in snippet.group(1)
    # (SQLite shows the tags as text, PostgreSQL's excerpt leaves them out: either way, inert)
    assert "<script>alert" not in html


def test_an_agent_finds_only_tickets_of_their_departments(desk: Any, open_ticket: Any, browser: Any) -> None:
    book = open_ticket("Kettle in Books")
    tv = open_ticket("Kettle in Electronics", department=desk.electronics)
    assert _numbers(browser(desk.agent).get("/search/", {"q": "kettle"})) == [book.number]
    assert _numbers(browser(desk.outsider).get("/search/", {"q": "kettle"})) == [tv.number]
    assert sorted(_numbers(browser(desk.admin).get("/search/", {"q": "kettle"}))) == sorted(
        [book.number, tv.number]
    )
    assert _numbers(browser(desk.light).get("/search/", {"q": "kettle"})) == [book.number]


def test_internal_notes_are_searched_only_where_the_agent_may_read_them(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    # given a note with a secret word on a Books ticket
    ticket = open_ticket("Quiet ticket")
    _note(ticket, desk.agent, "the zanzibar discount applies", now)
    # then Books agents (light ones too) find it by the note, the Electronics agent does not
    assert _numbers(browser(desk.agent).get("/search/", {"q": "zanzibar"})) == [ticket.number]
    assert _numbers(browser(desk.light).get("/search/", {"q": "zanzibar"})) == [ticket.number]
    r = browser(desk.outsider).get("/search/", {"q": "zanzibar"})
    assert _numbers(r) == []
    assert "zanzibar discount" not in r.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(desk: Any) -> None:
    from django.test import Client

    r = Client().get("/search/", {"q": "anything"})
    assert r.status_code == 302
    assert r["Location"].startswith("/login/?next=/search/")


def test_a_ticket_number_jumps_to_the_ticket(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Numbered")
    client = browser(desk.agent)
    for q in (f"#{ticket.number}", str(ticket.number), f" # {ticket.number} "):
        r = client.get("/search/", {"q": q})
        assert r.status_code == 302, q
        assert r["Location"] == f"/tickets/{ticket.pk}/"


def test_a_number_not_visible_to_the_agent_is_searched_as_words(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    tv = open_ticket("Hidden TV", department=desk.electronics)
    r = browser(desk.agent).get("/search/", {"q": f"#{tv.number}"})
    assert r.status_code == 200
    assert _numbers(r) == []
    assert "Hidden TV" not in r.content.decode()
    assert "No tickets match" in r.content.decode()
    missing = browser(desk.agent).get("/search/", {"q": "987654"})
    assert missing.status_code == 200


def test_filters_by_department_status_assignee_and_period(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    # given "lamp" tickets that differ in department, status, assignee and age
    mine = open_ticket("Lamp mine", assignee_id=desk.agent.pk)
    nobody = open_ticket("Lamp nobody")
    tv = open_ticket("Lamp TV", department=desk.electronics)
    old = open_ticket("Lamp old", minutes_ago=60 * 24 * 40)
    solved = open_ticket("Lamp solved")
    ticket_update(
        principal=desk.admin,
        ticket_id=solved.pk,
        via=Via.WEB,
        data={"status": "solved", "version": solved.version},
        now=now,
    )
    client = browser(desk.admin)

    def found(**filters: Any) -> set[int]:
        return set(_numbers(client.get("/search/", {"q": "lamp", **filters})))

    assert found() == {mine.number, nobody.number, tv.number, old.number, solved.number}
    assert found(department=desk.electronics.pk) == {tv.number}
    assert found(category="solved") == {solved.number}
    assert found(assignee="none") == {nobody.number, tv.number, old.number, solved.number}
    assert found(assignee=str(desk.agent.pk)) == {mine.number}
    assert set(_numbers(browser(desk.agent).get("/search/", {"q": "lamp", "assignee": "me"}))) == {
        mine.number
    }
    assert old.number not in found(period="30")
    assert found(period="365") == found()
    # a date range in the agent's days: the old ticket's day only
    day = (now - timedelta(days=40)).date()
    assert found(period="range", created_from=day.isoformat(), created_to=day.isoformat()) == {old.number}


def test_filters_show_in_the_form_and_an_end_before_the_start_is_an_error(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    open_ticket("Lamp")
    r = browser(desk.admin).get(
        "/search/",
        {"q": "lamp", "period": "range", "created_from": "2026-03-10", "created_to": "2026-03-01"},
    )
    html = r.content.decode()
    assert "The end date is before the start date." in html
    assert '<option value="range" selected>' in html
    # the bad range is left out: the search still ran
    assert len(_numbers(r)) == 1


def test_results_are_paged_with_links_that_keep_the_filters(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    for i in range(23):
        open_ticket(f"Paging ticket {i}")
    client = browser(desk.agent)
    first = client.get("/search/", {"q": "paging", "category": "new"})
    assert len(_numbers(first)) == 20
    html = first.content.decode()
    assert "Results 1\u201320 of 23 tickets" in html
    assert 'href="?q=paging&amp;category=new&amp;page=2"' in html
    second = client.get("/search/", {"q": "paging", "category": "new", "page": "2"})
    assert len(_numbers(second)) == 3
    assert set(_numbers(first)).isdisjoint(_numbers(second))
    assert "Results 21\u201323 of 23 tickets" in second.content.decode()
    assert 'href="?q=paging&amp;category=new"' in second.content.decode()
    beyond = client.get("/search/", {"q": "paging", "page": "9"})
    assert "There are no more results." in beyond.content.decode()


def test_empty_states_give_advice(desk: Any, open_ticket: Any, browser: Any) -> None:
    client = browser(desk.agent)
    start = client.get("/search/").content.decode()
    assert "Search all the tickets you can see" in start
    none = client.get("/search/", {"q": "nothingmatchesthis", "department": desk.books.pk}).content.decode()
    assert "No tickets match “<bdi>nothingmatchesthis</bdi>”." in none
    assert "Search again without the filters" in none
    assert 'href="?q=nothingmatchesthis"' in none


@pytest.mark.parametrize("q", ["-toner", "***", '"'])
def test_a_query_with_nothing_to_look_for_is_explained_on_the_field(desk: Any, browser: Any, q: str) -> None:
    r = browser(desk.agent).get("/search/", {"q": q})
    assert r.status_code == 200
    assert "Give at least one word to search for" in r.content.decode()


def test_a_query_too_long_is_refused_on_the_field(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).get("/search/", {"q": "x" * 300})
    assert r.status_code == 200
    assert "at most 256 characters" in r.content.decode()


def test_the_search_page_is_translated(desk: Any, open_ticket: Any, browser: Any) -> None:
    open_ticket("Lamp")
    client = browser(desk.agent)
    client.cookies["django_language"] = "es"
    html = client.get("/search/", {"q": "lamp"}).content.decode()
    assert 'lang="es"' in html
    assert "Buscar" in html


def test_search_page_costs_a_fixed_number_of_queries(
    desk: Any, open_ticket: Any, browser: Any, django_assert_num_queries: Any
) -> None:
    for i in range(15):
        open_ticket(f"Counting {i}", assignee_id=desk.agent.pk)
    for i in range(2):
        open_ticket(f"Rare {i}", requester=desk.bob)
    client = browser(desk.agent)
    client.get("/search/", {"q": "counting"})  # warm the process-wide caches
    # session, user, departments, agents (the filters), ranked matches, snippets, the hits
    with django_assert_num_queries(7):
        many = client.get("/search/", {"q": "counting"})
    with django_assert_num_queries(7):
        few = client.get("/search/", {"q": "rare"})
    assert len(_numbers(many)) == 15
    assert len(_numbers(few)) == 2


@pytest.mark.parametrize("role", ["admin", "agent", "light", "outsider"])
def test_the_page_finds_exactly_what_the_api_finds_for_each_role(
    desk: Any, open_ticket: Any, browser: Any, api: Any, now: Any, role: str
) -> None:
    # given tickets in both departments, one found only through an internal note
    open_ticket("Walrus in Books")
    open_ticket("Walrus in Electronics", department=desk.electronics)
    noted = open_ticket("Quiet one", department=desk.electronics)
    _note(noted, desk.admin, "a walrus was seen", now)
    user = getattr(desk, role)
    # when the same words are searched through the API and on the page
    through_api = {item["number"] for item in api(user).get("/search", {"q": "walrus"}).json()["items"]}
    on_page = set(_numbers(browser(user).get("/search/", {"q": "walrus"})))
    # then both list the same tickets
    assert on_page == through_api
