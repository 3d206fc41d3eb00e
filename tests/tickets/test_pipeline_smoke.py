from typing import Any


def test_agent_opens_ticket_then_replies_and_the_trail_records_both(desk: Any, api: Any) -> None:
    # given an agent of Books
    client = api(desk.agent)
    # when they open a ticket for Alice
    r = client.post(
        "/tickets",
        {
            "subject": "Book arrived torn",
            "description": "Page 12 is torn.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            "priority": "high",
            "tags": ["Damaged Goods"],
        },
    )
    assert r.status_code == 201, r.content
    t = r.json()
    assert t["number"] == 1
    assert t["status"] == "new"
    assert t["priority"] == "high"
    assert t["tags"] == ["damaged_goods"]
    assert t["organization_id"] == desk.acme.pk
    assert t["version"] == 1
    # and reply publicly
    r = client.post(f"/tickets/{t['id']}/messages", {"body": "Sorry! A new copy is on its way."})
    assert r.status_code == 201, r.content
    t2 = client.get(f"/tickets/{t['id']}").json()
    assert t2["status"] == "open"
    assert t2["version"] == 2
    assert t2["first_response_at"] is not None
    # then a stale version is refused with 409 and nothing changes
    r = client.patch(f"/tickets/{t['id']}", {"version": 1, "priority": "low"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "stale_version"
    assert client.get(f"/tickets/{t['id']}").json()["priority"] == "high"
    events = client.get(f"/tickets/{t['id']}/events").json()["items"]
    fields = [(e["kind"], e["field"], e["new_value"]) for e in events]
    # the opening is one event carrying the ticket's initial values and its first message
    (created,) = [e for e in events if e["kind"] == "created"]
    assert created["new_value"] == {
        "number": 1,
        "values": {
            "channel": "api",
            "department": desk.books.pk,
            "organization": desk.acme.pk,
            "priority": "high",
            "requester": desk.alice.pk,
            "status": "new",
            "status_category": "new",
            "subject": "Book arrived torn",
            "tags": ["damaged_goods"],
        },
        "message": {
            "message_id": created["new_value"]["message"]["message_id"],
            "author_kind": "contact",  # the description: the requester's words
            "public": True,
        },
    }
    assert [e["kind"] for e in events if e["change_id"] == created["change_id"]] == ["created"]
    assert ("field", "status", "open") in fields
