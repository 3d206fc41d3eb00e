"""SLA policies and clocks: parsing with error paths, policy choice, each metric's start and
fulfilment, pauses, breaches at their true instant, retargeting, superseding, timers, display
and persistence. Pure Python: no database; business time comes from a small fake calendar."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sportello.engine.actions import AddTags, ApplyMacro, Assign, Notify, SetField
from sportello.engine.conditions import FIELDS
from sportello.engine.schema import RuleSchemaError
from sportello.engine.sla import (
    CALENDAR_TIME,
    AgentReply,
    Change,
    Clock,
    ClockState,
    ClockStatus,
    Created,
    CustomerMessage,
    EscalationLevel,
    PolicyChanged,
    PriorityChanged,
    Remaining,
    SlaEvent,
    SlaPolicy,
    SlaState,
    SlaTimer,
    SlaWarning,
    StatusChanged,
    Target,
    Tick,
    apply_change,
    clock_for,
    event_to_data,
    next_breach,
    parse_policies,
    parse_policy,
    policies_to_data,
    policy_to_data,
    reflow,
    remaining,
    select_policy,
    state_from_data,
    state_to_data,
    timers_for,
)

MON = date(2026, 11, 2)  # a Monday


def t(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant `day` days after Monday 2 November 2026, UTC."""
    return datetime.combine(MON + timedelta(days=day), time(hour, minute), tzinfo=UTC)


H = timedelta(hours=1)
M = timedelta(minutes=1)


class OfficeHours:
    """A fake business calendar: Monday to Friday, `opens` to `closes` o'clock UTC."""

    def __init__(self, opens: int = 9, closes: int = 17) -> None:
        self.opens, self.closes = opens, closes

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() >= 5:
            return None
        return (
            datetime.combine(day, time(self.opens), tzinfo=UTC),
            datetime.combine(day, time(self.closes), tzinfo=UTC),
        )

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        total, day = timedelta(0), a.date()
        while day <= b.date():
            window = self._window(day)
            if window is not None:
                lo, hi = max(a, window[0]), min(b, window[1])
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        if not duration:
            return start
        step = timedelta(days=1 if duration > timedelta(0) else -1)
        left, moment, day = abs(duration), start, start.date()
        while True:
            window = self._window(day)
            if window is not None:
                if step.days > 0:
                    lo = max(moment, window[0])
                    if lo < window[1]:
                        if left <= window[1] - lo:
                            return lo + left
                        left -= window[1] - lo
                else:
                    hi = min(moment, window[1])
                    if hi > window[0]:
                        if left <= hi - window[0]:
                            return hi - left
                        left -= hi - window[0]
            day += step
            moment = datetime.combine(day, time(0) if step.days > 0 else time.max, tzinfo=UTC)


OFFICE = OfficeHours()
CLOCKS: dict[str, Clock] = {"office": OFFICE}


def policy(**data: Any) -> SlaPolicy:
    base: dict[str, Any] = {"key": "std", "name": "Standard", "when": {"all": []}}
    return parse_policy({**base, **data}, specs=FIELDS)


STD = policy(
    targets={
        "first_response": {"normal": {"within": "1h"}, "urgent": {"within": "15m"}},
        "next_response": {"normal": {"within": "2h"}},
        "periodic_update": {"normal": {"within": "1d"}},
        "resolution": {"normal": {"within": "3d"}, "urgent": {"within": "4h"}},
    }
)
BIZ = policy(
    key="office",
    name="Office hours",
    calendar="office",
    targets={
        "first_response": {"normal": {"within": "2h", "business": True}},
        "resolution": {"normal": {"within": "16h", "business": True}},
    },
    warnings=[{"before": "10h", "metrics": ["resolution"]}],
    escalations=[
        {"after_breach": "-2h", "actions": [{"add_tags": ["sla_soon"]}], "metrics": ["resolution"]},
        {"after_breach": "1h", "actions": [{"assign": {"team": 4}}], "metrics": ["resolution"]},
    ],
)


def step(
    state: SlaState | None, change: Change, now: datetime, pol: SlaPolicy | None = STD
) -> tuple[SlaState, list[SlaEvent]]:
    return apply_change(state, change, policy=pol, clocks=CLOCKS, now=now)


def run(*changes: tuple[Change, datetime], pol: SlaPolicy | None = STD) -> SlaState:
    state: SlaState | None = None
    for change, now in changes:
        state, _ = step(state, change, now, pol)
    assert state is not None
    return state


def brief(events: list[SlaEvent]) -> list[tuple[str, str, int]]:
    return [(e.kind, e.metric, e.instance) for e in events]


def clock(state: SlaState, metric: str, instance: int = 1) -> ClockState:
    (found,) = [c for c in state.clocks if c.metric == metric and c.instance == instance]
    return found


# -- policies --------------------------------------------------------------------------------

FULL = {
    "key": "vip",
    "name": "VIP customers",
    "position": 5,
    "when": {"any": [{"field": "requester.vip", "op": "is", "value": True}]},
    "calendar": "office",
    "targets": {
        "first_response": {"urgent": {"within": "30m"}, "high": {"within": "2h", "business": True}},
        "resolution": {"high": {"within": "1d", "business": True}},
    },
    "warnings": [{"at_percent": 80}, {"before": "15m", "metrics": ["first_response"]}],
    "escalations": [
        {"after_breach": "-30m", "actions": [{"notify": {"template": "sla_soon", "to": ["assignee"]}}]},
        {
            "after_breach": "0m",
            "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}, {"apply_macro": 7}],
        },
        {"after_breach": "2h", "actions": [{"assign": {"team": 4}}], "metrics": ["resolution"]},
    ],
    "pause_in": ["on_hold"],
    "pause_first_response": True,
}


def test_a_policy_is_parsed_into_targets_warnings_and_a_ladder() -> None:
    p = parse_policy(FULL, specs=FIELDS)
    assert (p.key, p.name, p.position, p.calendar) == ("vip", "VIP customers", 5, "office")
    assert p.targets == (
        Target("first_response", "high", 2 * H, business=True),
        Target("first_response", "urgent", 30 * M),
        Target("resolution", "high", 24 * H, business=True),
    )
    assert p.target("resolution", "high") == Target("resolution", "high", 24 * H, business=True)
    assert p.target("resolution", "low") is None
    assert p.warnings == (
        SlaWarning(
            at_percent=80, metrics=("first_response", "next_response", "periodic_update", "resolution")
        ),
        SlaWarning(before=15 * M, metrics=("first_response",)),
    )
    assert p.escalations[0].after_breach == -30 * M
    assert p.escalations[0].actions == (Notify("sla_soon", "", "", ("assignee",)),)
    assert p.escalations[1].actions == (SetField("ticket.priority", "urgent"), ApplyMacro(7))
    assert p.escalations[2] == EscalationLevel(2 * H, (Assign("team", 4),), ("resolution",))
    assert (p.pause_in, p.pause_first_response) == (("on_hold",), True)


def test_a_policy_round_trips_through_its_data_form() -> None:
    p = parse_policy(FULL, specs=FIELDS)
    data = policy_to_data(p)
    assert json.loads(json.dumps(data)) == data
    assert parse_policy(data, specs=FIELDS) == p
    assert data["targets"]["first_response"] == {
        "high": {"within": "2h", "business": True},
        "urgent": {"within": "30m", "business": False},
    }
    assert data["escalations"][0]["after_breach"] == "-30m"
    assert parse_policies(policies_to_data([p, STD]), specs=FIELDS) == (p, STD)


def test_defaults_are_written_out() -> None:
    data = policy_to_data(policy(targets={"resolution": {"low": {"within": "90m"}}}))
    assert data == {
        "key": "std",
        "name": "Standard",
        "position": 0,
        "when": {"all": []},
        "calendar": None,
        "targets": {"resolution": {"low": {"within": "90m", "business": False}}},
        "warnings": [],
        "escalations": [],
        "pause_in": ["pending", "on_hold"],
        "pause_first_response": False,
    }


def test_levels_of_different_metrics_may_share_an_offset() -> None:
    p = policy(
        targets={"resolution": {"low": {"within": "1d"}}},
        escalations=[
            {"after_breach": "0m", "actions": [{"add_tags": ["a"]}], "metrics": ["first_response"]},
            {"after_breach": "0m", "actions": [{"add_tags": ["b"]}], "metrics": ["resolution"]},
        ],
    )
    assert [e.actions for e in p.escalations] == [(AddTags(("a",)),), (AddTags(("b",)),)]


def _with(**changes: Any) -> list[dict[str, Any]]:
    base = {
        "key": "p",
        "name": "P",
        "when": {"all": []},
        "targets": {"resolution": {"normal": {"within": "1d"}}},
    }
    return [{**base, **changes}]


LEVEL = {"after_breach": "0m", "actions": [{"add_tags": ["late"]}]}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (_with(filter={}), "sla_policies[0].filter"),
        ([{"key": "p", "name": "P", "when": {"all": []}}], "sla_policies[0].targets"),
        (_with(key="Not A Key"), "sla_policies[0].key"),
        (_with(name=""), "sla_policies[0].name"),
        (_with(position=-1), "sla_policies[0].position"),
        (_with(calendar="Office Hours"), "sla_policies[0].calendar"),
        (_with(targets={}), "sla_policies[0].targets"),
        (_with(targets={"first_reply": {}}), "sla_policies[0].targets.first_reply"),
        (_with(targets={"resolution": {}}), "sla_policies[0].targets.resolution"),
        (
            _with(targets={"resolution": {"critical": {"within": "1h"}}}),
            "sla_policies[0].targets.resolution.critical",
        ),
        (
            _with(targets={"resolution": {"high": {"within": "soon"}}}),
            "sla_policies[0].targets.resolution.high.within",
        ),
        (
            _with(targets={"resolution": {"high": {"within": "0m"}}}),
            "sla_policies[0].targets.resolution.high.within",
        ),
        (
            _with(targets={"resolution": {"high": {"within": "-1h"}}}),
            "sla_policies[0].targets.resolution.high.within",
        ),
        (_with(targets={"resolution": {"high": {}}}), "sla_policies[0].targets.resolution.high.within"),
        (
            _with(targets={"resolution": {"high": {"within": "1h", "business": True}}}),
            "sla_policies[0].targets.resolution.high.business",
        ),
        (
            _with(targets={"resolution": {"high": {"within": "1h", "business": "yes"}}}),
            "sla_policies[0].targets.resolution.high.business",
        ),
        (_with(warnings=[{"at_percent": 80, "before": "1h"}]), "sla_policies[0].warnings[0]"),
        (_with(warnings=[{}]), "sla_policies[0].warnings[0]"),
        (_with(warnings=[{"at_percent": 50}, {"at_percent": 100}]), "sla_policies[0].warnings[1].at_percent"),
        (_with(warnings=[{"before": "0s"}]), "sla_policies[0].warnings[0].before"),
        (
            _with(warnings=[{"at_percent": 80, "metrics": ["response"]}]),
            "sla_policies[0].warnings[0].metrics[0]",
        ),
        (_with(warnings=[{"at_percent": 80, "metrics": []}]), "sla_policies[0].warnings[0].metrics"),
        (_with(escalations=[LEVEL, LEVEL]), "sla_policies[0].escalations[1].after_breach"),
        (
            _with(escalations=[LEVEL, {**LEVEL, "after_breach": "-1h"}]),
            "sla_policies[0].escalations[1].after_breach",
        ),
        (_with(escalations=[{"actions": []}]), "sla_policies[0].escalations[0].after_breach"),
        (_with(escalations=[{**LEVEL, "actions": []}]), "sla_policies[0].escalations[0].actions"),
        (
            _with(escalations=[{**LEVEL, "actions": [{"reply": {"body": "Sorry"}}]}]),
            "sla_policies[0].escalations[0].actions[0].reply",
        ),
        (
            _with(escalations=[{**LEVEL, "actions": [{"add_tags": ["x"]}, {"stop": True}]}]),
            "sla_policies[0].escalations[0].actions[1].stop",
        ),
        (
            _with(
                escalations=[{**LEVEL, "actions": [{"set": {"field": "ticket.priority", "value": "asap"}}]}]
            ),
            "sla_policies[0].escalations[0].actions[0].set.value",
        ),
        (_with(pause_in=["pending", "solved"]), "sla_policies[0].pause_in[1]"),
        (_with(pause_first_response=1), "sla_policies[0].pause_first_response"),
        (_with(when={"field": "ticket.priorty", "op": "is", "value": "high"}), "sla_policies[0].when.field"),
        (
            _with(when={"all": [{"field": "message.body", "op": "contains", "value": "refund"}]}),
            "sla_policies[0].when.all[0].field",
        ),
        (
            _with(when={"not": {"field": "ticket.priority", "op": "changed"}}),
            "sla_policies[0].when.not.op",
        ),
        (_with() + _with(), "sla_policies[1].key"),
    ],
)
def test_invalid_policies_are_refused_with_the_path_of_the_error(data: Any, path: str) -> None:
    with pytest.raises(RuleSchemaError) as info:
        parse_policies(data, specs=FIELDS)
    assert info.value.path == path


# -- choosing a policy -----------------------------------------------------------------------


def _chooser(key: str, position: int, when: dict[str, Any]) -> SlaPolicy:
    return policy(key=key, position=position, when=when, targets={"resolution": {"normal": {"within": "1d"}}})


CHOOSERS = [
    _chooser("default", 9, {"all": []}),
    _chooser("chat", 5, {"field": "ticket.channel", "op": "is", "value": "chat"}),
    _chooser("books", 4, {"field": "ticket.department", "op": "in", "value": [3]}),
    _chooser("urgent", 3, {"field": "ticket.priority", "op": "gte", "value": "high"}),
    _chooser("gold", 2, {"field": "organization.tier", "op": "is", "value": "gold"}),
    _chooser("vip", 1, {"field": "requester.vip", "op": "is", "value": True}),
]


@pytest.mark.parametrize(
    ("facts", "chosen"),
    [
        ({"requester.vip": True, "organization.tier": "gold", "ticket.priority": "urgent"}, "vip"),
        ({"requester.vip": False, "organization.tier": "gold", "ticket.priority": "urgent"}, "gold"),
        ({"ticket.priority": "high", "ticket.department": 3}, "urgent"),
        ({"ticket.priority": "normal", "ticket.department": 3, "ticket.channel": "chat"}, "books"),
        ({"ticket.priority": "low", "ticket.department": 2, "ticket.channel": "chat"}, "chat"),
        ({"ticket.priority": "low", "ticket.channel": "email", "organization.tier": "silver"}, "default"),
    ],
)
def test_the_first_matching_policy_by_position_applies(facts: dict[str, Any], chosen: str) -> None:
    found = select_policy(CHOOSERS, facts, specs=FIELDS)
    assert found is not None
    assert found.key == chosen


def test_a_policy_without_when_applies_to_every_ticket() -> None:
    catch_all = parse_policy(
        {
            "key": "rest",
            "name": "Everyone else",
            "position": 100,
            "targets": {"resolution": {"normal": {"within": "5d"}}},
        },
        specs=FIELDS,
    )
    assert policy_to_data(catch_all)["when"] == {"all": []}
    assert select_policy([*CHOOSERS[1:], catch_all], {"ticket.priority": "low"}, specs=FIELDS) == catch_all


def test_no_policy_applies_when_none_matches_and_ties_go_to_the_key() -> None:
    assert select_policy(CHOOSERS[1:], {"ticket.priority": "low"}, specs=FIELDS) is None
    b = _chooser("b", 1, {"all": []})
    a = _chooser("a", 1, {"all": []})
    assert select_policy([b, a], {}, specs=FIELDS) == a


# -- each metric -----------------------------------------------------------------------------


def test_a_customer_ticket_starts_first_response_and_resolution() -> None:
    state, events = step(None, Created("normal"), t(0, 10))
    assert brief(events) == [("sla.started", "resolution", 1), ("sla.started", "first_response", 1)]
    assert {e.at for e in events} == {t(0, 10)}
    assert events[1].target == H
    fr = clock(state, "first_response")
    assert (fr.status, fr.started_at, fr.target, fr.due_at) == (ClockStatus.ACTIVE, t(0, 10), H, t(0, 11))
    assert clock(state, "resolution").due_at == t(3, 10)
    assert (state.policy, state.priority, state.category) == ("std", "normal", "new")


def test_a_ticket_an_agent_opens_has_no_first_response_and_a_customer_message_starts_next_response() -> None:
    state, _ = step(None, Created("normal", category="open", customer_message=False), t(0, 10))
    assert state.running("first_response") is None
    state, events = step(state, CustomerMessage(), t(0, 10, 30))
    assert brief(events) == [("sla.started", "next_response", 1)]
    assert clock(state, "next_response").due_at == t(0, 12, 30)


def test_the_first_public_agent_reply_fulfils_first_response_and_starts_periodic_update() -> None:
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, AgentReply(), t(0, 10, 40))
    assert brief(events) == [("sla.fulfilled", "first_response", 1), ("sla.started", "periodic_update", 1)]
    fr = clock(state, "first_response")
    assert (fr.status, fr.fulfilled_at, fr.consumed, fr.breached_at, fr.due_at) == (
        ClockStatus.FULFILLED,
        t(0, 10, 40),
        40 * M,
        None,
        None,
    )
    assert clock(state, "periodic_update").due_at == t(1, 10, 40)


def test_customer_messages_while_the_first_response_is_awaited_start_nothing() -> None:
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, CustomerMessage(), t(0, 10, 20))
    assert events == []
    assert state.running("next_response") is None


def test_next_response_runs_from_the_oldest_unanswered_customer_message() -> None:
    # Given a first reply, then two customer messages
    state = run(
        (Created("normal"), t(0, 10)),
        (AgentReply(), t(0, 10, 10)),
        (CustomerMessage(), t(0, 11)),
    )
    assert clock(state, "next_response").due_at == t(0, 13)
    state, events = step(state, CustomerMessage(), t(0, 12))
    assert events == []
    # When an agent replies
    state, events = step(state, AgentReply(), t(0, 12, 30))
    # Then the clock started by the first message is fulfilled, and the periodic update restarts
    assert brief(events) == [
        ("sla.fulfilled", "next_response", 1),
        ("sla.fulfilled", "periodic_update", 1),
        ("sla.started", "periodic_update", 2),
    ]
    assert clock(state, "next_response").consumed == 90 * M
    # And the next customer message starts a new instance
    state, events = step(state, CustomerMessage(), t(0, 14))
    assert brief(events) == [("sla.started", "next_response", 2)]
    assert clock(state, "next_response", 2).due_at == t(0, 16)


def test_solving_fulfils_every_running_clock_and_reopening_resumes_resolution_with_its_consumed_time() -> (
    None
):
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, StatusChanged("solved"), t(0, 10, 30))
    assert brief(events) == [("sla.fulfilled", "resolution", 1), ("sla.fulfilled", "first_response", 1)]
    assert {e.cause for e in events} == {"solved"}
    assert clock(state, "resolution").consumed == 30 * M
    # Messages on a solved ticket start nothing
    assert step(state, CustomerMessage(), t(0, 13))[1] == []
    # Reopened a day later: the same instance resumes; the solved day does not count
    state, events = step(state, StatusChanged("open"), t(1, 10, 30))
    assert brief(events) == [("sla.resumed", "resolution", 1)]
    assert events[0].cause == "reopened"
    res = clock(state, "resolution")
    assert (res.status, res.consumed, res.fulfilled_at, res.due_at) == (
        ClockStatus.ACTIVE,
        30 * M,
        None,
        t(4, 10),
    )
    assert clock(state, "first_response").status is ClockStatus.FULFILLED


def test_reopening_into_a_pause_category_leaves_resolution_paused() -> None:
    state = run((Created("normal"), t(0, 10)), (StatusChanged("solved"), t(0, 12)))
    state, events = step(state, StatusChanged("on_hold"), t(1, 12))
    assert brief(events) == [("sla.paused", "resolution", 1)]
    assert clock(state, "resolution").status is ClockStatus.PAUSED


# -- pauses ----------------------------------------------------------------------------------


def test_pending_pauses_the_clocks_and_resuming_moves_due_by_the_paused_time() -> None:
    state = run((Created("normal"), t(0, 10)), (AgentReply(), t(0, 10, 5)))
    state, events = step(state, StatusChanged("pending"), t(0, 11))
    assert brief(events) == [("sla.paused", "resolution", 1), ("sla.paused", "periodic_update", 1)]
    res = clock(state, "resolution")
    assert (res.status, res.paused_since, res.consumed, res.due_at) == (ClockStatus.PAUSED, t(0, 11), H, None)
    assert timers_for(state, STD, clocks=CLOCKS) == []
    state, events = step(state, StatusChanged("open"), t(0, 15))
    assert brief(events) == [("sla.resumed", "resolution", 1), ("sla.resumed", "periodic_update", 1)]
    assert clock(state, "resolution").due_at == t(3, 10) + 4 * H
    assert clock(state, "periodic_update").due_at == t(1, 10, 5) + 4 * H
    assert clock(state, "resolution").runs == ((t(0, 10), t(0, 11)),)


def test_first_response_is_not_paused_unless_the_policy_says_so() -> None:
    state = run((Created("normal"), t(0, 10)), (StatusChanged("pending"), t(0, 10, 30)))
    assert clock(state, "first_response").status is ClockStatus.ACTIVE
    assert clock(state, "first_response").due_at == t(0, 11)
    pausing = policy(targets={"first_response": {"normal": {"within": "1h"}}}, pause_first_response=True)
    state = run(
        (Created("normal"), t(0, 10)),
        (StatusChanged("pending"), t(0, 10, 30)),
        (StatusChanged("open"), t(0, 11, 30)),
        pol=pausing,
    )
    assert clock(state, "first_response").due_at == t(0, 12)


def test_business_time_targets_walk_the_calendar() -> None:
    # Created on Friday at 16:00: one business hour on Friday, one on Monday
    state = run((Created("normal"), t(4, 16)), pol=BIZ)
    assert clock(state, "first_response").due_at == t(7, 10)
    assert clock(state, "first_response").calendar == "office"


def test_a_business_pause_moves_due_by_the_paused_business_time() -> None:
    state = run((Created("normal"), t(0, 10)), pol=BIZ)
    due = clock(state, "resolution").due_at
    assert due == t(2, 10)  # 7 h on Monday, 8 on Tuesday, 1 on Wednesday
    state = run(
        (Created("normal"), t(0, 10)),
        (StatusChanged("on_hold"), t(0, 16)),
        (StatusChanged("open"), t(1, 10)),
        pol=BIZ,
    )
    # Paused 18 calendar hours, of which 2 business hours (Monday 16-17, Tuesday 9-10)
    assert clock(state, "resolution").consumed == 6 * H
    assert clock(state, "resolution").due_at == t(2, 12)
    assert clock(state, "resolution").due_at == OFFICE.add(t(2, 10), OFFICE.elapsed(t(0, 16), t(1, 10)))


# -- breaches --------------------------------------------------------------------------------


def test_a_breach_is_stamped_at_due_not_when_it_is_noticed() -> None:
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, Tick(), t(0, 14))
    assert brief(events) == [("sla.breached", "first_response", 1)]
    assert (events[0].at, events[0].cause) == (t(0, 11), "time")
    fr = clock(state, "first_response")
    assert (fr.status, fr.breached_at, fr.due_at) == (ClockStatus.ACTIVE, t(0, 11), t(0, 11))
    assert step(state, Tick(), t(0, 15))[1] == []


def test_a_late_reply_records_the_breach_at_due_then_fulfils() -> None:
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, AgentReply(), t(0, 11, 30))
    assert brief(events) == [
        ("sla.breached", "first_response", 1),
        ("sla.fulfilled", "first_response", 1),
        ("sla.started", "periodic_update", 1),
    ]
    assert [e.at for e in events] == [t(0, 11), t(0, 11, 30), t(0, 11, 30)]
    fr = clock(state, "first_response")
    assert (fr.breached_at, fr.fulfilled_at, fr.consumed) == (t(0, 11), t(0, 11, 30), 90 * M)


def test_a_breached_clock_keeps_running_and_shows_negative_time_left() -> None:
    state = run((Created("normal"), t(0, 10)), (Tick(), t(0, 12)))
    fr = clock(state, "first_response")
    assert remaining(fr, CALENDAR_TIME, t(0, 12, 15)) == Remaining(-75 * M, -75 * M)
    assert next_breach(state) == t(3, 10)


def test_a_breached_clock_paused_and_resumed_keeps_its_true_breach_instant_as_due() -> None:
    hour = policy(targets={"resolution": {"normal": {"within": "1h"}}})
    state = run(
        (Created("normal"), t(0, 10)),
        (StatusChanged("pending"), t(0, 10, 30)),
        (StatusChanged("open"), t(0, 11)),
        (Tick(), t(0, 11, 40)),
        (StatusChanged("pending"), t(0, 12)),
        (StatusChanged("open"), t(0, 13)),
        pol=hour,
    )
    res = clock(state, "resolution")
    assert (res.breached_at, res.due_at, res.consumed) == (t(0, 11, 30), t(0, 11, 30), 90 * M)
    assert remaining(res, CALENDAR_TIME, t(0, 13, 30)) == Remaining(-H, -2 * H)


def test_a_ticket_logged_as_solved_has_its_resolution_fulfilled_at_once() -> None:
    state, events = step(None, Created("normal", category="solved"), t(0, 10))
    assert brief(events) == [("sla.started", "resolution", 1), ("sla.fulfilled", "resolution", 1)]
    assert state.running("resolution") is None


# -- retargeting -----------------------------------------------------------------------------


def test_a_priority_change_keeps_consumed_and_recomputes_due() -> None:
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, PriorityChanged("urgent"), t(0, 10, 10))
    assert brief(events) == [("sla.retargeted", "resolution", 1), ("sla.retargeted", "first_response", 1)]
    assert [(e.target, e.cause) for e in events] == [(4 * H, "priority"), (15 * M, "priority")]
    assert clock(state, "first_response").due_at == t(0, 10, 15)
    assert clock(state, "resolution").due_at == t(0, 14)
    assert state.priority == "urgent"
    state, events = step(state, Tick(), t(0, 10, 20))
    assert [(e.kind, e.at) for e in events] == [("sla.breached", t(0, 10, 15))]


def test_a_target_already_exceeded_when_it_applies_is_breached_at_that_change() -> None:
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, PriorityChanged("urgent"), t(0, 10, 30))
    assert brief(events)[-1] == ("sla.breached", "first_response", 1)
    assert (events[-1].at, events[-1].cause) == (t(0, 10, 30), "priority")
    fr = clock(state, "first_response")
    assert (fr.breached_at, fr.due_at) == (t(0, 10, 30), t(0, 10, 15))


def test_a_priority_raised_during_a_pause_breaches_an_exceeded_target_at_once() -> None:
    state = run(
        (Created("normal"), t(0, 10)),
        (StatusChanged("on_hold"), t(0, 15)),
        (PriorityChanged("urgent"), t(0, 16)),
    )
    res = clock(state, "resolution")
    assert (res.status, res.consumed, res.target, res.breached_at) == (
        ClockStatus.PAUSED,
        5 * H,
        4 * H,
        t(0, 16),
    )


def test_a_target_of_another_kind_measures_consumed_again_over_the_runs() -> None:
    mixed = policy(
        calendar="office",
        targets={"resolution": {"normal": {"within": "8h", "business": True}, "urgent": {"within": "12h"}}},
    )
    state = run(
        (Created("urgent"), t(0, 7)),
        (StatusChanged("pending"), t(0, 8)),
        (StatusChanged("open"), t(0, 9, 30)),
        pol=mixed,
    )
    assert (clock(state, "resolution").consumed, clock(state, "resolution").due_at) == (H, t(0, 20, 30))
    state, _ = step(state, PriorityChanged("normal"), t(0, 10), mixed)
    res = clock(state, "resolution")
    # The hour it ran (7-8) was outside office hours: zero business time
    assert (res.calendar, res.consumed, res.target) == ("office", timedelta(0), 8 * H)
    assert res.due_at == t(1, 9, 30)


def test_a_policy_change_supersedes_running_clocks_and_carries_their_time() -> None:
    vip = policy(
        key="vip",
        targets={"periodic_update": {"normal": {"within": "4h"}}, "resolution": {"normal": {"within": "1d"}}},
    )
    state = run((Created("normal"), t(0, 10)), (AgentReply(), t(0, 10, 10)))
    state, events = step(state, PolicyChanged(), t(0, 10, 30), vip)
    assert brief(events) == [
        ("sla.superseded", "resolution", 1),
        ("sla.started", "resolution", 2),
        ("sla.superseded", "periodic_update", 1),
        ("sla.started", "periodic_update", 2),
    ]
    assert state.policy == "vip"
    old = clock(state, "resolution", 1)
    assert (old.status, old.superseded_at, old.due_at) == (ClockStatus.SUPERSEDED, t(0, 10, 30), None)
    new = clock(state, "resolution", 2)
    assert (new.started_at, new.consumed, new.target, new.due_at) == (t(0, 10), 30 * M, 24 * H, t(1, 10))
    assert clock(state, "periodic_update", 2).due_at == t(0, 14, 10)
    # The fulfilled first response stays as it was
    assert clock(state, "first_response").status is ClockStatus.FULFILLED
    assert state.running("first_response") is None


def test_a_switch_to_business_time_measures_the_carried_time_in_business_hours() -> None:
    state = run((Created("normal"), t(0, 8)))
    state, _ = step(state, PolicyChanged(), t(0, 10), BIZ)
    res, fr = clock(state, "resolution", 2), clock(state, "first_response", 2)
    # Two calendar hours (8-10) of which one in office hours (9-10)
    assert (res.calendar, res.consumed, res.started_at) == ("office", H, t(0, 8))
    assert res.due_at == t(1, 17)
    assert fr.due_at == t(0, 11)


def test_any_change_under_another_policy_switches_first() -> None:
    vip = policy(key="vip", targets={"next_response": {"normal": {"within": "30m"}}})
    state = run((Created("normal"), t(0, 10)), (AgentReply(), t(0, 10, 10)))
    state, events = step(state, CustomerMessage(), t(0, 11), vip)
    assert brief(events)[:2] == [("sla.superseded", "resolution", 1), ("sla.started", "resolution", 2)]
    assert brief(events)[-1] == ("sla.started", "next_response", 1)
    assert clock(state, "next_response").due_at == t(0, 11, 30)
    assert clock(state, "resolution", 2).target is None  # vip sets no resolution target


def test_a_new_policy_whose_target_is_already_exceeded_breaches_at_the_switch() -> None:
    strict = policy(key="strict", targets={"first_response": {"normal": {"within": "5m"}}})
    state = run((Created("normal"), t(0, 10)))
    state, events = step(state, PolicyChanged(), t(0, 10, 20), strict)
    assert brief(events)[-1] == ("sla.breached", "first_response", 2)
    assert (events[-1].at, events[-1].cause) == (t(0, 10, 20), "policy")
    assert clock(state, "first_response", 2).due_at == t(0, 10, 5)


def test_without_a_policy_clocks_measure_without_deadlines_until_one_applies() -> None:
    state = run((Created("normal"), t(0, 10)), pol=None)
    assert state.policy is None
    assert [(c.metric, c.target, c.due_at) for c in state.clocks] == [
        ("resolution", None, None),
        ("first_response", None, None),
    ]
    assert timers_for(state, None, clocks=CLOCKS) == []
    assert remaining(clock(state, "first_response"), CALENDAR_TIME, t(0, 11)) == Remaining(None, None)
    # A policy that applies later measures the first response from the ticket's creation
    state, _ = step(state, PolicyChanged(), t(0, 10, 30), STD)
    assert clock(state, "first_response", 2).due_at == t(0, 11)


# -- timers ----------------------------------------------------------------------------------

TIMED = policy(
    targets={"first_response": {"normal": {"within": "1h"}}, "resolution": {"normal": {"within": "3d"}}},
    warnings=[{"at_percent": 80}, {"before": "15m"}],
    escalations=[
        {"after_breach": "-30m", "actions": [{"add_tags": ["sla_soon"]}]},
        {"after_breach": "0m", "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}]},
        {"after_breach": "2h", "actions": [{"assign": {"team": 4}}], "metrics": ["resolution"]},
    ],
)


def test_timers_are_the_warnings_the_breach_and_the_ladder_in_due_order() -> None:
    state = run((Created("normal"), t(0, 10)), pol=TIMED)
    fr, res = "first_response", "resolution"
    assert timers_for(state, TIMED, clocks=CLOCKS) == [
        SlaTimer(fr, 1, "escalation", 0, t(0, 10, 30)),
        SlaTimer(fr, 1, "warning", 1, t(0, 10, 45)),
        SlaTimer(fr, 1, "warning", 0, t(0, 10, 48)),
        SlaTimer(fr, 1, "breach", 0, t(0, 11)),
        SlaTimer(fr, 1, "escalation", 1, t(0, 11)),
        SlaTimer(res, 1, "warning", 0, t(2, 19, 36)),  # 80 % of 72 h
        SlaTimer(res, 1, "escalation", 0, t(3, 9, 30)),
        SlaTimer(res, 1, "warning", 1, t(3, 9, 45)),
        SlaTimer(res, 1, "breach", 0, t(3, 10)),
        SlaTimer(res, 1, "escalation", 1, t(3, 10)),
        SlaTimer(res, 1, "escalation", 2, t(3, 12)),
    ]


def test_business_timers_walk_business_time_backwards_and_forwards() -> None:
    state = run((Created("normal"), t(0, 9)), pol=BIZ)
    assert [(x.metric, x.kind, x.level, x.due_at) for x in timers_for(state, BIZ, clocks=CLOCKS)] == [
        ("first_response", "breach", 0, t(0, 11)),
        ("resolution", "warning", 0, t(0, 15)),  # 10 business hours left
        ("resolution", "escalation", 0, t(1, 15)),  # 2 business hours before the breach
        ("resolution", "breach", 0, t(1, 17)),
        ("resolution", "escalation", 1, t(2, 10)),  # 1 business hour after it
    ]


def test_timer_keys_are_unique_per_clock_instance() -> None:
    ladder = policy(
        targets={"next_response": {"normal": {"within": "2h"}}},
        warnings=[{"at_percent": 50}],
        escalations=[{"after_breach": "0m", "actions": [{"add_tags": ["late"]}]}],
    )
    state = run(
        (Created("normal"), t(0, 10)),
        (AgentReply(), t(0, 10, 5)),
        (CustomerMessage(), t(0, 11)),
        pol=ladder,
    )
    first = timers_for(state, ladder, clocks=CLOCKS)
    state = run(
        (Created("normal"), t(0, 10)),
        (AgentReply(), t(0, 10, 5)),
        (CustomerMessage(), t(0, 11)),
        (AgentReply(), t(0, 11, 30)),
        (CustomerMessage(), t(0, 12)),
        pol=ladder,
    )
    second = timers_for(state, ladder, clocks=CLOCKS)
    assert [x.key for x in first] == [
        ("next_response", 1, "warning", 0),
        ("next_response", 1, "breach", 0),
        ("next_response", 1, "escalation", 0),
    ]
    assert [x.key for x in second] == [
        ("next_response", 2, "warning", 0),
        ("next_response", 2, "breach", 0),
        ("next_response", 2, "escalation", 0),
    ]
    assert [x.due_at for x in second] == [t(0, 13), t(0, 14), t(0, 14)]


def test_thresholds_passed_before_a_pause_are_not_planned_again() -> None:
    half = policy(
        targets={"resolution": {"normal": {"within": "1h"}}},
        warnings=[{"at_percent": 50}],
        escalations=[{"after_breach": "1h", "actions": [{"add_tags": ["late"]}]}],
    )
    state = run(
        (Created("normal"), t(0, 10)),
        (StatusChanged("pending"), t(0, 10, 40)),
        (StatusChanged("open"), t(0, 11)),
        pol=half,
    )
    assert [(x.kind, x.due_at) for x in timers_for(state, half, clocks=CLOCKS)] == [
        ("breach", t(0, 11, 20)),
        ("escalation", t(0, 12, 20)),
    ]
    # Once breached, only the ladder is left
    state, _ = step(state, Tick(), t(0, 11, 30), half)
    assert [x.kind for x in timers_for(state, half, clocks=CLOCKS)] == ["escalation"]


def test_timers_need_the_states_policy() -> None:
    state = run((Created("normal"), t(0, 10)))
    with pytest.raises(ValueError, match="follow policy 'std'"):
        timers_for(state, BIZ, clocks=CLOCKS)


# -- display ---------------------------------------------------------------------------------


def test_time_left_is_shown_in_the_metrics_time_and_in_calendar_time() -> None:
    state = run((Created("normal"), t(0, 10)), pol=BIZ)
    res = clock(state, "resolution")
    assert remaining(res, OFFICE, t(0, 16, 30)) == Remaining(9 * H + 30 * M, 41 * H + 30 * M)
    state, _ = step(state, StatusChanged("pending"), t(0, 16, 30), BIZ)
    assert remaining(clock(state, "resolution"), OFFICE, t(1, 12)) == Remaining(9 * H + 30 * M, None)
    state, _ = step(state, StatusChanged("solved"), t(1, 12), BIZ)
    assert remaining(clock(state, "resolution"), OFFICE, t(1, 13)) == Remaining(None, None)
    assert clock_for(CLOCKS, "office") is OFFICE
    assert clock_for(CLOCKS, None) is CALENDAR_TIME


# -- reflow ----------------------------------------------------------------------------------


def test_reflow_after_a_calendar_edit_keeps_consumed_and_moves_due() -> None:
    state = run(
        (Created("normal"), t(0, 10)),
        (StatusChanged("pending"), t(0, 11)),
        (StatusChanged("open"), t(0, 13)),
        pol=BIZ,
    )
    assert clock(state, "resolution").due_at == t(2, 12)
    longer = {"office": OfficeHours(8, 18)}
    state, events = reflow(state, policy=BIZ, clocks=longer, now=t(0, 14))
    res = clock(state, "resolution")
    assert (res.consumed, res.runs, res.due_at) == (H, ((t(0, 10), t(0, 11)),), t(1, 18))
    assert ("sla.retargeted", "resolution", 1) in brief(events)
    assert {e.cause for e in events} == {"reflow"}


def test_reflow_after_a_target_edit_recomputes_due_and_breaches_exceeded_targets_now() -> None:
    state = run((Created("normal"), t(0, 10)))
    edited = policy(targets={"first_response": {"normal": {"within": "30m"}}})
    state2, events = reflow(state, policy=edited, clocks=CLOCKS, now=t(0, 10, 10))
    assert clock(state2, "first_response").due_at == t(0, 10, 30)
    assert clock(state2, "resolution").target is None
    assert brief(events) == [("sla.retargeted", "resolution", 1), ("sla.retargeted", "first_response", 1)]
    tighter = policy(targets={"first_response": {"normal": {"within": "5m"}}})
    state3, events = reflow(state, policy=tighter, clocks=CLOCKS, now=t(0, 10, 10))
    assert clock(state3, "first_response").breached_at == t(0, 10, 10)
    assert (events[-1].kind, events[-1].cause) == ("sla.breached", "reflow")
    with pytest.raises(ValueError, match="reflow keeps the policy"):
        reflow(state, policy=BIZ, clocks=CLOCKS, now=t(0, 11))


# -- errors and persistence ------------------------------------------------------------------


def test_changes_are_checked() -> None:
    state = run((Created("normal"), t(0, 10)), (StatusChanged("pending"), t(0, 11)))
    with pytest.raises(ValueError, match="aware"):
        step(state, Tick(), datetime(2026, 11, 2, 12))
    with pytest.raises(ValueError, match="before the last change"):
        step(state, Tick(), t(0, 10, 30))
    with pytest.raises(ValueError, match="already has SLA clocks"):
        step(state, Created("normal"), t(0, 12))
    with pytest.raises(ValueError, match="must start with Created"):
        step(None, CustomerMessage(), t(0, 12))
    with pytest.raises(ValueError, match="unknown priority"):
        step(state, PriorityChanged("critical"), t(0, 12))
    with pytest.raises(ValueError, match="unknown status category"):
        step(state, StatusChanged("waiting"), t(0, 12))
    with pytest.raises(LookupError, match="no clock for calendar 'office'"):
        apply_change(None, Created("normal"), policy=BIZ, clocks={}, now=t(0, 12))


def test_the_state_round_trips_through_json() -> None:
    state = run(
        (Created("normal"), t(0, 10)),
        (AgentReply(), t(0, 10, 5)),
        (StatusChanged("pending"), t(0, 11)),
        (StatusChanged("open"), t(0, 13)),
        (CustomerMessage(), t(0, 13, 1)),
        (Tick(), t(0, 16)),
        (PriorityChanged("urgent"), t(0, 16, 30)),
    )
    state = step(state, PolicyChanged(), t(0, 17), BIZ)[0]
    data = json.loads(json.dumps(state_to_data(state)))
    assert state_from_data(data) == state
    assert data["clocks"][0]["runs"] == [
        ["2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z"],
        [
            "2026-11-02T13:00:00Z",
            "2026-11-02T17:00:00Z",
        ],
    ]
    event = step(state, PriorityChanged("normal"), t(0, 17, 30), BIZ)[1][0]
    assert json.loads(json.dumps(event_to_data(event)))["at"].endswith("Z")
    with pytest.raises(ValueError, match="unknown metric"):
        state_from_data({**data, "clocks": [{**data["clocks"][0], "metric": "csat"}]})


# -- laws ------------------------------------------------------------------------------------

_WEEK = timedelta(days=7)


@settings(max_examples=100)
@given(
    st.timedeltas(min_value=timedelta(0), max_value=_WEEK),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3) - timedelta(microseconds=1)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    st.sampled_from(["pending", "on_hold"]),
)
def test_a_pause_shifts_due_by_exactly_its_length_in_calendar_time(
    created: timedelta, after: timedelta, paused: timedelta, category: str
) -> None:
    start = t(0, 0) + created
    state = run((Created("normal"), start))
    due = clock(state, "resolution").due_at
    assert due is not None
    state = run(
        (Created("normal"), start),
        (StatusChanged(category), start + after),
        (StatusChanged("open"), start + after + paused),
    )
    res = clock(state, "resolution")
    assert res.due_at == due + paused
    assert res.breached_at is None


@settings(max_examples=60)
@given(
    st.timedeltas(min_value=timedelta(0), max_value=_WEEK),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
)
def test_a_pause_shifts_a_business_due_by_the_paused_business_time(
    created: timedelta, share: float, paused: timedelta
) -> None:
    start = t(0, 0) + created
    due = clock(run((Created("normal"), start), pol=BIZ), "resolution").due_at
    assert due is not None
    pause_at = start + (due - start) * share
    assume(pause_at < due)
    state = run(
        (Created("normal"), start),
        (StatusChanged("on_hold"), pause_at),
        (StatusChanged("open"), pause_at + paused),
        pol=BIZ,
    )
    assert clock(state, "resolution").due_at == OFFICE.add(due, OFFICE.elapsed(pause_at, pause_at + paused))
