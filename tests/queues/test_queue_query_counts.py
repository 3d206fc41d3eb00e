"""Pinned statement counts of the queue page and the counts endpoint: they do not grow with the
number of tickets, views or columns shown. A change here is a deliberate, reviewed change."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

# session, user, views, the departments (the filter form's and the view context's, one
# statement) and the custom fields, the view counts (the landing view's total among them), the
# page's tickets (with requester, organization, SLA clock and status), their tags and assignees
# (and teams, when a row has one: none here)
PAGE = 9
# a further page of the full page costs the same: its total is still the sidebar's count; its
# rows have no assignee
PAGE_WITH_CURSOR = 8
# the table alone (an HTMX swap: no sidebar): its total is the view's own count
TABLE = 9
# session, user, views, departments + custom fields (view context), the counts
COUNTS = 6


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_the_queue_page_costs_a_fixed_number_of_statements(desk: Any, open_ticket: Any, browser: Any) -> None:
    client = browser(desk.agent)
    client.get("/")  # the shipped views are created on the first visit
    open_ticket("One", tags=["a"], assignee_id=desk.agent.pk)
    few = count(lambda: client.get("/"))
    for i in range(8):
        open_ticket(f"T{i}", tags=["a", "b"], assignee_id=desk.agent.pk, requester=desk.bob)
    many = count(lambda: client.get("/"))
    assert few == many == PAGE


def test_a_later_page_costs_what_the_first_does(
    desk: Any, open_ticket: Any, browser: Any, monkeypatch: Any
) -> None:
    from sportello.queues import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        open_ticket(f"T{i}")
    client = browser(desk.agent)
    next_url = client.get("/").context["next_url"]
    assert count(lambda: client.get(next_url)) == PAGE_WITH_CURSOR


def test_the_table_alone_counts_its_view(desk: Any, open_ticket: Any, browser: Any, monkeypatch: Any) -> None:
    from sportello.queues import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        open_ticket(f"T{i}", assignee_id=desk.agent.pk)
    client = browser(desk.agent)
    first = client.get("/")
    table = {"HX-Request": "true", "HX-Target": "queue"}
    assert count(lambda: client.get("/", headers=table)) == TABLE
    assert count(lambda: client.get(first.context["next_url"], headers=table)) == TABLE


def test_the_counts_endpoint_costs_a_fixed_number_of_statements(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    client = browser(desk.agent)
    client.get("/")
    open_ticket("One")
    assert count(lambda: client.get("/queues/counts/")) == COUNTS
