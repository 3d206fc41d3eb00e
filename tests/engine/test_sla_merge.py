"""The SLA clocks and a merge: the merged ticket's clocks stop without being met, and a wait
moved onto the other ticket counts from the message that began it."""

from __future__ import annotations

from engine.test_sla import M, brief, clock, run, step, t
from sportello.engine.sla import AgentReply, ClockStatus, Created, CustomerMessage, Merged, StatusChanged


def test_a_merged_ticket_stops_every_running_clock_superseded_not_met() -> None:
    # Given a customer's ticket nobody answered
    state = run((Created("normal"), t(0, 10)))
    # When it is merged into another
    state, events = step(state, Merged(), t(0, 10, 30))
    # Then its clocks stop, superseded with the merge as cause: neither met nor missed
    assert brief(events) == [("sla.superseded", "resolution", 1), ("sla.superseded", "first_response", 1)]
    assert {e.cause for e in events} == {"merged"}
    assert {c.status for c in state.clocks} == {ClockStatus.SUPERSEDED}
    assert clock(state, "first_response").consumed == 30 * M
    assert state.category == "closed"


def test_a_wait_moved_in_starts_next_response_from_the_message_that_began_it() -> None:
    # Given an answered ticket
    state = run((Created("normal"), t(0, 10)), (AgentReply(), t(0, 10, 10)))
    # When a merge brings a customer message written at 10:30, at 11:00
    state, events = step(state, CustomerMessage(waiting_since=t(0, 10, 30)), t(0, 11))
    # Then next response runs since 10:30, due two hours after it
    assert brief(events) == [("sla.started", "next_response", 1)]
    assert (events[0].cause, events[0].at) == ("merged", t(0, 11))
    nr = clock(state, "next_response")
    assert (nr.started_at, nr.running_since, nr.due_at, nr.breached_at) == (
        t(0, 10, 30),
        t(0, 10, 30),
        t(0, 12, 30),
        None,
    )
    # and the reply that answers it measures the whole wait
    state, _ = step(state, AgentReply(), t(0, 11, 30))
    assert clock(state, "next_response").consumed == 60 * M


def test_a_wait_moved_in_past_its_target_is_breached_at_the_merge() -> None:
    state = run((Created("normal"), t(0, 10)), (AgentReply(), t(0, 10, 10)))
    state, events = step(state, CustomerMessage(waiting_since=t(0, 10, 30)), t(0, 13))
    assert brief(events) == [("sla.started", "next_response", 1), ("sla.breached", "next_response", 1)]
    assert (events[1].at, events[1].cause) == (t(0, 13), "merged")


def test_a_wait_moved_in_keeps_a_running_reply_clock() -> None:
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, CustomerMessage(waiting_since=t(0, 9)), t(0, 10, 40))
    assert events == []
    assert clock(state, "first_response").started_at == t(0, 10)


def test_a_wait_moved_into_a_pending_ticket_starts_paused() -> None:
    state = run(
        (Created("normal"), t(0, 10)), (AgentReply(), t(0, 10, 10)), (StatusChanged("pending"), t(0, 10, 20))
    )
    state, _ = step(state, CustomerMessage(waiting_since=t(0, 10, 30)), t(0, 11))
    nr = clock(state, "next_response")
    assert (nr.status, nr.started_at, nr.paused_since, nr.due_at) == (
        ClockStatus.PAUSED,
        t(0, 10, 30),
        t(0, 11),
        None,
    )
