"""Two agents in their browsers (signed-in sessions on a live server) act on the same ticket at
once: moving its blueprint on, completing one task. One wins; the other is told why, in words,
and nothing is written twice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from live import LIVE
from live.server import LiveDesk, Reply

# A new connection per request: a race's requests really run side by side, and none is sent on
# a kept-alive connection the server has closed for idleness meanwhile (a reset, not an answer).
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)

pytestmark = LIVE

PASSWORD = "live-agent-passphrase-7"
HX = {"HX-Request": "true"}
HOLD = {
    "key": "live-hold-process",
    "name": "Hold process",
    "states": [
        {"key": "working", "name": "Working", "status": "open"},
        {"key": "waiting", "name": "Waiting", "status": "on_hold"},
        {"key": "done", "name": "Done", "status": "solved", "terminal": True},
    ],
    "transitions": [
        {"key": "wait", "name": "Wait for the supplier", "from": "working", "to": "waiting"},
        {"key": "finish", "name": "Finish", "from": "waiting", "to": "done"},
    ],
}


class Session:
    """An agent signed in through the login form, posting as their browser does (HTMX)."""

    def __init__(self, live: LiveDesk, email: str) -> None:
        self.client = httpx.Client(
            base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=60, follow_redirects=False
        )
        page = self.client.get("/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        r = self.client.post(
            "/login/", data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
        )
        assert r.status_code == 302, r.text[:500]
        self.csrf = ""

    def open(self, ticket_id: int) -> str:
        page = self.client.get(f"/tickets/{ticket_id}/").text
        found = re.search(r"<body hx-headers='([^']+)'", page)
        assert found is not None
        self.csrf = json.loads(found.group(1))["X-CSRFToken"]
        return page

    def post(self, path: str, data: dict[str, Any] | None = None) -> Reply:
        r = self.client.post(path, data=data or {}, headers={**HX, "X-CSRFToken": self.csrf})
        return Reply(r.status_code, r.text)


@pytest.fixture(scope="module")
def agents(sportello_server: Any) -> None:
    """The seeded agents get a password, as their admin would give them."""
    code = (
        "from sportello.accounts.models import User\n"
        "for u in User.objects.filter(email__in=['agent1@live.test', 'agent2@live.test']):\n"
        f"    u.set_password({PASSWORD!r}); u.save(update_fields=['password'])\n"
    )
    sportello_server.manage("shell", "-c", code)


@pytest.fixture
def sessions(live: LiveDesk, agents: None) -> Iterator[list[Session]]:
    made = [Session(live, "agent1@live.test"), Session(live, "agent2@live.test")]
    yield made
    for s in made:
        s.client.close()


@pytest.fixture
def process(live: LiveDesk) -> Iterator[None]:
    r = live.post("/blueprints", {**HOLD, "department": live.departments["support"]}, as_="admin")
    assert r.status == 201, r
    yield
    assert live.request("DELETE", f"/blueprints/{HOLD['key']}", as_="admin").status == 200


def events(live: LiveDesk, ticket_id: int, kind: str, field: str) -> list[Any]:
    r = live.get(f"/tickets/{ticket_id}/events", as_="admin", params={"limit": 200})
    assert r.status == 200, r
    return [e for e in r.body["items"] if e["kind"] == kind and e["field"] == field]


def test_two_agents_moving_a_blueprint_at_once_one_wins_the_other_is_told_why(
    live: LiveDesk, sessions: list[Session], process: None
) -> None:
    # given a ticket in the process, open in both agents' browsers
    ticket = live.open_ticket(subject="Blueprint race")
    assert live.get(f"/tickets/{ticket['id']}/blueprint").body["state"]["key"] == "working"
    for s in sessions:
        assert "Wait for the supplier" in s.open(ticket["id"])
    version = live.get(f"/tickets/{ticket['id']}").body["version"]
    # when both perform "Wait for the supplier" at the same moment
    replies = live.race(
        2, lambda i: sessions[i].post(f"/tickets/{ticket['id']}/blueprint/wait/", {"version": version})
    )
    # then one moved the ticket, and the other was refused with the reason in words
    assert sorted(r.status for r in replies) == [200, 409], replies
    loser = next(r for r in replies if r.status == 409)
    assert "This ticket changed since you opened it" in loser.body
    assert "Waiting" in loser.body  # the panel shows the state the winner moved it to
    after = live.get(f"/tickets/{ticket['id']}/blueprint").body
    assert after["state"]["key"] == "waiting"
    assert len(events(live, ticket["id"], "blueprint", "transition")) == 1
    assert live.get(f"/tickets/{ticket['id']}").body["status"] == "on_hold"


def test_two_agents_completing_one_task_record_one_completion(
    live: LiveDesk, sessions: list[Session]
) -> None:
    # given a task on a ticket, shown in both agents' browsers
    ticket = live.open_ticket(subject="Task race")
    r = live.post(
        f"/tickets/{ticket['id']}/tasks", {"title": "Call the courier", "assignee_id": live.people["agent"]}
    )
    assert r.status == 201, r
    task = r.body
    for s in sessions:
        assert "Call the courier" in s.open(ticket["id"])
    # when both complete it at the same moment
    replies = live.race(
        2, lambda i: sessions[i].post(f"/tickets/{ticket['id']}/tasks/{task['id']}/complete/")
    )
    # then it is completed once; the second is told who got there first
    assert sorted(r.status for r in replies) == [200, 409], replies
    loser = next(r for r in replies if r.status == 409)
    assert "had already completed “Call the courier”" in loser.body
    done = live.get(f"/tasks/{task['id']}").body
    assert done["status"] == "done"
    assert len(events(live, ticket["id"], "task", "completed")) == 1
