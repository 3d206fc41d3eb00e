"""Causation depth: a loop through an outside system (webhook → API → rule → webhook) stops at
the cap, and the refusal is recorded."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.core.actors import Via
from sportello.outbox.models import OutboxMessage
from sportello.tickets import services
from sportello.tickets.models import Ticket, TicketEvent


@pytest.fixture
def ticket(desk: Any, now: Any) -> Ticket:
    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Sync me",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=now,
    ).ticket


def test_a_webhook_loop_through_the_api_stops_at_the_cap(
    desk: Any, now: Any, api: Any, ticket: Ticket, settings: Any
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "CAUSATION_DEPTH_MAX": 5}
    # given a rule that calls a webhook on every update made through the API
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "sync",
            "name": "Sync out",
            "on": ["ticket.updated"],
            "when": {"field": "event.via", "op": "is", "value": "api"},
            "actions": [{"webhook": {"url": "https://crm.example.com/hook", "body": "{{ event.depth }}"}}],
        },
        created_by=desk.admin,
        now=now,
    )
    client = api(desk.agent)
    headers: dict[str, str] = {}
    statuses = []
    # when the receiver answers every webhook by updating the ticket, sending the depth on
    for round_trip in range(10):
        version = Ticket.objects.get(pk=ticket.pk).version
        r = client.client.patch(
            f"/api/v1/tickets/{ticket.pk}",
            data={"version": version, "add_tags": [f"sync{round_trip}"]},
            content_type="application/json",
            headers={**client.headers, **headers},
        )
        statuses.append(r.status_code)
        if r.status_code != 200:
            break
        hook = OutboxMessage.objects.filter(ticket=ticket, kind="webhook").order_by("-id").first()
        assert hook is not None
        headers = {"X-Sportello-Depth": hook.payload["headers"]["X-Sportello-Depth"]}
    # then depths 0..5 went through and depth 6 was refused
    assert statuses == [200] * 6 + [409]
    assert r.json()["error"]["code"] == "causation_depth_exceeded"
    bodies = [
        o.payload["body"] for o in OutboxMessage.objects.filter(ticket=ticket, kind="webhook").order_by("id")
    ]
    assert bodies == ["0", "1", "2", "3", "4", "5"]
    # and the refusal is on the ticket, with the depth and what was attempted; nothing else changed
    refused = TicketEvent.objects.get(ticket=ticket, kind="refused")
    assert (refused.depth, refused.new_value) == (
        6,
        {"depth": 6, "max": 5, "attempted": {"operation": "ticket.update", "fields": ["add_tags"]}},
    )
    assert (refused.actor_id, refused.via) == (desk.agent.pk, "api")
    assert "sync6" not in Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)
    # and field events carry the depth they were made at
    events = TicketEvent.objects.filter(ticket=ticket, kind="tags", via="api").order_by("id")
    assert [(e.depth, e.new_value[-1]) for e in events if e.new_value] == [(d, f"sync{d}") for d in range(6)]


@pytest.mark.parametrize("path", ["/tickets/{id}/messages", "/tickets/{id}"])
def test_messages_and_updates_past_the_cap_are_refused(
    desk: Any, api: Any, ticket: Ticket, path: str
) -> None:
    client = api(desk.agent)
    body = {"body": "hi"} if path.endswith("messages") else {"version": ticket.version, "priority": "high"}
    method = client.client.post if path.endswith("messages") else client.client.patch
    r = method(
        f"/api/v1{path.format(id=ticket.pk)}",
        data=body,
        content_type="application/json",
        headers={**client.headers, "X-Sportello-Depth": "6"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "causation_depth_exceeded")
    assert TicketEvent.objects.filter(ticket=ticket, kind="refused").count() == 1
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_creating_past_the_cap_is_refused_and_a_bad_header_is_a_validation_error(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    data = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk}
    count = Ticket.objects.count()
    r = client.client.post(
        "/api/v1/tickets",
        data=data,
        content_type="application/json",
        headers={**client.headers, "X-Sportello-Depth": "9"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "causation_depth_exceeded")
    r = client.client.post(
        "/api/v1/tickets",
        data=data,
        content_type="application/json",
        headers={**client.headers, "X-Sportello-Depth": "-1"},
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "X-Sportello-Depth")
    assert Ticket.objects.count() == count
    # a ticket created at depth 3 records it
    r = client.client.post(
        "/api/v1/tickets",
        data=data,
        content_type="application/json",
        headers={**client.headers, "X-Sportello-Depth": "3"},
    )
    assert r.status_code == 201
    assert TicketEvent.objects.get(ticket_id=r.json()["id"], kind="created").depth == 3


def test_an_outsider_past_the_cap_gets_not_found_and_records_nothing(
    desk: Any, api: Any, ticket: Ticket
) -> None:
    client = api(desk.outsider)
    r = client.client.post(
        f"/api/v1/tickets/{ticket.pk}/messages",
        data={"body": "hi"},
        content_type="application/json",
        headers={**client.headers, "X-Sportello-Depth": "6"},
    )
    assert r.status_code == 404
    assert not TicketEvent.objects.filter(kind="refused").exists()
