"""Concurrent writes to one ticket, fired at a live server (`sportello serve`) on SQLite and on
PostgreSQL: every request answers 2xx (or a deliberate 409 for a stale `version`), and every
message sent is stored, counted once, in an audit trail whose instants never go backwards.

What these races once lost: on PostgreSQL the ticket's lock was taken by a query joined to its
status and department, which found nothing once another writer had moved either ("ticket not
found", the message lost); on SQLite the change's instant was read before the lock, so a writer
that waited held an instant older than the previous change's and the SLA clock refused it (500).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from live import LIVE
from live.server import LiveDesk, Reply

pytestmark = LIVE

SLA = {
    "key": "live-sla",
    "name": "Live SLA",
    "when": {"all": []},
    "targets": {
        "first_response": {"normal": {"within": "1h"}},
        "periodic_update": {"normal": {"within": "4h"}},
        "resolution": {"normal": {"within": "3d"}},
    },
}


def reply(live: LiveDesk, ticket_id: int, i: int, *, public: bool = True) -> Reply:
    return live.post(
        f"/tickets/{ticket_id}/messages",
        {"body": f"message {i}", "public": public},
        as_="agent" if i % 2 else "agent2",
    )


def stored_bodies(live: LiveDesk, ticket_id: int) -> Counter[str]:
    return Counter(m["body"].strip() for m in live.messages(ticket_id))


def assert_events_ordered(live: LiveDesk, ticket_id: int) -> None:
    """The audit trail, in the order it was written, never goes back in time."""
    events: list[Any] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        r = live.get(f"/tickets/{ticket_id}/events", as_="admin", params=params)
        assert r.status == 200, r
        events += r.body["items"]
        cursor = r.body.get("next_cursor")
        if not cursor:
            break
    instants = [datetime.fromisoformat(e["at"]) for e in sorted(events, key=lambda e: e["id"])]
    assert instants == sorted(instants)


@pytest.mark.parametrize("n", [30, 180])
def test_simultaneous_public_replies_to_a_new_ticket_are_all_stored(live: LiveDesk, n: int) -> None:
    # given a new ticket (its first public reply moves it to open while the others wait)
    ticket = live.open_ticket(subject=f"{n} replies")
    # when n agents' public replies arrive at once
    replies = live.race(n, lambda i: reply(live, ticket["id"], i))
    # then every one is stored once, and counted
    assert [r.status for r in replies] == [201] * n, [r for r in replies if r.status != 201][:3]
    assert stored_bodies(live, ticket["id"]) == Counter(
        ["The first message.", *(f"message {i}" for i in range(n))]
    )
    after = live.get(f"/tickets/{ticket['id']}").body
    assert (after["message_count"], after["status"], after["version"]) == (n + 1, "open", 1 + n)
    assert_events_ordered(live, ticket["id"])


def test_a_status_change_racing_internal_notes_loses_no_note(live: LiveDesk) -> None:
    # given an open ticket
    ticket = live.open_ticket(subject="Status race")
    statuses = ["pending", "open", "on_hold", "open", "pending"]
    changed = []
    current = ticket["status"]
    for round_, status in enumerate(statuses):
        version = live.get(f"/tickets/{ticket['id']}").body["version"]

        # when its status changes while ten internal notes are written
        def write(i: int, status: str = status, version: int = version, round_: int = round_) -> Reply:
            if i == 0:
                return live.patch(f"/tickets/{ticket['id']}", {"status": status, "version": version})
            return reply(live, ticket["id"], round_ * 100 + i, public=False)

        replies = live.race(11, write)
        # then every note is stored; the status change happened, or was refused as stale
        assert [r.status for r in replies[1:]] == [201] * 10, replies
        assert replies[0].status in (200, 409), replies[0]
        if replies[0].status == 409:
            assert replies[0].body["error"]["code"] == "stale_version"
        elif status != current:  # setting the status it already has changes nothing (no new version)
            changed.append(status)
            current = status
    expected = ["The first message.", *(f"message {r * 100 + i}" for r in range(5) for i in range(1, 11))]
    assert stored_bodies(live, ticket["id"]) == Counter(expected)
    after = live.get(f"/tickets/{ticket['id']}").body
    assert after["message_count"] == 51
    assert after["version"] == 1 + 50 + len(changed)
    assert_events_ordered(live, ticket["id"])


def test_a_macro_changing_the_status_racing_notes_loses_nothing(live: LiveDesk) -> None:
    # given a macro that puts a ticket on hold and one that reopens it (no version: they always apply)
    for key, status in (("live-hold", "on_hold"), ("live-open", "open")):
        macro = {
            "key": key,
            "name": key,
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [{"set": {"field": "ticket.status", "value": status}}],
        }
        assert live.post("/macros", macro, as_="admin").status == 201
    ticket = live.open_ticket(subject="Macro race")

    # when the macros are applied four times each while sixteen notes are written
    def write(i: int) -> Reply:
        if i < 8:
            key = "live-hold" if i % 2 else "live-open"
            return live.post(f"/macros/{key}/apply", {"ticket_id": ticket["id"]})
        return reply(live, ticket["id"], i, public=False)

    replies = live.race(24, write)
    # then every request applied and every note is stored
    assert [r.status for r in replies] == [200] * 8 + [201] * 16, [r for r in replies if r.status >= 300][:3]
    assert stored_bodies(live, ticket["id"]) == Counter(
        ["The first message.", *(f"message {i}" for i in range(8, 24))]
    )
    assert live.get(f"/tickets/{ticket['id']}").body["message_count"] == 17
    assert_events_ordered(live, ticket["id"])


def test_a_department_move_racing_replies_loses_no_reply(live: LiveDesk) -> None:
    # given a ticket of Support, and agents of both Support and Billing
    ticket = live.open_ticket(subject="Department race")
    moves = 0
    for round_, department in enumerate(["billing", "support", "billing"]):
        current = live.get(f"/tickets/{ticket['id']}").body
        version = current["version"]

        # when an admin moves it to the other department while agents reply
        def write(
            i: int, department: str = department, version: int = version, round_: int = round_
        ) -> Reply:
            if i == 0:
                body = {"department_id": live.departments[department], "version": version}
                return live.patch(f"/tickets/{ticket['id']}", body, as_="admin")
            return reply(live, ticket["id"], round_ * 100 + i)

        replies = live.race(13, write)
        # then every reply is stored; the move happened, or was refused as stale
        assert [r.status for r in replies[1:]] == [201] * 12, replies
        assert replies[0].status in (200, 409), replies[0]
        # (a move refused as stale leaves the ticket where it was: the next round's move to the
        # department it is already in changes nothing and keeps the version)
        moves += replies[0].status == 200 and current["department_id"] != live.departments[department]
    expected = ["The first message.", *(f"message {r * 100 + i}" for r in range(3) for i in range(1, 13))]
    assert stored_bodies(live, ticket["id"]) == Counter(expected)
    after = live.get(f"/tickets/{ticket['id']}").body
    assert (after["message_count"], after["version"]) == (37, 1 + 36 + moves)
    assert_events_ordered(live, ticket["id"])


def test_replies_racing_on_a_ticket_with_sla_clocks_are_all_stored(live: LiveDesk) -> None:
    # given an SLA policy measuring first response, periodic updates and resolution
    created = live.post("/sla-policies", SLA, as_="admin")
    assert created.status == 201, created
    try:
        ticket = live.open_ticket(subject="SLA race")
        # when sixty public replies arrive at once (each one restarts the periodic-update clock)
        replies = live.race(60, lambda i: reply(live, ticket["id"], i))
        # then every reply is stored and the clocks answer
        assert [r.status for r in replies] == [201] * 60, [r for r in replies if r.status != 201][:3]
        assert stored_bodies(live, ticket["id"]) == Counter(
            ["The first message.", *(f"message {i}" for i in range(60))]
        )
        assert live.get(f"/tickets/{ticket['id']}").body["message_count"] == 61
        clocks = live.get(f"/tickets/{ticket['id']}/sla", as_="admin")
        assert clocks.status == 200, clocks
        assert_events_ordered(live, ticket["id"])
    finally:
        assert live.request("DELETE", "/sla-policies/live-sla", as_="admin").status == 200


def inbound_reply(live: LiveDesk, number: int, i: int, sender: str) -> bytes:
    return (
        f"From: {sender}\r\n"
        f"To: {live.mailbox}\r\n"
        f"Subject: Re: [#{number}] Mail race\r\n"
        f"Message-ID: <race-{number}-{i}@customer.test>\r\n"
        "Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"mail {i}\r\n"
    ).encode()


def test_a_customers_email_replies_racing_a_status_change_are_stored_on_the_ticket(live: LiveDesk) -> None:
    # given the customer's ticket
    customer = live.contact("mail-status@customer.test")
    ticket = live.open_ticket(subject="Mail race", requester_id=customer["id"])
    version = live.get(f"/tickets/{ticket['id']}").body["version"]

    # when the agent sets it pending while the customer's e-mail replies arrive
    def write(i: int) -> Reply:
        if i == 0:
            return live.patch(f"/tickets/{ticket['id']}", {"status": "pending", "version": version})
        return live.request(
            "POST",
            "/mail/inbound",
            as_="admin",
            content=inbound_reply(live, ticket["number"], i, customer["email"]),
            headers={"Content-Type": "message/rfc822"},
        )

    replies = live.race(9, write)
    # then each message is a reply stored on the ticket: none quarantined, none lost
    assert replies[0].status in (200, 409), replies[0]
    assert [(r.status, r.body["status"], r.body["ticket_id"]) for r in replies[1:]] == [
        (201, "reply", ticket["id"])
    ] * 8, replies[1:]
    assert stored_bodies(live, ticket["id"]) == Counter(
        ["The first message.", *(f"mail {i}" for i in range(1, 9))]
    )
    assert live.get(f"/tickets/{ticket['id']}").body["message_count"] == 9
    assert_events_ordered(live, ticket["id"])


@pytest.mark.parametrize("round_", range(4))
def test_a_customers_email_replies_racing_the_tickets_closing_are_replies_or_follow_ups(
    live: LiveDesk, round_: int
) -> None:
    # given the customer's ticket, and a macro that closes a ticket (whatever its version)
    customer = live.contact(f"mail-closing-{round_}@customer.test")
    ticket = live.open_ticket(subject="Mail race", requester_id=customer["id"])
    close = {
        "key": f"live-close-{round_}",
        "name": "Close",
        "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"set": {"field": "ticket.status", "value": "closed"}}],
    }
    assert live.post("/macros", close, as_="admin").status == 201

    # when the agent closes it while the customer's e-mail replies arrive
    def write(i: int) -> Reply:
        if i == 0:
            return live.post(f"/macros/live-close-{round_}/apply", {"ticket_id": ticket["id"]})
        return live.request(
            "POST",
            "/mail/inbound",
            as_="admin",
            content=inbound_reply(live, ticket["number"], 100 + i, customer["email"]),
            headers={"Content-Type": "message/rfc822"},
        )

    replies = live.race(9, write)
    # then the ticket is closed, and each message is a reply stored on it (it came first) or
    # opened a follow-up ticket (it came after): none is quarantined
    assert (replies[0].status, replies[0].body["ticket"]["status"]) == (200, "closed"), replies[0]
    outcomes = [(r.status, r.body["status"], r.body["ticket_id"] == ticket["id"]) for r in replies[1:]]
    reasons = [(r.status, r.body["status"], r.body["reason"]) for r in replies[1:]]
    assert all(o in ((201, "reply", True), (201, "ticket", False)) for o in outcomes), reasons
    replied = [f"mail {100 + i}" for i, r in enumerate(replies[1:], 1) if r.body["status"] == "reply"]
    assert stored_bodies(live, ticket["id"]) == Counter(["The first message.", *replied])
    for i, r in enumerate(replies[1:], 1):
        if r.body["status"] == "ticket":
            assert stored_bodies(live, r.body["ticket_id"]) == Counter([f"mail {100 + i}"])


BLUEPRINT = {
    "key": "live-waiting",
    "name": "Waiting",
    "states": [
        {"key": "working", "name": "Working", "status": "open"},
        {"key": "waiting", "name": "Waiting", "status": "pending"},
        {"key": "done", "name": "Done", "status": "solved", "terminal": True},
    ],
    "transitions": [
        {"key": "wait", "name": "Wait", "from": "working", "to": "waiting"},
        {"key": "resume", "name": "Resume", "from": "waiting", "to": "working"},
        {"key": "finish", "name": "Finish", "from": "*", "to": "done"},
    ],
}


def test_blueprint_transitions_racing_replies_lose_nothing(live: LiveDesk) -> None:
    # given a blueprint over Billing's tickets, and a ticket of Billing in it
    created = live.post("/blueprints", {**BLUEPRINT, "department": live.departments["billing"]}, as_="admin")
    assert created.status == 201, created
    try:
        ticket = live.open_ticket(department="billing", subject="Blueprint race")
        assert live.get(f"/tickets/{ticket['id']}/blueprint").body["state"]["key"] == "working"
        for round_, transition in enumerate(["wait", "resume", "wait", "resume"]):
            # when a transition (status open <-> pending) is performed while agents reply
            def write(i: int, transition: str = transition, round_: int = round_) -> Reply:
                if i == 0:
                    return live.post(f"/tickets/{ticket['id']}/blueprint/transitions/{transition}", {})
                return reply(live, ticket["id"], round_ * 100 + i)

            replies = live.race(9, write)
            # then the transition is done and every reply stored
            assert [r.status for r in replies] == [200] + [201] * 8, replies
        expected = ["The first message.", *(f"message {r * 100 + i}" for r in range(4) for i in range(1, 9))]
        assert stored_bodies(live, ticket["id"]) == Counter(expected)
        after = live.get(f"/tickets/{ticket['id']}").body
        assert (after["status"], after["message_count"]) == ("open", 33)
        assert live.get(f"/tickets/{ticket['id']}/blueprint").body["state"]["key"] == "working"
        assert_events_ordered(live, ticket["id"])
    finally:
        assert live.request("DELETE", "/blueprints/live-waiting", as_="admin").status == 200


def test_task_updates_racing_a_department_move_are_all_applied(live: LiveDesk) -> None:
    # given a task on a ticket of Support
    ticket = live.open_ticket(subject="Task race")
    task = live.post(
        f"/tickets/{ticket['id']}/tasks", {"title": "Call back", "assignee_id": live.people["agent"]}
    )
    assert task.status == 201, task
    version = live.get(f"/tickets/{ticket['id']}").body["version"]

    # when an admin moves the ticket to Billing while agents retitle the task twelve times
    def write(i: int) -> Reply:
        if i == 0:
            body = {"department_id": live.departments["billing"], "version": version}
            return live.patch(f"/tickets/{ticket['id']}", body, as_="admin")
        # each editor sends the version it read and, told its edit is stale, reads and tries again
        as_ = "agent" if i % 2 else "agent2"
        for _ in range(100):
            current = live.get(f"/tasks/{task.body['id']}", as_=as_).body["version"]
            answer = live.patch(
                f"/tasks/{task.body['id']}", {"title": f"title {i}", "version": current}, as_=as_
            )
            if answer.status != 409:
                return answer
        return answer

    replies = live.race(13, write)
    # then the move is done and every update applied, one version each
    assert [r.status for r in replies] == [200] * 13, replies
    after = live.get(f"/tasks/{task.body['id']}").body
    assert after["version"] == task.body["version"] + 12
    assert after["title"] in {f"title {i}" for i in range(1, 13)}
    assert live.get(f"/tickets/{ticket['id']}").body["department_id"] == live.departments["billing"]


def test_replies_racing_while_two_workers_deliver_are_each_mailed_once(live: LiveDesk) -> None:
    # given two workers delivering the outbox
    live.start_worker()
    live.start_worker()
    ticket = live.open_ticket(subject="Delivery race")
    # when twenty public replies arrive at once
    replies = live.race(20, lambda i: reply(live, ticket["id"], i))
    assert [r.status for r in replies] == [201] * 20, [r for r in replies if r.status != 201][:3]
    # then each reply's e-mail is sent, once
    deadline = time.monotonic() + 60
    while True:
        deliveries = [m["delivery"] for m in live.messages(ticket["id"]) if m["body"].startswith("message")]
        if all(d is not None and d["status"] == "sent" for d in deliveries) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("sent", 1)] * 20
