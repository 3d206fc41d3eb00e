"""Merges raced at a live server (`sportello serve`), on SQLite and on PostgreSQL: both tickets
are locked in id order, so two merges of one ticket into different targets serialise (one wins,
the other is told the ticket is closed), merges crossing in opposite directions never deadlock,
a reply racing a merge is never lost — it lands before the merge and moves, or after it on
the target, or is refused as a change to a merged ticket — and a customer's e-mail racing a
merge lands on the source before it (and moves) or on the target after it, never on a closed
ticket nor in a follow-up."""

from __future__ import annotations

from collections import Counter

import pytest

from live import LIVE
from live.server import LiveDesk, Reply

pytestmark = LIVE


def merge(live: LiveDesk, source: int, target: int, as_: str) -> Reply:
    return live.post(f"/tickets/{source}/merge", {"target_id": target}, as_=as_)


def bodies(live: LiveDesk, ticket_id: int) -> Counter[str]:
    return Counter(m["body"].strip() for m in live.messages(ticket_id))


def test_two_agents_merge_one_ticket_into_different_targets(live: LiveDesk) -> None:
    for _round in range(3):
        _two_merges_of_one_ticket(live)


def _two_merges_of_one_ticket(live: LiveDesk) -> None:
    # given a ticket and two targets (ids below and above it: the lock orders differ)
    low = live.open_ticket(subject="Target low")
    source = live.open_ticket(subject="Source")
    high = live.open_ticket(subject="Target high")
    # when two agents merge it at once, one into each target
    replies = live.race(
        2, lambda i: merge(live, source["id"], (low, high)[i]["id"], as_=("agent", "agent2")[i])
    )
    # then exactly one wins; the other is told the ticket is closed
    statuses = sorted(r.status for r in replies)
    assert statuses == [200, 409], replies
    lost = next(r for r in replies if r.status == 409)
    assert lost.body["error"]["code"] == "source_closed"
    winner = next(r for r in replies if r.status == 200).body["target_id"]
    other = high["id"] if winner == low["id"] else low["id"]
    # and nothing is lost or doubled: the source's message is on the winner only
    assert bodies(live, winner) == Counter(["The first message."] * 2)
    assert bodies(live, other) == Counter(["The first message."])
    assert live.messages(source["id"]) == []
    assert live.get(f"/tickets/{source['id']}", as_="admin").body["status_category"] == "closed"


def test_crossing_merges_never_deadlock(live: LiveDesk) -> None:
    a, b = live.open_ticket(subject="A"), live.open_ticket(subject="B")
    replies = live.race(
        2, lambda i: merge(live, (a, b)[i]["id"], (b, a)[i]["id"], as_=("agent", "agent2")[i])
    )
    assert sorted(r.status for r in replies) == [200, 409], replies
    loser = next(r for r in replies if r.status == 409)
    assert loser.body["error"]["code"] in ("source_closed", "target_merged")


def test_a_reply_racing_a_merge_is_never_lost(live: LiveDesk) -> None:
    for _round in range(3):
        _a_reply_racing_a_merge(live)


def _a_reply_racing_a_merge(live: LiveDesk) -> None:
    target, source = live.open_ticket(subject="Target"), live.open_ticket(subject="Source")

    def act(i: int) -> Reply:
        if i == 0:
            return merge(live, source["id"], target["id"], as_="agent")
        return live.post(
            f"/tickets/{source['id']}/messages", {"body": "late reply", "public": True}, as_="agent2"
        )

    merged, replied = live.race(2, act)
    assert merged.status == 200, merged
    assert replied.status in (201, 409), replied
    after = bodies(live, target["id"])
    if replied.status == 201:  # it came first and moved with the conversation
        assert after == Counter(["The first message."] * 2 + ["late reply"])
    else:  # the merge came first: the merged ticket refused it, naming where to write
        assert replied.body["error"]["code"] == "ticket_merged"
        assert replied.body["error"]["message"].endswith(f"write on #{target['number']} instead")
        assert after == Counter(["The first message."] * 2)
    assert live.messages(source["id"]) == []
    counted = live.get(f"/tickets/{target['id']}", as_="admin").body["message_count"]
    assert counted == sum(after.values())


def test_two_merges_of_one_ticket_leave_one_link_and_exact_counts(live: LiveDesk) -> None:
    # given a ticket the customer wrote, and two targets
    low, source, high = (live.open_ticket(subject=s) for s in ("Low", "Source", "High"))
    # when two agents merge it at once into each
    replies = live.race(
        2, lambda i: merge(live, source["id"], (low, high)[i]["id"], as_=("agent", "agent2")[i])
    )
    winner = next(r for r in replies if r.status == 200).body["target_id"]
    other = high["id"] if winner == low["id"] else low["id"]
    # then the source links to the winner only, and the counts follow the messages exactly
    assert live.get(f"/tickets/{source['id']}", as_="admin").body["merged_into_id"] == winner
    won, lost = (live.get(f"/tickets/{t}", as_="admin").body for t in (winner, other))
    assert (won["message_count"], won["merged_into_id"]) == (2, None)
    assert (lost["message_count"], lost["merged_into_id"]) == (1, None)
    assert live.get(f"/tickets/{source['id']}", as_="admin").body["message_count"] == 0


def inbound(live: LiveDesk, number: int, tag: str, sender: str) -> bytes:
    return (
        f"From: {sender}\r\n"
        f"To: {live.mailbox}\r\n"
        f"Subject: Re: [#{number}] Merge race\r\n"
        f"Message-ID: <merge-race-{tag}@customer.test>\r\n"
        "Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"mail {tag}\r\n"
    ).encode()


@pytest.mark.parametrize("round_", range(3))
def test_a_customers_mail_racing_a_merge_lands_on_the_conversation(live: LiveDesk, round_: int) -> None:
    # given the customer's two tickets
    customer = live.contact(f"merge-mail-{round_}@customer.test")
    target = live.open_ticket(subject="Target", requester_id=customer["id"])
    source = live.open_ticket(subject="Source", requester_id=customer["id"])

    # when an agent merges one into the other while the customer's replies to it arrive
    def act(i: int) -> Reply:
        if i == 0:
            return merge(live, source["id"], target["id"], as_="agent")
        return live.request(
            "POST",
            "/mail/inbound",
            as_="admin",
            content=inbound(live, source["number"], f"{round_}-{i}", customer["email"]),
            headers={"Content-Type": "message/rfc822"},
        )

    replies = live.race(5, act)
    # then the merge is done, and every message is a reply in the merged conversation: on the
    # source before the merge (and moved with it) or on the target after it, saying why
    assert replies[0].status == 200, replies[0]
    for r in replies[1:]:
        assert (r.status, r.body["status"]) == (201, "reply"), r
        assert r.body["ticket_id"] in (source["id"], target["id"]), r
        if r.body["ticket_id"] == target["id"]:
            assert r.body["reason"] == (
                f"ticket #{source['number']} was merged into #{target['number']}: the message went there"
            )
    mails = [f"mail {round_}-{i}" for i in range(1, 5)]
    assert bodies(live, target["id"]) == Counter(["The first message."] * 2 + mails)
    assert live.messages(source["id"]) == []
    after = live.get(f"/tickets/{target['id']}", as_="admin").body
    assert after["message_count"] == 6
