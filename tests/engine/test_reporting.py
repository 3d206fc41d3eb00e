"""The reports' fold, without a database: what each change of a ticket's history counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.reporting import Event, Key, TicketState, fold_change, fold_history

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def calendar_time(_department: int | None, a: datetime, b: datetime) -> int:
    return round((b - a).total_seconds())


def half_time(_department: int | None, a: datetime, b: datetime) -> int:
    return round((b - a).total_seconds() / 2)


def opened(
    at: datetime = T0, *, by: str = "contact", category: str = "new", department: int = 1
) -> list[Event]:
    return [
        Event("created", "", {"number": 1}, at),
        Event("field", "department", department, at),
        Event("field", "status_category", category, at),
        Event("field", "channel", "email", at),
        Event("message", "public", {"message_id": 1, "author_kind": by}, at),
    ]


def message(at: datetime, by: str, *, public: bool = True) -> list[Event]:
    return [Event("message", "public" if public else "internal", {"message_id": 2, "author_kind": by}, at)]


def status(at: datetime, category: str, *, cause: str = "") -> list[Event]:
    return [Event("field", "status_category", category, at, cause)]


def counts(deltas: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in deltas:
        for name, value in d.counts.items():
            out[name] = out.get(name, 0) + value
    return out


def test_first_reply_response_and_business_time() -> None:
    state, deltas = fold_history(
        [opened(), message(T0 + 2 * H, "contact"), message(T0 + 4 * H, "agent")], business=half_time
    )
    c = counts(deltas)
    assert c["first_replies"] == 1
    assert c["first_reply_seconds"] == 4 * 3600
    assert c["first_reply_business_seconds"] == 2 * 3600
    assert c["responses"] == 1
    assert c["response_seconds"] == 4 * 3600  # from the opening, the earliest unanswered message
    assert state.waiting_since is None


def test_an_agents_opening_is_no_reply_and_a_note_answers_nobody() -> None:
    state, deltas = fold_history(
        [opened(by="agent"), message(T0 + H, "agent", public=False)], business=calendar_time
    )
    assert "first_replies" not in counts(deltas)
    assert state.first_reply_at is None
    assert state.agent_replies == 1


def test_a_merge_closes_without_solving() -> None:
    _, deltas = fold_history([opened(), status(T0 + H, "closed", cause="merge:#7")], business=calendar_time)
    c = counts(deltas)
    assert c["merged"] == 1
    assert "solved" not in c
    assert c["backlog_in"] == c["backlog_out"] == 1


def test_a_reopen_and_a_second_solve() -> None:
    state, deltas = fold_history(
        [
            opened(),
            message(T0 + H, "agent"),
            status(T0 + 2 * H, "solved"),
            status(T0 + 3 * H, "open"),
            status(T0 + 5 * H, "closed"),
        ],
        business=calendar_time,
    )
    c = counts(deltas)
    assert c["solved"] == 2
    assert c["reopened"] == 1
    assert c["one_touch"] == 1  # the first solve was; the ticket is not any more
    assert state.one_touch is False
    assert state.resolution_seconds == 5 * 3600
    assert c["resolution_seconds"] == 2 * 3600 + 5 * 3600


def test_tiers_and_moves_change_the_key() -> None:
    state, deltas = fold_history(
        [
            opened(),
            [Event("tier", "entered", {"path": "tech", "tier": "t1"}, T0)],
            [Event("tier", "escalated", {"path": "tech", "from": "t1", "to": "t2"}, T0 + H)],
        ],
        business=calendar_time,
    )
    assert state.key == Key(department=1, channel="email", tier="t2")
    assert state.tier_path == ("t1", "t2")
    outs = [d for d in deltas if d.counts.get("backlog_out")]
    assert [d.key.tier for d in outs] == ["", "t1"]


def test_a_history_without_its_opening_counts_nothing() -> None:
    state, deltas = fold_change(TicketState(), status(T0, "solved"), business=calendar_time)
    assert deltas == []
    assert state == TicketState()


STEPS = st.lists(
    st.sampled_from(["customer", "agent", "note", "solve", "reopen", "close", "move"]), max_size=20
)


@given(steps=STEPS)
def test_the_backlog_is_one_while_unresolved_and_counts_add_up(steps: list[str]) -> None:
    changes = [opened()]
    at = T0
    for i, step in enumerate(steps):
        at += H
        if step in ("customer", "agent"):
            changes.append(message(at, "contact" if step == "customer" else "agent"))
        elif step == "note":
            changes.append(message(at, "agent", public=False))
        elif step == "solve":
            changes.append(status(at, "solved"))
        elif step == "reopen":
            changes.append(status(at, "open"))
        elif step == "close":
            changes.append(status(at, "closed"))
        else:
            changes.append([Event("field", "department", 2 + i % 2, at)])
    state, deltas = fold_history(changes, business=calendar_time)
    c = counts(deltas)
    inside = c.get("backlog_in", 0) - c.get("backlog_out", 0)
    assert inside == (1 if state.category in ("new", "open", "pending") else 0)
    assert c.get("solved", 0) == state.solves
    assert c.get("reopened", 0) == state.reopens
    assert c.get("solved", 0) - c.get("reopened", 0) in (0, 1)
    assert c.get("first_replies", 0) == (1 if state.first_reply_at else 0)
    assert c.get("responses", 0) == state.replies
