""" "See all" from the customer panel: the requester's and the organization's tickets counted
among those the agent may see, and the queue narrowed to them (`?requester=` /
`?organization=`, any status), named by a removable chip, kept as the other filters change."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sportello.core.actors import Via

QUEUE = {"HX-Request": "true", "HX-Target": "queue"}


@pytest.fixture
def history(desk: Any, open_ticket: Any) -> dict[str, Any]:
    """Alice (of Acme): two open tickets and a solved one in Books, one in Electronics (a
    department the agent does not work in); Bob, also of Acme, one in Books; Carla, none of it."""
    from sportello.contacts.services import contact_create
    from sportello.tickets.services import ticket_update

    solved = open_ticket("Old question", minutes_ago=50)
    ticket_update(
        principal=desk.admin, ticket_id=solved.pk, via=Via.WEB,
        data={"status": "solved", "version": solved.version}, now=solved.created_at,
    )  # fmt: skip
    bob = contact_create(email="bob@acme.test", name="Bob Acme")
    other = contact_create(email="carla@example.test", name="Carla Other")
    return {
        "solved": solved,
        "tv": open_ticket("Broken TV", department=desk.electronics, minutes_ago=40),
        "bob": open_ticket("Bob's order", requester=bob, minutes_ago=30),
        "carla": open_ticket("Carla's order", requester=other, minutes_ago=20),
        "open": open_ticket("Still open", minutes_ago=10),
        "current": open_ticket("Current"),
    }


def _link(html: str, element_id: str) -> tuple[str, str]:
    found = re.search(rf'<a id="{element_id}" href="([^"]+)">([^<]+)</a>', html)
    assert found is not None, element_id
    return found.group(1).replace("&amp;", "&"), found.group(2)


def _subjects(response: Any) -> list[str]:
    return sorted(t.subject for t in response.context["tickets"])


def test_see_all_counts_the_requesters_tickets_the_agent_may_see_and_opens_them_all(
    desk: Any, history: dict[str, Any], browser: Any
) -> None:
    client = browser(desk.agent)
    # when the agent opens Alice's current ticket
    html = client.get(f"/tickets/{history['current'].pk}/").content.decode()
    # then "See all" counts her tickets in the agent's departments (not Electronics), and says so
    url, text = _link(html, "requester-all")
    assert text == "See all 3 tickets in your departments"
    assert url == f"/?status=any&requester={desk.alice.pk}"
    # and opens the queue with exactly those, whatever their status
    page = client.get(url)
    assert page.status_code == 200
    assert _subjects(page) == ["Current", "Old question", "Still open"]
    assert page.context["total"] == 3
    body = page.content.decode()
    assert "Tickets of Alice Acme" in body
    assert '<span class="muted">Requester:</span> <bdi>Alice Acme</bdi>' in body
    assert "Only tickets in your departments are listed." in body
    # no view of the sidebar is marked as the page's, nor after the counts refresh
    assert 'aria-current="page"' not in body
    refreshed = client.get("/queues/counts/").content.decode()
    assert 'class="qv-count"' in refreshed
    assert 'aria-current="page"' not in refreshed


def test_an_admin_sees_every_ticket_of_the_requester(
    desk: Any, history: dict[str, Any], browser: Any
) -> None:
    client = browser(desk.admin)
    url, text = _link(client.get(f"/tickets/{history['current'].pk}/").content.decode(), "requester-all")
    assert text == "See all 4 tickets"
    page = client.get(url)
    assert _subjects(page) == ["Broken TV", "Current", "Old question", "Still open"]
    assert "Only tickets in your departments" not in page.content.decode()


def test_see_all_of_the_organization_lists_its_tickets_from_every_contact(
    desk: Any, history: dict[str, Any], browser: Any
) -> None:
    client = browser(desk.agent)
    url, text = _link(client.get(f"/tickets/{history['current'].pk}/").content.decode(), "organization-all")
    assert text == "See the organization's 4 tickets in your departments"
    assert url == f"/?status=any&organization={desk.acme.pk}"
    page = client.get(url)
    assert _subjects(page) == ["Bob's order", "Current", "Old question", "Still open"]
    assert '<span class="muted">Organization:</span> <bdi>Acme</bdi>' in page.content.decode()


def test_no_see_all_when_the_requester_has_only_this_ticket(
    desk: Any, history: dict[str, Any], browser: Any
) -> None:
    html = browser(desk.agent).get(f"/tickets/{history['carla'].pk}/").content.decode()
    assert 'id="requester-all"' not in html
    assert 'id="organization-all"' not in html


def test_the_requester_filter_stays_as_other_filters_change_and_the_chip_removes_it(
    desk: Any, history: dict[str, Any], browser: Any
) -> None:
    client = browser(desk.agent)
    # the filter form carries the requester, so picking a status keeps it (HTMX swaps the queue)
    page = client.get(f"/?status=any&requester={desk.alice.pk}")
    body = page.content.decode()
    assert f'<input type="hidden" name="requester" value="{desk.alice.pk}"' in body
    narrowed = client.get(f"/?status=solved&requester={desk.alice.pk}", headers=QUEUE)
    assert _subjects(narrowed) == ["Old question"]
    # sort links and the next page keep it too (bookmarks and the back button work)
    assert all(f"requester={desk.alice.pk}" in c["url"] for c in page.context["columns"] if c.get("url"))
    # the chip's link is the same page without the requester
    chip = re.search(r'<a href="([^"]+)" class="qv-chip-remove"', body)
    assert chip is not None
    remove = chip.group(1).replace("&amp;", "&")
    assert "requester" not in remove
    assert "status=any" in remove
    assert "Bob's order" in _subjects(client.get(remove))


def test_an_unknown_requester_is_said_and_left_out(desk: Any, history: dict[str, Any], browser: Any) -> None:
    page = browser(desk.agent).get("/?status=any&requester=999999")
    assert page.status_code == 200
    assert "That customer no longer exists." in page.content.decode()
    assert "Bob's order" in _subjects(page)


def test_saving_the_narrowed_queue_as_a_view_keeps_the_requester(
    desk: Any, history: dict[str, Any], browser: Any
) -> None:
    from sportello.queues.models import SavedView

    client = browser(desk.agent)
    r = client.post("/queues/views/", {"name": "Alice's", "status": "any", "requester": str(desk.alice.pk)})
    assert r.status_code == 302
    saved = SavedView.objects.get(name="Alice's")
    assert {"field": "ticket.requester", "op": "is", "value": desk.alice.pk} in saved.condition["all"]
    page = client.get(f"/?view={saved.pk}")
    assert _subjects(page) == ["Current", "Old question", "Still open"]
