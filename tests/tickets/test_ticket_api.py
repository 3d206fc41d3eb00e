"""The ticket endpoints: create, read, change, list (filters, sorting, cursor pages), messages,
events, and the error shapes and access rules around them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import pytest

from sportello.tickets.models import Message, Ticket, TicketEvent

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def assert_error(r: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/json"
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert {"code", "message", "field"} <= set(err)
    assert err["code"] == code
    assert isinstance(err["message"], str)
    assert err["message"]
    if field is not None:
        assert err["field"] == field
    return err


@pytest.fixture
def fields(desk: Any) -> None:
    """A picklist and a text field in the Books layout."""
    from sportello.tickets.models import CustomField, LayoutField

    sub = CustomField.objects.create(
        key="subcategory",
        label="Subcategory",
        type="picklist",
        options=[{"value": "novels", "label": "Novels"}, {"value": "poetry", "label": "Poetry"}],
    )
    isbn = CustomField.objects.create(key="isbn", label="ISBN", type="text")
    LayoutField.objects.create(department=desk.books, field=sub)
    LayoutField.objects.create(department=desk.books, field=isbn)


def open_ticket(client: Any, desk: Any, **over: Any) -> dict[str, Any]:
    data = {
        "subject": "Where is my order?",
        "description": "It has been a week.",
        "department_id": desk.books.pk,
        "requester_id": desk.alice.pk,
        **over,
    }
    r = client.post("/tickets", data)
    assert r.status_code == 201, r.content
    return r.json()


# --------------------------------------------------------------------------------------------
# Create and read


def test_agent_opens_ticket_with_every_field(desk: Any, api: Any, fields: None) -> None:
    client = api(desk.agent)
    t = open_ticket(
        client,
        desk,
        subject="  Torn\n  cover  ",
        status="open",
        priority="urgent",
        channel="phone",
        team_id=desk.team.pk,
        assignee_id=desk.agent.pk,
        due_at="2026-12-01T10:00:00+01:00",
        tags=["Damaged Goods", "refund"],
        custom_fields={"subcategory": "novels", "isbn": "978-0"},
    )
    assert t["subject"] == "Torn cover"  # whitespace folded into one line
    assert (t["status"], t["status_category"]) == ("open", "open")
    assert (t["priority"], t["channel"]) == ("urgent", "phone")
    assert (t["department_id"], t["team_id"], t["assignee_id"]) == (
        desk.books.pk,
        desk.team.pk,
        desk.agent.pk,
    )
    assert (t["requester_id"], t["organization_id"]) == (desk.alice.pk, desk.acme.pk)
    assert t["tags"] == ["damaged_goods", "refund"]
    assert t["custom_fields"] == {"subcategory": "novels", "isbn": "978-0"}
    assert datetime.fromisoformat(t["due_at"]) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert (t["version"], t["message_count"]) == (1, 1)
    assert client.get(f"/tickets/{t['id']}").json() == t
    # the description is the requester's first public message
    [m] = client.get(f"/tickets/{t['id']}/messages").json()["items"]
    assert (m["public"], m["author_kind"], m["author_contact_id"], m["body"]) == (
        True,
        "contact",
        desk.alice.pk,
        "It has been a week.",
    )


def test_ticket_for_a_new_requester_email_creates_the_contact(desk: Any, api: Any) -> None:
    t = open_ticket(
        api(desk.agent),
        desk,
        requester_id=None,
        requester_email="New.Person@Acme.test",
        requester_name="Nina",
    )
    from sportello.contacts.models import Contact

    c = Contact.objects.get(pk=t["requester_id"])
    assert (c.email, c.name, t["organization_id"]) == ("new.person@acme.test", "Nina", desk.acme.pk)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"requester_id": None}, "requester_id"),
        ({"requester_id": 987654}, "requester_id"),
        ({"requester_id": None, "requester_email": "not an email"}, "requester_email"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 251}, "subject"),
        ({"subject": 5}, "subject"),
        ({"department_id": 987654}, "department_id"),
        ({"department_id": "books"}, "department_id"),
        ({"priority": "critical"}, "priority"),
        ({"channel": "pigeon"}, "channel"),
        ({"status": "nope"}, "status"),
        ({"team_id": 987654}, "team_id"),
        ({"assignee_id": 987654}, "assignee_id"),
        ({"organization_id": 987654}, "organization_id"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"due_at": "2026-12-01T10:00:00"}, "due_at"),
        ({"tags": "a,b"}, "tags"),
        ({"tags": ["a,b"]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["x" * 81]}, "tags"),
        ({"custom_fields": {"nope": "x"}}, "custom_fields.nope"),
        ({"custom_fields": {"subcategory": "jazz"}}, "custom_fields.subcategory"),
        ({"description": "", "description_html": ""}, "description"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_create_validation_errors_name_the_field(
    desk: Any, api: Any, fields: None, over: dict[str, Any], field: str
) -> None:
    client = api(desk.agent)
    data = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk}
    data.update(over)
    assert_error(client.post("/tickets", data), 422, "validation_failed", field)
    assert not Ticket.objects.exists()


def test_team_of_another_department_and_light_agent_assignee_are_refused(desk: Any, api: Any) -> None:
    from sportello.accounts.services import team_create

    client = api(desk.admin)
    gadgets = team_create(name="Gadgets", department=desk.electronics, members=[desk.outsider])
    data = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk}
    assert_error(
        client.post("/tickets", {**data, "team_id": gadgets.pk}), 422, "validation_failed", "team_id"
    )
    r = client.post("/tickets", {**data, "assignee_id": desk.light.pk})
    assert_error(r, 422, "validation_failed", "assignee_id")
    r = client.post("/tickets", {**data, "assignee_id": desk.outsider.pk})
    assert_error(r, 422, "validation_failed", "assignee_id")


def test_get_missing_ticket_is_404(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    assert_error(client.get("/tickets/424242"), 404, "not_found")
    assert_error(client.get(f"/tickets/{2**63}"), 404, "not_found")
    assert_error(client.get("/tickets/-1"), 404, "not_found")
    r = client.get("/tickets/abc")
    assert_error(r, 422, "validation_failed", "ticket_id")


# --------------------------------------------------------------------------------------------
# Change


def test_patch_changes_fields_bumps_version_and_records_events(desk: Any, api: Any, fields: None) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk, tags=["a", "b"])
    r = client.patch(
        f"/tickets/{t['id']}",
        {
            "version": 1,
            "subject": "Order 42 missing",
            "priority": "high",
            "status": "pending",
            "team_id": desk.team.pk,
            "assignee_id": desk.agent.pk,
            "add_tags": ["c"],
            "remove_tags": ["a"],
            "custom_fields": {"subcategory": "poetry"},
        },
    )
    assert r.status_code == 200, r.content
    t2 = r.json()
    assert (t2["subject"], t2["priority"], t2["status"], t2["status_category"]) == (
        "Order 42 missing",
        "high",
        "pending",
        "pending",
    )
    assert (t2["team_id"], t2["assignee_id"], t2["tags"]) == (desk.team.pk, desk.agent.pk, ["b", "c"])
    assert t2["custom_fields"] == {"subcategory": "poetry"}
    assert t2["version"] == 2
    assert client.get(f"/tickets/{t['id']}").json() == t2
    events = client.get(f"/tickets/{t['id']}/events").json()["items"]
    changed = {e["field"]: (e["old_value"], e["new_value"]) for e in events if e["kind"] in ("field", "tags")}
    assert changed["subject"] == ("Where is my order?", "Order 42 missing")
    assert changed["priority"] == ("normal", "high")
    assert changed["status"] == ("new", "pending")
    assert changed["assignee"] == (None, desk.agent.pk)
    assert changed["tags"] == (["a", "b"], ["b", "c"])
    assert changed["custom_fields.subcategory"] == (None, "poetry")
    patch_change = events[-1]["change_id"]
    last = [e for e in events if e["change_id"] == patch_change]
    assert {e["field"] for e in last} == {
        "subject",
        "priority",
        "status",
        "status_category",
        "team",
        "assignee",
        "tags",
        "custom_fields.subcategory",
    }
    assert {(e["actor_kind"], e["actor_id"], e["via"]) for e in last} == {("agent", desk.agent.pk, "api")}
    # null clears optional fields
    r = client.patch(f"/tickets/{t['id']}", {"version": 2, "assignee_id": None, "team_id": None, "tags": []})
    assert r.status_code == 200, r.content
    assert (r.json()["assignee_id"], r.json()["team_id"], r.json()["tags"]) == (None, None, [])


def test_patch_with_no_change_keeps_version(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk)
    r = client.patch(f"/tickets/{t['id']}", {"version": 1, "priority": "normal"})
    assert r.status_code == 200, r.content
    assert r.json()["version"] == 1


def test_stale_version_is_409_and_nothing_is_written(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk)
    assert client.patch(f"/tickets/{t['id']}", {"version": 1, "priority": "low"}).status_code == 200
    events_before = TicketEvent.objects.count()
    err = assert_error(
        client.patch(f"/tickets/{t['id']}", {"version": 1, "priority": "urgent"}),
        409,
        "stale_version",
        "version",
    )
    assert "reload" in err["message"]
    assert client.get(f"/tickets/{t['id']}").json()["priority"] == "low"
    assert TicketEvent.objects.count() == events_before
    # a message with a stale version is refused too
    r = client.post(f"/tickets/{t['id']}/messages", {"body": "hi", "version": 1})
    assert_error(r, 409, "stale_version", "version")
    assert Message.objects.filter(ticket_id=t["id"]).count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"subject": None}, "subject"),
        ({"status": None}, "status"),
        ({"priority": None}, "priority"),
        ({"department_id": None}, "department_id"),
        ({"requester_id": None}, "requester_id"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 251}, "subject"),
        ({"number": 5}, "number"),
        ({"version": "one"}, "version"),
        ({"assignee_id": True}, "assignee_id"),
        ({"assignee_id": 1.0}, "assignee_id"),
        ({"version": True}, "version"),
        ({"assignee_id": -1}, "assignee_id"),
        ({"tags": [1]}, "tags.0"),
    ],
)
def test_patch_validation_errors_name_the_field(
    desk: Any, api: Any, data: dict[str, Any], field: str
) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk)
    r = client.patch(f"/tickets/{t['id']}", {"version": 1, **data})
    assert_error(r, 422, "validation_failed", field)
    assert client.get(f"/tickets/{t['id']}").json() == t


def test_patch_without_version_is_422(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk)
    assert_error(
        client.patch(f"/tickets/{t['id']}", {"priority": "low"}), 422, "validation_failed", "version"
    )


def test_closed_ticket_cannot_change(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk)
    t = client.patch(f"/tickets/{t['id']}", {"version": 1, "status": "closed"}).json()
    assert t["closed_at"] is not None
    assert t["solved_at"] is not None
    r = client.patch(f"/tickets/{t['id']}", {"version": t["version"], "status": "open"})
    assert_error(r, 409, "ticket_closed")
    assert_error(client.post(f"/tickets/{t['id']}/messages", {"body": "x"}), 409, "ticket_closed")


# --------------------------------------------------------------------------------------------
# Transport errors


def test_non_json_body_is_415(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    r = client.client.post(
        "/api/v1/tickets", data="subject=x", content_type="text/plain", headers=client.headers
    )
    assert_error(r, 415, "unsupported_media_type")
    r = client.client.post("/api/v1/tickets", data={"subject": "x"}, headers=client.headers)  # multipart form
    assert_error(r, 415, "unsupported_media_type")
    t = open_ticket(client, desk)
    r = client.client.patch(
        f"/api/v1/tickets/{t['id']}",
        data=b"<xml/>",
        content_type="application/xml",
        headers=client.headers,
    )
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("raw", [b"{", b'{"subject": }', b"\xff\xfe{}", b"[1,2", b"{'a': 1}"])
def test_malformed_json_is_400(desk: Any, api: Any, raw: bytes) -> None:
    client = api(desk.agent)
    r = client.client.post(
        "/api/v1/tickets", data=raw, content_type="application/json", headers=client.headers
    )
    assert_error(r, 400, "bad_request")
    t = open_ticket(client, desk)
    r = client.client.patch(
        f"/api/v1/tickets/{t['id']}", data=raw, content_type="application/json", headers=client.headers
    )
    assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"text"', b"42"])
def test_json_that_is_not_an_object_is_422(desk: Any, api: Any, raw: bytes) -> None:
    client = api(desk.agent)
    r = client.client.post(
        "/api/v1/tickets", data=raw, content_type="application/json", headers=client.headers
    )
    assert r.status_code in (400, 422), r.content
    assert_error(r, r.status_code, "bad_request" if r.status_code == 400 else "validation_failed")


# --------------------------------------------------------------------------------------------
# Listing: filters


@pytest.fixture
def queue(desk: Any, api: Any, fields: None) -> dict[str, Any]:
    """Six tickets with distinct attributes, opened by an admin in both departments."""
    from sportello.contacts.services import contact_create

    client = api(desk.admin)
    carl = contact_create(email="carl@solo.test", name="Carl")
    q: dict[str, Any] = {}
    q["a"] = open_ticket(
        client, desk, priority="low", tags=["refund"], custom_fields={"subcategory": "novels"}
    )
    q["b"] = open_ticket(
        client, desk, priority="urgent", assignee_id=desk.agent.pk, team_id=desk.team.pk, status="open"
    )
    q["c"] = open_ticket(client, desk, priority="high", requester_id=desk.bob.pk, status="pending")
    q["d"] = open_ticket(client, desk, priority="high", requester_id=carl.pk, tags=["refund", "vip"])
    q["e"] = open_ticket(client, desk, department_id=desk.electronics.pk, priority="urgent", status="solved")
    q["f"] = open_ticket(
        client, desk, priority="normal", assignee_id=desk.admin.pk, custom_fields={"subcategory": "poetry"}
    )
    q["ids"] = {k: v["id"] for k, v in q.items()}
    return q


def listed(client: Any, **params: Any) -> list[int]:
    r = client.get("/tickets", {"limit": 200, **params})
    assert r.status_code == 200, r.content
    return [t["id"] for t in r.json()["items"]]


def test_list_filters(desk: Any, api: Any, queue: dict[str, Any]) -> None:
    ids = queue["ids"]
    client = api(desk.admin)

    def names(**params: Any) -> set[str]:
        found = set(listed(client, **params))
        return {k for k, v in ids.items() if v in found}

    assert names() == set("abcdef")
    assert names(status="open") == {"b"}
    assert names(status="open,pending") == {"b", "c"}
    assert names(status="no_such_status") == set()
    assert names(category="new") == {"a", "d", "f"}
    assert names(category="solved,pending") == {"c", "e"}
    assert names(priority="high") == {"c", "d"}
    assert names(priority="urgent,low") == {"a", "b", "e"}
    assert names(department_id=desk.electronics.pk) == {"e"}
    assert names(department_id=desk.books.pk) == set("abcdf")
    assert names(team_id=desk.team.pk) == {"b"}
    assert names(assignee_id=desk.agent.pk) == {"b"}
    assert names(assignee_id=0) == {"a", "c", "d", "e"}
    assert names(requester_id=desk.bob.pk) == {"c"}
    assert names(requester_id=desk.alice.pk) == {"a", "b", "e", "f"}
    assert names(organization_id=desk.acme.pk) == {"a", "b", "e", "f"}
    assert names(tag="refund") == {"a", "d"}
    assert names(tag=" VIP ") == {"d"}
    assert names(custom_field="subcategory:poetry") == {"f"}
    assert names(custom_field="subcategory:jazz") == set()
    assert names(priority="high", tag="refund") == {"d"}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert names(updated_since=past) == set("abcdef")
    assert names(updated_since=future) == set()


def test_agents_list_only_their_departments(desk: Any, api: Any, queue: dict[str, Any]) -> None:
    ids = queue["ids"]
    assert set(listed(api(desk.agent))) == {ids[k] for k in "abcdf"}
    assert set(listed(api(desk.light))) == {ids[k] for k in "abcdf"}
    assert set(listed(api(desk.outsider))) == {ids["e"]}
    # a filter cannot widen the scope
    assert listed(api(desk.outsider), department_id=desk.books.pk) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "bogus"}, "category"),
        ({"priority": "critical"}, "priority"),
        ({"custom_field": "no-colon"}, "custom_field"),
        ({"custom_field": ":value"}, "custom_field"),
        ({"custom_field": "123:x"}, "custom_field"),
        ({"custom_field": "a__contains:x"}, None),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": "2026-01-01T00:00:00"}, "updated_since"),
        ({"sort": "subject"}, "sort"),
        ({"sort": "priority,created_at,number,updated_at"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"assignee_id": "me"}, "assignee_id"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_list_parameter_errors_name_the_parameter(
    desk: Any, api: Any, params: dict[str, Any], field: str | None
) -> None:
    r = api(desk.admin).get("/tickets", params)
    if field is None:  # a well-formed key that names nothing: an empty page, never a lookup
        assert r.status_code == 200, r.content
        assert r.json()["items"] == []
    else:
        assert_error(r, 422, "validation_failed", field)


# --------------------------------------------------------------------------------------------
# Listing: sorting and cursor pages


@pytest.fixture
def many(desk: Any, fields: None) -> list[Ticket]:
    """23 tickets with clustered priorities and created_at values (ties on purpose)."""
    from sportello.core.actors import Via
    from sportello.tickets import services

    out = []
    for i in range(23):
        outcome = services.ticket_open(
            principal=desk.admin,
            via=Via.API,
            data={
                "subject": f"T{i}",
                "description": "d",
                "department_id": desk.books.pk,
                "requester_id": desk.alice.pk,
                "priority": ["low", "normal", "high", "urgent"][i % 4],
            },
            now=T0 + timedelta(minutes=i // 3),
        )
        out.append(outcome.ticket)
    return out


def expected_order(tickets: list[Ticket], sort: str) -> list[int]:
    rows = list(tickets)
    keys = [k.strip() for k in sort.split(",")]
    if keys[-1].lstrip("-") != "id":
        keys.append(("-" if keys[-1].startswith("-") else "") + "id")
    for key in reversed(keys):
        name = key.lstrip("-")
        attr = "pk" if name == "id" else name
        rows.sort(key=attrgetter(attr), reverse=key.startswith("-"))
    return [t.pk for t in rows]


def walk(client: Any, limit: int, **params: Any) -> tuple[list[int], int]:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        q = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        r = client.get("/tickets", q)
        assert r.status_code == 200, r.content
        body = r.json()
        pages += 1
        assert len(body["items"]) <= limit
        seen += [t["id"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 100


SORTS = [None, "-priority,created_at", "priority,-created_at", "created_at", "-updated_at", "number", "-id"]


@pytest.mark.parametrize("limit", [1, 4, 23, 50])
def test_cursor_walk_visits_every_ticket_once_in_sort_order(
    desk: Any, api: Any, many: list[Ticket], limit: int
) -> None:
    client = api(desk.admin)
    for sort in SORTS:
        params = {"sort": sort} if sort else {}
        seen, pages = walk(client, limit, **params)
        assert len(seen) == len(set(seen)) == 23, sort
        assert seen == expected_order(many, sort or "-id"), sort
        # the last page hands out no cursor, so no empty page is ever fetched
        assert pages == -(-23 // limit), sort


def test_cursor_walk_is_stable_while_new_tickets_arrive(desk: Any, api: Any, many: list[Ticket]) -> None:
    # given a walk in ascending id order that has started
    client = api(desk.admin)
    first = client.get("/tickets", {"limit": 5, "sort": "id"}).json()
    # when a ticket is opened mid-walk
    newest = open_ticket(client, desk)
    seen = [t["id"] for t in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/tickets", {"limit": 5, "sort": "id", "cursor": cursor}).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
    # then nothing is skipped or repeated, and the new ticket appears at the end
    assert seen == [*sorted(t.pk for t in many), newest["id"]]


def test_cursor_from_another_sort_or_tampered_is_422(desk: Any, api: Any, many: list[Ticket]) -> None:
    client = api(desk.admin)
    cursor = client.get("/tickets", {"limit": 2, "sort": "-priority,created_at"}).json()["next_cursor"]
    assert cursor
    assert_error(
        client.get("/tickets", {"cursor": cursor, "sort": "number"}), 422, "validation_failed", "cursor"
    )
    forged = [
        base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=")
        for v in ([1], ["x", "y"], {"a": 1}, [True], [1.5], [None], [10**30])
    ]
    for bad in [*forged, "!!!", "%%%", "a", "\u00e9", cursor[:-3] + "zzz"]:
        r = client.get("/tickets", {"cursor": bad})
        assert r.status_code in (200, 422), (bad, r.content)
        if r.status_code == 422:
            assert_error(r, 422, "validation_failed", "cursor")


# --------------------------------------------------------------------------------------------
# Messages and events


def test_agent_reply_internal_note_and_message_pages(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk)
    r = client.post(f"/tickets/{t['id']}/messages", {"body": "On its way.", "version": 1})
    assert r.status_code == 201, r.content
    reply = r.json()
    assert (reply["public"], reply["author_kind"], reply["author_agent_id"], reply["via"]) == (
        True,
        "agent",
        desk.agent.pk,
        "api",
    )
    r = client.post(
        f"/tickets/{t['id']}/messages",
        {"body_html": "<p>Check <b>stock</b><script>x()</script></p>", "public": False},
    )
    assert r.status_code == 201, r.content
    note = r.json()
    assert note["public"] is False
    assert note["body_html"] == "<p>Check <b>stock</b></p>"
    assert note["body"] == "Check stock"
    t2 = client.get(f"/tickets/{t['id']}").json()
    assert (t2["message_count"], t2["version"], t2["status"]) == (3, 3, "open")
    seen, cursor = [], None
    while True:
        page = client.get(
            f"/tickets/{t['id']}/messages", {"limit": 1, **({"cursor": cursor} if cursor else {})}
        )
        seen += [m["id"] for m in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen[1:] == [reply["id"], note["id"]]
    events = client.get(f"/tickets/{t['id']}/events").json()["items"]
    kinds = [(e["kind"], e["field"]) for e in events]
    assert kinds[0] == ("created", "")
    assert ("message", "public") in kinds
    assert ("message", "internal") in kinds
    ev_ids = [e["id"] for e in events]
    assert ev_ids == sorted(ev_ids)
    paged, cursor = [], None
    while True:
        page = client.get(
            f"/tickets/{t['id']}/events", {"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        paged += [e["id"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert paged == ev_ids


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "body"),
        ({"body": "   "}, "body"),
        ({"body_html": "<script>x</script>"}, "body"),
        ({"body": "x", "public": "maybe"}, "public"),
        ({"body": "x", "attachment_ids": [424242]}, "attachment_ids"),
        ({"body": "x", "attachment_ids": "1"}, "attachment_ids"),
        ({"body": "x", "extra": 1}, "extra"),
        ({"body": "a\x00b"}, "body"),
    ],
)
def test_message_validation_errors_name_the_field(
    desk: Any, api: Any, data: dict[str, Any], field: str
) -> None:
    client = api(desk.agent)
    t = open_ticket(client, desk)
    assert_error(client.post(f"/tickets/{t['id']}/messages", data), 422, "validation_failed", field)
    assert Message.objects.filter(ticket_id=t["id"]).count() == 1
    assert client.get(f"/tickets/{t['id']}").json()["version"] == 1


# --------------------------------------------------------------------------------------------
# Access


def test_light_agent_reads_and_adds_internal_notes_only(desk: Any, api: Any) -> None:
    t = open_ticket(api(desk.agent), desk)
    light = api(desk.light)
    assert light.get(f"/tickets/{t['id']}").status_code == 200
    assert light.get(f"/tickets/{t['id']}/messages").status_code == 200
    assert light.get(f"/tickets/{t['id']}/events").status_code == 200
    assert_error(
        light.patch(f"/tickets/{t['id']}", {"version": 1, "priority": "low"}), 403, "permission_denied"
    )
    assert_error(light.post(f"/tickets/{t['id']}/messages", {"body": "hi"}), 403, "permission_denied")
    r = light.post(f"/tickets/{t['id']}/messages", {"body": "internal", "public": False})
    assert r.status_code == 201, r.content
    assert r.json()["author_agent_id"] == desk.light.pk
    after = api(desk.agent).get(f"/tickets/{t['id']}").json()
    assert (after["priority"], after["message_count"]) == ("normal", 2)
    # light agents do not open tickets either
    r = light.post(
        "/tickets",
        {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.bob.pk},
    )
    assert_error(r, 403, "permission_denied")


def endpoints(ticket_id: int) -> list[tuple[str, str, Any]]:
    return [
        ("get", f"/tickets/{ticket_id}", None),
        ("patch", f"/tickets/{ticket_id}", {"version": 1, "priority": "low"}),
        ("get", f"/tickets/{ticket_id}/messages", None),
        ("post", f"/tickets/{ticket_id}/messages", {"body": "x"}),
        ("post", f"/tickets/{ticket_id}/messages", {"body": "x", "public": False}),
        ("get", f"/tickets/{ticket_id}/events", None),
        ("get", f"/tickets/{ticket_id}/attachments", None),
    ]


def call(client: Any, method: str, path: str, data: Any) -> Any:
    return client.get(path) if method == "get" else getattr(client, method)(path, data)


def test_agent_of_another_department_gets_404_on_every_ticket_endpoint(desk: Any, api: Any) -> None:
    t = open_ticket(api(desk.agent), desk)
    outsider = api(desk.outsider)
    for method, path, data in endpoints(t["id"]):
        r = call(outsider, method, path, data)
        assert_error(r, 404, "not_found")
        missing = call(outsider, method, path.replace(str(t["id"]), "987654", 1), data)
        assert_error(missing, 404, "not_found")
        assert r.content == missing.content
    assert api(desk.agent).get(f"/tickets/{t['id']}").json() == t
    assert Message.objects.filter(ticket_id=t["id"]).count() == 1


def test_missing_or_bad_token_is_401_everywhere(desk: Any, api: Any) -> None:
    from django.test import Client

    t = open_ticket(api(desk.agent), desk)
    anonymous = api(None)
    for method, path, data in [*endpoints(t["id"]), ("get", "/tickets", None), ("post", "/tickets", {})]:
        r = call(anonymous, method, path, data)
        assert_error(r, 401, "not_authenticated")
        assert r["WWW-Authenticate"] == 'Bearer realm="sportello"'
    for header in ("Bearer wrong", "Bearer ", "Basic YTpi", "bearer", ""):
        r = Client().get(f"/api/v1/tickets/{t['id']}", headers={"Authorization": header})
        assert_error(r, 401, "not_authenticated")
    assert Message.objects.filter(ticket_id=t["id"]).count() == 1


def test_listing_query_count_does_not_grow_with_the_page(
    desk: Any, api: Any, many: list[Ticket], django_assert_max_num_queries: Any
) -> None:
    client = api(desk.admin)
    client.get("/tickets", {"limit": 1})  # warm the token lookup path
    with django_assert_max_num_queries(8) as small:
        client.get("/tickets", {"limit": 2})
    with django_assert_max_num_queries(8) as large:
        client.get("/tickets", {"limit": 23})
    assert len(large.captured_queries) == len(small.captured_queries)
