"""The Console's macros: admins only; every active macro with who may use it and what it does;
a macro's preview on a chosen ticket (what it would change and the reply it would add, nothing
written); a bad ticket number shown by its field."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.automation.macros import macro_create
from sportello.tickets.models import Message, Ticket


@pytest.fixture
def macro(desk: Any, now: Any) -> Any:
    return macro_create(
        definition={
            "key": "ask-order",
            "name": "Ask for the order number",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"add_tags": ["needs_order"]},
                {"reply": {"body": "Hello {{ requester.name }}, what is your order number?"}},
            ],
        },
        actor=desk.admin,
        now=now,
    )


@pytest.mark.parametrize("path", ["/console/macros/", "/console/macros/ask-order/"])
@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_agents_get_the_403_page(
    desk: Any, browser: Any, settings: Any, macro: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    assert browser(getattr(desk, role)).get(path).status_code == 403


def test_the_signed_out_go_to_the_login_page(db: Any) -> None:
    r = Client().get("/console/macros/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?next=/console/macros/"


def test_an_empty_list_says_what_to_do(desk: Any, browser: Any) -> None:
    assert "No macros yet." in browser(desk.admin).get("/console/macros/").content.decode()


def test_the_list_shows_each_macro(desk: Any, browser: Any, now: Any, macro: Any) -> None:
    macro_create(
        definition={
            "key": "mine",
            "name": "Bruno's note",
            "visibility": {"scope": "personal", "ids": [desk.agent.pk]},
            "actions": [{"note": {"body": "Checked"}}],
        },
        actor=desk.agent,
        now=now,
    )
    html = browser(desk.admin).get("/console/macros/").content.decode()
    row = html[html.index('id="macro-ask-order"') :].split("</tr>")[0]
    assert '<a href="/console/macros/ask-order/">Ask for the order number</a>' in row
    assert "Everyone" in row
    assert "Set a field, Add tags, Reply to the customer" in row
    mine = html[html.index('id="macro-mine"') :].split("</tr>")[0]
    assert "Only Bruno Books" in mine
    assert "Add an internal note" in mine


def test_a_preview_on_a_ticket_writes_nothing(desk: Any, browser: Any, macro: Any, open_ticket: Any) -> None:
    ticket = open_ticket("Where is my parcel?")
    messages = Message.objects.filter(ticket=ticket).count()
    r = browser(desk.admin).get(f"/console/macros/ask-order/?ticket={ticket.number}")
    assert r.status_code == 200
    html = r.content.decode()
    assert f"On #{ticket.number} Where is my parcel?" in html
    assert "Priority" in html
    assert "High" in html
    assert "needs_order" in html
    assert "Public reply it adds" in html
    assert "Hello Alice Acme, what is your order number?" in html
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.priority, fresh.version) == (ticket.priority, ticket.version)
    assert Message.objects.filter(ticket=ticket).count() == messages


@pytest.mark.parametrize(
    ("number", "message"),
    [("abc", "Type a ticket number, such as 1024."), ("999999", "There is no ticket #999999.")],
)
def test_a_bad_ticket_number_is_shown_by_its_field(
    desk: Any, browser: Any, macro: Any, number: str, message: str
) -> None:
    r = browser(desk.admin).get(f"/console/macros/ask-order/?ticket={number}")
    assert r.status_code == 422
    html = r.content.decode()
    assert f'<p class="error" id="preview-ticket-error">{message}</p>' in html
    assert f'value="{number}"' in html


def test_an_unknown_macro_is_404(desk: Any, browser: Any) -> None:
    assert browser(desk.admin).get("/console/macros/nope/").status_code == 404
