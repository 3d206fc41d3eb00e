"""`/api/v1/macros`: save, preview, apply, bulk, with the causation depth header."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.core.actors import Via
from sportello.tickets import services
from sportello.tickets.models import Ticket, TicketEvent
from testing import recorded

MACRO = {
    "key": "ship",
    "name": "Shipped",
    "visibility": {"scope": "everyone", "ids": []},
    "actions": [
        {"set": {"field": "ticket.priority", "value": "low"}},
        {"add_tags": ["shipped"]},
        {"reply": {"body": "Hi {{ requester.name }}, it shipped. {{ agent.name }}"}},
    ],
}


@pytest.fixture
def ticket(desk: Any, now: Any) -> Ticket:
    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Where?",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=now,
    ).ticket


def test_create_get_put_and_list(desk: Any, api: Any) -> None:
    admin = api(desk.admin)
    r = admin.post("/macros", MACRO)
    assert r.status_code == 201
    assert (r.json()["key"], r.json()["version"], r.json()["visibility"]) == ("ship", 1, "everyone")
    assert admin.post("/macros", MACRO).json()["error"]["code"] == "macro_exists"
    r = admin.put("/macros/ship", {**MACRO, "name": "Shipped!"})
    assert (r.status_code, r.json()["version"], r.json()["definition"]["name"]) == (200, 2, "Shipped!")
    assert [m["key"] for m in api(desk.agent).get("/macros").json()["items"]] == ["ship"]
    # a schema error names its path
    bad = {**MACRO, "key": "bad", "actions": [{"reply": {"body": ""}}]}
    r = admin.post("/macros", bad)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "actions[0].reply.body")


def test_preview_then_apply_the_previewed_version(desk: Any, api: Any, ticket: Ticket) -> None:
    api(desk.admin).post("/macros", MACRO)
    client = api(desk.agent)
    preview = client.post("/macros/ship/preview", {"ticket_id": ticket.pk}).json()
    assert preview["message"] == {"public": True, "body": "Hi Alice Acme, it shipped. Bruno Books"}
    assert {"field": "priority", "old": "normal", "new": "low"} in preview["changes"]
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version
    r = client.post("/macros/ship/apply", {"ticket_id": ticket.pk, "version": preview["version"]})
    assert r.status_code == 200
    body = r.json()
    assert (body["ticket"]["priority"], body["ticket"]["tags"]) == ("low", ["shipped"])
    assert body["message"]["body"] == preview["message"]["body"]
    # a version that is no longer current is a conflict
    r = client.post("/macros/ship/apply", {"ticket_id": ticket.pk, "version": 7})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "stale_macro_version")


def test_apply_bulk_reports_each_ticket(desk: Any, api: Any, ticket: Ticket) -> None:
    api(desk.admin).post("/macros", MACRO)
    r = api(desk.agent).post("/macros/ship/apply-bulk", {"ticket_ids": [ticket.pk, 999_999]})
    assert r.status_code == 200
    assert [(i["ticket_id"], i["ok"], i["error"] and i["error"]["status"]) for i in r.json()["items"]] == [
        (ticket.pk, True, None),
        (999_999, False, 404),
    ]
    r = api(desk.agent).post("/macros/ship/apply-bulk", {"ticket_ids": list(range(1, 102))})
    assert r.status_code == 422


def test_apply_past_the_depth_cap_is_refused_and_recorded(desk: Any, api: Any, ticket: Ticket) -> None:
    api(desk.admin).post("/macros", MACRO)
    client = api(desk.agent)
    r = client.client.post(
        "/api/v1/macros/ship/apply",
        data={"ticket_id": ticket.pk},
        content_type="application/json",
        headers={**client.headers, "X-Sportello-Depth": "6"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "causation_depth_exceeded")
    refused = TicketEvent.objects.get(ticket=ticket, kind="refused")
    assert recorded(refused)["attempted"] == {"operation": "macro.apply", "macro": "ship"}
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version
