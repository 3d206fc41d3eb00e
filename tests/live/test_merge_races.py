"""Merges raced at a live server (`sportello serve`), on SQLite and on PostgreSQL: both tickets
are locked in id order, so two merges of one ticket into different targets serialise (one wins,
the other is told the ticket is closed), merges crossing in opposite directions never deadlock,
and a reply racing a merge is never lost — it lands before the merge and moves, or after it on
the target, or is refused as a change to a closed ticket."""

from __future__ import annotations

from collections import Counter

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
    else:  # the merge came first: the closed ticket refused it, and said so
        assert replied.body["error"]["code"] == "ticket_closed"
        assert after == Counter(["The first message."] * 2)
    assert live.messages(source["id"]) == []
    counted = live.get(f"/tickets/{target['id']}", as_="admin").body["message_count"]
    assert counted == sum(after.values())
