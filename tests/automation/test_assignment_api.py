"""`/api/v1/assignment-policies`: admins write versions, agents read, the backlog in order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sportello.automation.assignment import policy_save
from sportello.automation.models import AssignmentBacklog, AssignmentPolicyVersion
from sportello.core.actors import Actor, Via
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage

POLICY = {
    "key": "books-rr",
    "name": "Books round robin",
    "pool": {"department": 0},
    "max_open_per_agent": 5,
}


def body(desk: Any, **over: Any) -> dict[str, Any]:
    return {**POLICY, "pool": {"department": desk.books.pk}, **over}


def test_admin_creates_a_policy_and_agents_read_it(desk: Any, api: Any) -> None:
    # when an admin creates a policy
    r = api(desk.admin).post("/assignment-policies", body(desk))
    # then it is version 1 with its definition normalised (defaults written out)
    assert r.status_code == 201, r.content
    created = r.json()
    assert (created["key"], created["version"], created["active"]) == ("books-rr", 1, True)
    assert created["definition"] == {
        "key": "books-rr",
        "name": "Books round robin",
        "pool": {"department": desk.books.pk},
        "max_open_per_agent": 5,
        "count_categories": ["new", "open"],
        "offline": "skip",
        "backlog": True,
    }
    # and an agent reads it, alone and in the list
    agent = api(desk.agent)
    assert agent.get("/assignment-policies/books-rr").json() == created
    assert agent.get("/assignment-policies").json() == {"items": [created], "next_cursor": None}


def test_put_saves_a_new_immutable_version(desk: Any, api: Any) -> None:
    admin = api(desk.admin)
    admin.post("/assignment-policies", body(desk))
    r = admin.put("/assignment-policies/books-rr", body(desk, max_open_per_agent=7))
    assert (r.status_code, r.json()["version"], r.json()["definition"]["max_open_per_agent"]) == (200, 2, 7)
    versions = AssignmentPolicyVersion.objects.filter(policy__key="books-rr").order_by("version")
    assert [v.definition["max_open_per_agent"] for v in versions] == [5, 7]
    # deactivating keeps the definition and its version
    r = admin.put("/assignment-policies/books-rr", body(desk, max_open_per_agent=7, active=False))
    assert (r.json()["version"], r.json()["active"]) == (2, False)


def test_invalid_definitions_name_the_field(desk: Any, api: Any) -> None:
    admin = api(desk.admin)
    r = admin.post("/assignment-policies", body(desk, offline="sometimes"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "offline"
    r = admin.post("/assignment-policies", {**body(desk), "pool": {"team": 1, "department": 2}})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "pool")
    admin.post("/assignment-policies", body(desk))
    r = admin.post("/assignment-policies", body(desk))
    assert (r.status_code, r.json()["error"]["field"]) == (422, "key")
    r = admin.put("/assignment-policies/books-rr", body(desk, key="other"))
    assert (r.status_code, r.json()["error"]["field"]) == (422, "key")


def test_unknown_policy_is_404(desk: Any, api: Any) -> None:
    assert api(desk.agent).get("/assignment-policies/nope").status_code == 404
    assert api(desk.admin).put("/assignment-policies/nope", body(desk, key="nope")).status_code == 404


def test_backlog_lists_waiting_tickets_in_hand_out_order(desk: Any, api: Any, now: Any) -> None:
    # given a policy with a backlog of three Books tickets (urgent last created)
    policy, _ = policy_save(definition=body(desk), created_by=desk.admin, now=now)
    tickets = []
    for i, priority in enumerate(["normal", "low", "urgent"]):
        out = pipeline.ticket_create(
            actor=Actor.system(),
            via=Via.SYSTEM,
            subject=f"T{i}",
            requester_id=desk.alice.pk,
            department_id=desk.books.pk,
            description=NewMessage(body="x"),
            fields={"priority": priority},
            now=now + timedelta(minutes=i),
        )
        tickets.append(out.ticket)
        AssignmentBacklog.objects.create(
            policy=policy,
            ticket=out.ticket,
            priority=out.ticket.priority,
            ticket_created_at=out.ticket.created_at,
            queued_at=now + timedelta(minutes=i),
        )
    # then the backlog reads urgent first, then oldest
    r = api(desk.agent).get("/assignment-policies/books-rr/backlog")
    assert r.status_code == 200
    assert [(i["subject"], i["priority"]) for i in r.json()["items"]] == [
        ("T2", "urgent"),
        ("T0", "normal"),
        ("T1", "low"),
    ]
    # and an agent of another department sees none of these tickets
    assert api(desk.outsider).get("/assignment-policies/books-rr/backlog").json()["items"] == []
