"""Pinned query counts for the hot paths: a change here is a deliberate, reviewed change."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

# Per database: SQLite keeps an FTS5 table beside the search document (one more write).
# Creation includes the check that an agent opens tickets only in their own departments.
# Every change reads the active rules once (event and time rules together): one query.
CREATE = {"sqlite": 15, "postgresql": 14}
REPLY = {"sqlite": 15, "postgresql": 14}
LIST = 3


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_opening_a_ticket_through_the_api_costs_a_fixed_number_of_queries(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    body = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk,
            "tags": ["a", "b"]}  # fmt: skip
    client.post("/tickets", body)  # warm: the token's last-used time is written once a minute
    assert count(lambda: client.post("/tickets", body)) == CREATE[connection.vendor]


def test_a_public_reply_costs_a_fixed_number_of_queries(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    t = client.post("/tickets", {"subject": "s", "description": "d", "department_id": desk.books.pk,
                                 "requester_id": desk.alice.pk}).json()  # fmt: skip
    assert (
        count(lambda: client.post(f"/tickets/{t['id']}/messages", {"body": "reply"}))
        == REPLY[connection.vendor]
    )


def test_the_ticket_list_does_not_grow_with_the_page(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    for i in range(12):
        client.post("/tickets", {"subject": f"s{i}", "description": "d", "department_id": desk.books.pk,
                                 "requester_id": desk.alice.pk, "tags": [f"t{i}"]})  # fmt: skip
    assert count(lambda: client.get("/tickets", {"limit": 3})) == LIST
    assert count(lambda: client.get("/tickets", {"limit": 12})) == LIST
