"""Round-robin choice and backlog order. Pure Python: no database."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.assignment import BacklogItem, Candidate, Considered, backlog_order, choose_agent

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Policy:
    max_open_per_agent: int | None = None
    offline: str = "skip"


def test_least_loaded_agent_under_the_cap_is_chosen() -> None:
    candidates = [Candidate(1, True, 5), Candidate(2, True, 2), Candidate(3, True, 3)]
    decision = choose_agent(candidates, Policy(max_open_per_agent=10))
    assert decision.agent_id == 2
    assert decision.reason == "least loaded (2 open)"


def test_ties_go_to_the_never_assigned_then_least_recently_assigned_then_lowest_id() -> None:
    recent, older = T0, T0 - timedelta(hours=1)
    # Never assigned beats any instant
    decision = choose_agent([Candidate(1, True, 2, recent), Candidate(2, True, 2, None)], Policy())
    assert (decision.agent_id, decision.reason) == (2, "least loaded (2 open), never assigned before")
    # The least recently assigned wins among the assigned
    decision = choose_agent([Candidate(1, True, 2, recent), Candidate(2, True, 2, older)], Policy())
    assert (decision.agent_id, decision.reason) == (2, "least loaded (2 open), least recently assigned")
    # Then the lowest id
    decision = choose_agent([Candidate(9, True, 2, older), Candidate(4, True, 2, older)], Policy())
    assert (decision.agent_id, decision.reason) == (
        4,
        "least loaded (2 open), least recently assigned, lowest id",
    )


def test_every_candidate_is_recorded_with_why_it_was_excluded() -> None:
    candidates = [
        Candidate(4, True, 1, eligible=False),
        Candidate(3, False, 0),
        Candidate(2, True, 3),
        Candidate(1, True, 2, T0),
    ]
    decision = choose_agent(candidates, Policy(max_open_per_agent=3))
    assert decision.agent_id == 1
    assert decision.considered == [
        Considered(agent=1, open=2, cap=3, online=True, last_assigned=T0.isoformat(), excluded_because=None),
        Considered(agent=2, open=3, cap=3, online=True, last_assigned=None, excluded_because="at capacity"),
        Considered(agent=3, open=0, cap=3, online=False, last_assigned=None, excluded_because="offline"),
        Considered(agent=4, open=1, cap=3, online=True, last_assigned=None, excluded_because="not eligible"),
    ]


def test_offline_agents_get_tickets_when_the_policy_says_assign() -> None:
    decision = choose_agent([Candidate(1, True, 3), Candidate(2, False, 0)], Policy(offline="assign"))
    assert decision.agent_id == 2


def test_no_choice_says_why() -> None:
    assert choose_agent([], Policy()).reason == "the pool has no agents"
    assert choose_agent([Candidate(1, True, 0, eligible=False)], Policy()).reason == (
        "no agent in the pool may take this ticket"
    )
    assert choose_agent([Candidate(1, False, 0)], Policy()).reason == "no eligible agent is online"
    full = choose_agent([Candidate(1, True, 2), Candidate(2, False, 0)], Policy(max_open_per_agent=2))
    assert (full.agent_id, full.reason) == (None, "every eligible agent is at capacity")


_candidates = st.lists(
    st.builds(
        Candidate,
        agent_id=st.integers(1, 10_000),
        online=st.booleans(),
        open_count=st.integers(0, 30),
        last_assigned_at=st.none() | st.integers(0, 10_000).map(lambda m: T0 + timedelta(minutes=m)),
        eligible=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda c: c.agent_id,
)


@given(_candidates, st.none() | st.integers(1, 20), st.sampled_from(["skip", "assign"]))
def test_the_choice_is_never_over_the_cap_and_never_excluded(
    candidates: list[Candidate], cap: int | None, offline: str
) -> None:
    decision = choose_agent(candidates, Policy(cap, offline))
    if decision.agent_id is None:
        assert all(c["excluded_because"] is not None for c in decision.considered)
        return
    chosen = next(c for c in candidates if c.agent_id == decision.agent_id)
    assert chosen.eligible
    assert cap is None or chosen.open_count < cap
    assert offline == "assign" or chosen.online
    # And no pickable candidate had fewer open tickets
    pickable = [c for c in decision.considered if c["excluded_because"] is None]
    assert chosen.open_count == min(c["open"] for c in pickable)


@given(st.integers(1, 8), st.integers(0, 5), st.integers(1, 60), st.none() | st.integers(1, 12))
def test_repeated_choices_spread_evenly_and_respect_the_cap(
    agents: int, load: int, n: int, cap: int | None
) -> None:
    # Given agents with equal loads
    pool = {i: Candidate(i, True, load) for i in range(1, agents + 1)}
    for k in range(n):
        # When n tickets are assigned one after another
        decision = choose_agent(list(pool.values()), Policy(max_open_per_agent=cap))
        if decision.agent_id is None:
            # Only when every agent is full
            assert cap is not None
            assert all(c.open_count >= cap for c in pool.values())
            break
        c = pool[decision.agent_id]
        pool[c.agent_id] = replace(c, open_count=c.open_count + 1, last_assigned_at=T0 + timedelta(seconds=k))
        # Then nobody is over the cap and loads differ by at most one
        counts = [x.open_count for x in pool.values()]
        assert cap is None or max(counts) <= max(cap, load)
        assert max(counts) - min(counts) <= 1


def test_backlog_is_ordered_by_priority_then_age_then_id() -> None:
    items = [
        BacklogItem(5, "normal", T0),
        BacklogItem(4, "urgent", T0 + timedelta(hours=2)),
        BacklogItem(3, "normal", T0 - timedelta(hours=1)),
        BacklogItem(2, "low", T0 - timedelta(days=1)),
        BacklogItem(1, "normal", T0),
        BacklogItem(6, "high", T0),
    ]
    assert [i.ticket_id for i in backlog_order(items)] == [4, 6, 3, 1, 5, 2]
