"""The process (blueprint) panel: the ticket's state, the steps this agent may perform, each with
a form for its inputs; refusals explained in words next to the input they name; the flowchart
with the current state highlighted."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from workflow_setup import customer_ticket, returns_blueprint, returns_fields, run_of

HX = {"HX-Request": "true"}


@pytest.fixture
def ticket(desk: Any, now: datetime) -> Any:
    returns_fields(desk)
    returns_blueprint(desk, now)
    return customer_ticket(desk, now)


def state_of(ticket: Any) -> str:
    return run_of(ticket).state


def text(response: Any) -> str:
    return response.content.decode().replace("\xa0", " ")


def post(client: Any, ticket: Any, key: str, **data: Any) -> Any:
    ticket.refresh_from_db()
    return client.post(
        f"/tickets/{ticket.pk}/blueprint/{key}/", {"version": ticket.version, **data}, headers=HX
    )


def test_the_panel_shows_the_state_and_the_steps_the_agent_may_perform(
    desk: Any, browser: Any, ticket: Any
) -> None:
    html = text(browser(desk.agent).get(f"/tickets/{ticket.pk}/"))
    assert 'Current state: <strong class="badge bp-current"><bdi>Received</bdi>' in html
    assert "In this state for 1 hour" in html
    assert "time limit 2 days" in html
    # the one step from here, with its inputs labelled and the required ones marked
    assert "<bdi>Send the return label</bdi>" in html
    assert re.search(r'<label for="bp-label-sent-input_0">Order number <span class="req"', html)
    assert '<option value="return">Return</option>' in html  # picklist values by their labels
    assert '<label for="bp-label-sent-note">Note <span class="req"' in html
    # the states as a list, the current one marked, and the flowchart
    assert '<li class="current" aria-current="step"><bdi>Received</bdi>' in html
    assert f'src="/tickets/{ticket.pk}/blueprint.svg"' in html
    # the refund is for admins: not offered to an agent
    assert "<bdi>Refund</bdi>" not in html


def test_a_missing_mandatory_field_and_note_are_refused_by_name_and_nothing_moves(
    desk: Any, browser: Any, ticket: Any
) -> None:
    from sportello.tickets.models import Message

    r = post(browser(desk.agent), ticket, "label-sent", input_0="", note="")
    assert r.status_code == 422
    html = text(r)
    assert r.headers["HX-Retarget"] == "#blueprint-panel"
    assert "Fill in “Order number” to perform this step." in html
    assert "Add a note to perform this step." in html
    assert '<details class="bp-step" open>' in html
    assert state_of(ticket) == "received"
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_an_invalid_input_is_explained_with_the_processs_own_message(
    desk: Any, browser: Any, ticket: Any
) -> None:
    r = post(browser(desk.agent), ticket, "label-sent", input_0="12345", note="Label sent")
    assert r.status_code == 422
    assert "“Order number” is not valid here: An order number looks like AB123456" in text(r)
    # what was typed stays
    assert 'value="12345"' in text(r)
    assert state_of(ticket) == "received"


def test_a_complete_step_moves_the_ticket_through_the_pipeline(desk: Any, browser: Any, ticket: Any) -> None:
    from sportello.tickets.models import Message, TicketEvent

    r = post(
        browser(desk.agent), ticket, "label-sent", input_0="AB123456", input_1="return", note="Label sent"
    )
    assert r.status_code == 200
    assert 'id="ticket"' in text(r)
    assert state_of(ticket) == "awaiting-item"
    ticket.refresh_from_db()
    assert ticket.custom_fields["order_id"] == "AB123456"
    assert ticket.custom_fields["kind"] == "return"
    assert ticket.status.key == "pending"
    note = Message.objects.filter(ticket=ticket).order_by("id").last()
    assert note is not None
    assert (note.public, note.body_text.strip()) == (False, "Label sent")
    event = TicketEvent.objects.get(ticket=ticket, kind="blueprint", field="transition")
    assert (event.via, event.actor_id) == ("web", desk.agent.pk)
    # the page now shows the new state, and no step for the agent (the refund is the admins')
    assert 'Current state: <strong class="badge bp-current"><bdi>Awaiting the item</bdi>' in text(r)
    assert "No step of this process is yours to perform now." in text(r)


def test_a_step_the_agent_does_not_own_is_refused_in_words(desk: Any, browser: Any, ticket: Any) -> None:
    post(browser(desk.admin), ticket, "label-sent", input_0="AB123456", note="Sent")
    r = post(browser(desk.agent), ticket, "refund", input_0="20")
    assert r.status_code == 409
    assert "You are not one of the people who may perform “Refund”." in text(r)
    assert state_of(ticket) == "awaiting-item"


def test_a_stale_form_is_refused_and_shows_the_current_state(desk: Any, browser: Any, ticket: Any) -> None:
    client = browser(desk.agent)
    version = ticket.version
    post(browser(desk.admin), ticket, "label-sent", input_0="AB123456", note="Sent by Ada")
    r = client.post(
        f"/tickets/{ticket.pk}/blueprint/label-sent/",
        {"version": version, "input_0": "CD654321", "note": "Sent by Bruno"},
        headers=HX,
    )
    assert r.status_code == 409
    assert "This ticket changed since you opened it" in text(r)
    assert "Awaiting the item" in text(r)
    ticket.refresh_from_db()
    assert ticket.custom_fields["order_id"] == "AB123456"


def test_admins_see_and_perform_the_refund(desk: Any, browser: Any, ticket: Any) -> None:
    admin = browser(desk.admin)
    post(admin, ticket, "label-sent", input_0="AB123456", note="Sent")
    assert "<bdi>Refund</bdi>" in text(admin.get(f"/tickets/{ticket.pk}/"))
    r = post(admin, ticket, "refund", input_0="19.90")
    assert r.status_code == 200
    assert state_of(ticket) == "refunded"
    assert "Completed on" in text(r)


def test_without_htmx_a_refusal_renders_the_whole_page(desk: Any, browser: Any, ticket: Any) -> None:
    ticket.refresh_from_db()
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/blueprint/label-sent/", {"version": ticket.version, "input_0": ""}
    )
    assert r.status_code == 422
    assert "<!doctype html>" in text(r)
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/blueprint/label-sent/",
        {"version": ticket.version, "input_0": "AB123456", "note": "ok"},
    )
    assert (r.status_code, r.headers["Location"]) == (302, f"/tickets/{ticket.pk}/")


def test_light_agents_see_no_process_and_cannot_move_it(desk: Any, browser: Any, ticket: Any) -> None:
    light = browser(desk.light)
    assert 'id="blueprint-panel"' not in text(light.get(f"/tickets/{ticket.pk}/"))
    assert post(light, ticket, "label-sent", input_0="AB123456", note="x").status_code == 404
    assert light.get(f"/tickets/{ticket.pk}/blueprint.svg").status_code == 404
    assert state_of(ticket) == "received"


def test_outsiders_and_anonymous_visitors_get_nothing(
    desk: Any, browser: Any, ticket: Any, client: Any
) -> None:
    outsider = browser(desk.outsider)
    assert post(outsider, ticket, "label-sent", input_0="AB123456", note="x").status_code == 404
    assert outsider.get(f"/tickets/{ticket.pk}/blueprint.svg").status_code == 404
    r = client.post(f"/tickets/{ticket.pk}/blueprint/label-sent/", {"version": 1})
    assert r.status_code == 302
    assert "/login/" in r.headers["Location"]
    assert state_of(ticket) == "received"


def test_an_unknown_step_is_a_404(desk: Any, browser: Any, ticket: Any) -> None:
    assert post(browser(desk.agent), ticket, "teleport").status_code == 404


def test_the_flowchart_highlights_the_current_state(desk: Any, browser: Any, ticket: Any) -> None:
    r = browser(desk.agent).get(f"/tickets/{ticket.pk}/blueprint.svg")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    svg = r.content.decode()
    assert svg.count('class="state current"') == 1
    current = svg.index('class="state current"')
    assert svg.index("<title>Received</title>", current) - current < 40


def test_a_ticket_without_a_process_has_no_panel(desk: Any, browser: Any, now: datetime) -> None:
    ticket = customer_ticket(desk, now)
    assert 'id="blueprint-panel"' not in text(browser(desk.agent).get(f"/tickets/{ticket.pk}/"))
    assert browser(desk.agent).get(f"/tickets/{ticket.pk}/blueprint.svg").status_code == 404
