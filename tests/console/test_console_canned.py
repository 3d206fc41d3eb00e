"""The Console's canned responses: admins only; those shared with departments and the admin's
own, listed; one previewed on a chosen ticket with its placeholders filled; a bad ticket number
shown by its field."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.notifications.canned import canned_create


@pytest.fixture
def shared(desk: Any, now: Any) -> Any:
    return canned_create(
        actor=desk.admin,
        title="Order number, please",
        body="Hello {{ requester.name }}, could you send us your order number?",
        department_id=desk.books.pk,
        now=now,
    )


@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_agents_get_the_403_page(desk: Any, browser: Any, settings: Any, shared: Any, role: str) -> None:
    settings.DEBUG = False
    client = browser(getattr(desk, role))
    assert client.get("/console/canned-responses/").status_code == 403
    assert client.get(f"/console/canned-responses/{shared.pk}/").status_code == 403


def test_the_signed_out_go_to_the_login_page(db: Any) -> None:
    r = Client().get("/console/canned-responses/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?next=/console/canned-responses/"


def test_an_empty_list_says_what_to_do(desk: Any, browser: Any) -> None:
    assert (
        "No canned responses yet." in browser(desk.admin).get("/console/canned-responses/").content.decode()
    )


def test_the_list_shows_shared_and_own(desk: Any, browser: Any, now: Any, shared: Any) -> None:
    mine = canned_create(actor=desk.admin, title="My sign-off", body="Ada", language="it", now=now)
    canned_create(actor=desk.agent, title="Bruno's own", body="Bruno", now=now)
    html = browser(desk.admin).get("/console/canned-responses/").content.decode()
    row = html[html.index(f'id="canned-{shared.pk}"') :].split("</tr>")[0]
    assert "Order number, please" in row
    assert "Department Books" in row
    assert "Any" in row
    own = html[html.index(f'id="canned-{mine.pk}"') :].split("</tr>")[0]
    assert "Only you" in own
    assert "Bruno&#x27;s own" not in html


def test_a_preview_fills_the_placeholders_for_the_ticket(
    desk: Any, browser: Any, shared: Any, open_ticket: Any
) -> None:
    ticket = open_ticket("Where is my parcel?")
    r = browser(desk.admin).get(f"/console/canned-responses/{shared.pk}/?ticket={ticket.number}")
    assert r.status_code == 200
    html = r.content.decode()
    assert f"On #{ticket.number} Where is my parcel?" in html
    assert "Hello Alice Acme, could you send us your order number?" in html


@pytest.mark.parametrize(
    ("number", "message"),
    [("x1", "Type a ticket number, such as 1024."), ("424242", "There is no ticket #424242.")],
)
def test_a_bad_ticket_number_is_shown_by_its_field(
    desk: Any, browser: Any, shared: Any, number: str, message: str
) -> None:
    r = browser(desk.admin).get(f"/console/canned-responses/{shared.pk}/?ticket={number}")
    assert r.status_code == 422
    assert f'<p class="error" id="preview-ticket-error">{message}</p>' in r.content.decode()


def test_an_unknown_canned_response_is_404(desk: Any, browser: Any) -> None:
    assert browser(desk.admin).get("/console/canned-responses/999999/").status_code == 404
