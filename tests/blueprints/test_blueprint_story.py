"""The Returns process end to end through the API: an admin saves it, a ticket enters it on
creation, the agent sends the label (an order id and a note are needed), the admin refunds, the
process completes. Refusals answer 409 or 422 with every reason."""

from __future__ import annotations

from typing import Any

from sportello.blueprints.models import Blueprint, BlueprintVersion, TicketBlueprint
from sportello.outbox.models import OutboxMessage
from sportello.tickets.models import Message, Ticket, TicketEvent
from workflow_setup import blueprint_events, returns_definition, run_of


def create_ticket(client: Any, desk: Any, kind: str = "return") -> dict[str, Any]:
    r = client.post(
        "/tickets",
        {
            "subject": "Wrong size",
            "description": "I want to send it back.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            "custom_fields": {"kind": kind},
        },
    )
    assert r.status_code == 201, r.content
    return r.json()


def test_the_returns_story_from_entry_to_refund(desk: Any, fields: None, api: Any) -> None:
    admin, agent = api(desk.admin), api(desk.agent)
    # given the Returns blueprint saved by an admin
    r = admin.post("/blueprints", returns_definition(desk))
    assert r.status_code == 201, r.content
    assert (r.json()["key"], r.json()["version"], r.json()["written"]) == ("returns", 1, True)

    # when a return is opened, it enters the process in its initial state, whose status the
    # blueprint sets (a new ticket becomes open)
    ticket = create_ticket(agent, desk)
    assert ticket["status"] == "open"
    process = agent.get(f"/tickets/{ticket['id']}/blueprint").json()
    assert (process["active"], process["blueprint"]["key"], process["state"]["key"]) == (
        True,
        "returns",
        "received",
    )
    # and the agent is offered the label, with what it asks for; the refund is for admins later
    assert [t["key"] for t in process["transitions"]] == ["label-sent"]
    inputs = process["transitions"][0]["inputs"]
    assert inputs["note"] == "required"
    assert [(f["field"], f["path"], f["required"], f["matches"]) for f in inputs["fields"]] == [
        ("custom_fields.order_id", "ticket.custom.order_id", True, "^[A-Z]{2}[0-9]{6}$")
    ]
    status_event = TicketEvent.objects.filter(ticket_id=ticket["id"], field="status").last()
    assert status_event is not None
    assert (status_event.actor_kind, status_event.cause, status_event.new_value) == (
        "blueprint",
        "blueprint:returns@1",
        "open",
    )

    # when the agent sends the label without inputs: 422 with every problem
    url = f"/tickets/{ticket['id']}/blueprint/transitions/label-sent"
    r = agent.post(url, {})
    assert r.status_code == 422
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("validation_failed", "custom_fields.order_id")
    assert [(d["code"], d["field"]) for d in error["details"]] == [
        ("missing_field", "custom_fields.order_id"),
        ("note_required", "note"),
    ]
    # and with a malformed order id, the blueprint's own message
    r = agent.post(url, {"custom_fields": {"order_id": "12"}, "note": "Label sent"})
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [
        {
            "code": "invalid_field",
            "field": "custom_fields.order_id",
            "message": "An order id looks like AB123456",
        }
    ]
    # and the refund is not allowed: not from this state, and the agent is no owner (409)
    r = agent.post(f"/tickets/{ticket['id']}/blueprint/transitions/refund", {})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "transition_not_allowed"
    assert [d["code"] for d in r.json()["error"]["details"]] == [
        "not_available",
        "not_owner",
        "missing_field",
    ]
    assert Ticket.objects.get(pk=ticket["id"]).version == ticket["version"]  # nothing written

    # when the agent sends the label properly
    r = agent.post(
        url,
        {
            "version": ticket["version"],
            "custom_fields": {"order_id": "AB123456"},
            "note": "Label sent by post",
        },
    )
    assert r.status_code == 200, r.content
    done = r.json()
    # then the ticket awaits the item, pending, with the order id, the note and the tag
    assert (done["state"]["key"], done["steps"]) == (
        "awaiting-item",
        [
            {
                "transition": "label-sent",
                "from_state": "received",
                "to_state": "awaiting-item",
                "automatic": False,
            }
        ],
    )
    t = Ticket.objects.get(pk=ticket["id"])
    assert (t.status.key, t.custom_fields["order_id"]) == ("pending", "AB123456")
    assert list(t.tags.values_list("name", flat=True)) == ["label_sent"]
    note = Message.objects.get(ticket=t, public=False)
    assert (note.body_text, note.author_agent_id) == ("Label sent by post", desk.agent.pk)
    # and the customer is told, in the same change
    mail = OutboxMessage.objects.get(change_id=done["change_id"], kind="email")
    assert (mail.payload["to"], mail.payload["subject"]) == (
        ["alice@acme.test"],
        "Your return label for AB123456",
    )
    # and the audit trail says who did what and why: the agent's transition, its inputs and
    # the after actions (part of the agent's change, seen by event rules) under the transition's
    # cause
    cause = "blueprint:returns@1:label-sent"
    rows = {
        (e.kind, e.field): (e.actor_kind, e.cause)
        for e in TicketEvent.objects.filter(change_id=done["change_id"])
    }
    assert rows == {
        ("blueprint", "transition"): ("agent", cause),
        ("field", "status"): ("agent", cause),
        ("field", "status_category"): ("agent", cause),
        ("field", "custom_fields.order_id"): ("agent", cause),
        ("message", "internal"): ("agent", cause),
        ("tags", "tags"): ("agent", cause),
    }
    # and the agent has nothing more to do; the admin may refund
    assert agent.get(f"/tickets/{ticket['id']}/blueprint").json()["transitions"] == []
    offered = admin.get(f"/tickets/{ticket['id']}/blueprint").json()["transitions"]
    assert [
        (t["key"], t["inputs"]["fields"][0]["min"], t["inputs"]["fields"][0]["max"]) for t in offered
    ] == [("refund", 0, 500)]

    # when the admin refunds 42.50
    r = admin.post(
        f"/tickets/{ticket['id']}/blueprint/transitions/refund", {"custom_fields": {"refund_amount": "42.50"}}
    )
    assert r.status_code == 200, r.content
    # then the process is complete and the ticket solved
    done = r.json()
    assert (done["active"], done["state"]["key"], done["transitions"]) == (False, "refunded", [])
    assert done["completed_at"] is not None
    t.refresh_from_db()
    assert (t.status.key, t.custom_fields["refund_amount"]) == ("solved", "42.5")
    run = run_of(t)
    assert (run.active, run.state, run.completed_at is not None) == (False, "refunded", True)
    assert [(f, a) for f, a, _ in blueprint_events(t)] == [
        ("attached", "blueprint"),
        ("transition", "agent"),
        ("transition", "agent"),
        ("completed", "blueprint"),
    ]


def test_a_ticket_that_does_not_match_the_entry_follows_no_blueprint(
    desk: Any, returns: Any, api: Any
) -> None:
    agent = api(desk.agent)
    # when an exchange is opened
    ticket = create_ticket(agent, desk, kind="exchange")
    # then it stays new, in no process, and a transition is refused
    assert ticket["status"] == "new"
    process = agent.get(f"/tickets/{ticket['id']}/blueprint").json()
    assert (process["active"], process["blueprint"], process["state"], process["transitions"]) == (
        False,
        None,
        None,
        [],
    )
    r = agent.post(f"/tickets/{ticket['id']}/blueprint/transitions/label-sent", {})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "transition_not_allowed")
    assert TicketBlueprint.objects.count() == 0
    # when it later becomes a return, it enters the process on that change
    r = agent.patch(
        f"/tickets/{ticket['id']}", {"version": ticket["version"], "custom_fields": {"kind": "return"}}
    )
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "open"
    assert agent.get(f"/tickets/{ticket['id']}/blueprint").json()["state"]["key"] == "received"


def test_a_plain_status_change_is_refused_naming_the_transitions(desk: Any, returns: Any, api: Any) -> None:
    agent = api(desk.agent)
    ticket = create_ticket(agent, desk)
    # when the agent sets the status by hand
    r = agent.patch(f"/tickets/{ticket['id']}", {"version": ticket["version"], "status": "solved"})
    # then it is refused, with the way to go
    assert r.status_code == 409
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("blueprint_transition_required", "status")
    assert "label-sent (Send the return label)" in error["message"]
    t = Ticket.objects.get(pk=ticket["id"])
    assert (t.status.key, t.version) == ("open", ticket["version"])
    # and other fields change freely
    r = agent.patch(f"/tickets/{ticket['id']}", {"version": ticket["version"], "priority": "high"})
    assert r.status_code == 200


def test_blueprints_are_versioned_and_deactivated_not_deleted(desk: Any, fields: None, api: Any) -> None:
    admin, agent = api(desk.admin), api(desk.agent)
    admin.post("/blueprints", returns_definition(desk))
    # a second POST of the key is a conflict; PUT saves version 2; the same body writes nothing
    assert admin.post("/blueprints", returns_definition(desk)).status_code == 409
    renamed = returns_definition(desk, name="Returns and refunds")
    assert admin.put("/blueprints/returns", renamed).json()["version"] == 2
    assert admin.put("/blueprints/returns", renamed).json()["written"] is False
    # DELETE deactivates with a new version
    r = admin.delete("/blueprints/returns")
    assert (r.status_code, r.json()["active"], r.json()["version"]) == (200, False, 3)
    versions = agent.get("/blueprints/returns/versions").json()["items"]
    assert [(v["version"], v["definition"]["name"], v["definition"]["active"]) for v in versions] == [
        (3, "Returns and refunds", False),
        (2, "Returns and refunds", True),
        (1, "Returns", True),
    ]
    assert BlueprintVersion.objects.count() == 3
    # and a deactivated blueprint takes no new ticket
    ticket = create_ticket(agent, desk)
    assert (ticket["status"], TicketBlueprint.objects.count()) == ("new", 0)
    assert Blueprint.objects.get().active is False


def test_an_invalid_definition_is_refused_with_its_path(desk: Any, fields: None, api: Any) -> None:
    admin = api(desk.admin)
    bad = returns_definition(desk)
    bad["states"][1]["status"] = "lost"
    r = admin.post("/blueprints", bad)
    assert r.status_code == 422
    assert (r.json()["error"]["field"], r.json()["error"]["message"]) == (
        "states[1].status",
        "'lost' is not a ticket status",
    )
    bad = returns_definition(desk)
    bad["transitions"][1]["owners"] = {"roles": ["light_agent"]}
    assert admin.post("/blueprints", bad).json()["error"]["field"] == "transitions[1].owners.roles[0]"
    bad = returns_definition(desk)
    bad["transitions"][0]["owners"] = {"agents": [desk.light.pk]}
    r = admin.post("/blueprints", bad)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "transitions[0].owners.agents[0]")
    assert admin.post("/blueprints", returns_definition(desk, key="export")).status_code == 422
    assert Blueprint.objects.count() == 0
