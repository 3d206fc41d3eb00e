"""Time rules as timers: anchors, due instants, stable anchor keys and the plan for a ticket.
Pure Python: no database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.actions import AddTags
from sportello.engine.conditions import FIELDS, parse_condition
from sportello.engine.rules import TimeRule, TimeStep
from sportello.engine.timerules import PlannedTimer, anchor_instant, anchor_key, plan_timers, step_due

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
WHEN = parse_condition({"field": "ticket.team", "op": "present"}, specs=FIELDS)


def trule(key: str, anchor: str, *afters: timedelta, active: bool = True, business: bool = False) -> TimeRule:
    return TimeRule(
        key=key,
        name=key,
        anchor=anchor,
        when=WHEN,
        steps=tuple(TimeStep(a, (AddTags((f"step{i}",)),)) for i, a in enumerate(afters)),
        active=active,
        business=business,
        version=2,
    )


def test_anchor_instant_reads_the_rules_anchor() -> None:
    rule = trule("r", "status_entered:pending", timedelta(hours=1))
    assert anchor_instant(rule, {"status_entered:pending": T0, "created": T0 - timedelta(days=1)}) == T0
    assert anchor_instant(rule, {"created": T0}) is None
    assert anchor_instant(rule, {"status_entered:pending": None}) is None


def test_naive_anchor_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        anchor_instant(trule("r", "created", timedelta(0)), {"created": datetime(2026, 1, 1)})


def test_step_due_is_calendar_time_without_a_business_calendar() -> None:
    step = TimeStep(timedelta(hours=24), ())
    assert step_due(T0, step, business=False) == T0 + timedelta(hours=24)
    assert step_due(T0, step, business=True) == T0 + timedelta(hours=24)
    assert step_due(T0, TimeStep(timedelta(hours=-1), ()), business=False) == T0 - timedelta(hours=1)


def test_step_due_uses_the_business_calendar_when_the_rule_counts_business_time() -> None:
    calls: list[tuple[datetime, timedelta]] = []

    def add_business(start: datetime, d: timedelta) -> datetime:
        calls.append((start, d))
        return start + 3 * d

    step = TimeStep(timedelta(hours=2), ())
    assert step_due(T0, step, business=True, add_business=add_business) == T0 + timedelta(hours=6)
    assert step_due(T0, step, business=False, add_business=add_business) == T0 + timedelta(hours=2)
    assert calls == [(T0, timedelta(hours=2))]


def test_anchor_key_is_sha256_of_the_parts_truncated_to_32() -> None:
    expected = hashlib.sha256(
        "\x1f".join(["idle", "42", "last_update", "2026-11-02T09:30:00+00:00"]).encode()
    ).hexdigest()[:32]
    assert anchor_key("idle", 42, "last_update", T0) == expected
    assert len(expected) == 32


def test_anchor_key_depends_on_the_instant_not_its_offset() -> None:
    madrid_offset = T0.astimezone(timezone(timedelta(hours=1)))
    assert anchor_key("idle", 42, "last_update", madrid_offset) == anchor_key("idle", 42, "last_update", T0)


@given(
    st.text(min_size=1, max_size=10),
    st.integers(1, 10**9),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.integers(1, 10**6),
)
def test_anchor_key_changes_with_a_new_anchor_instance(
    rule_key: str, ticket: int, at: datetime, s: int
) -> None:
    assert anchor_key(rule_key, ticket, "created", at) != anchor_key(
        rule_key, ticket, "created", at + timedelta(seconds=s)
    )
    assert anchor_key(rule_key, ticket, "created", at) != anchor_key(rule_key, ticket + 1, "created", at)


def test_plan_lists_every_step_of_every_running_rule_in_due_order() -> None:
    # Given two rules with clocks running and one whose anchor is absent, one inactive
    idle = trule("idle", "last_update", timedelta(days=1), timedelta(days=2))
    due = trule("due", "due_date", timedelta(hours=-1), timedelta(0))
    pending = trule("pending", "status_entered:pending", timedelta(hours=1))
    off = trule("off", "created", timedelta(hours=1), active=False)
    anchors = {"last_update": T0, "due_date": T0 + timedelta(hours=30), "created": T0}
    # When planned
    plan = plan_timers([idle, due, pending, off], 42, anchors)
    # Then every step of the running, active rules is listed, ordered by due instant
    idle_key = anchor_key("idle", 42, "last_update", T0)
    due_key = anchor_key("due", 42, "due_date", T0 + timedelta(hours=30))
    assert plan == [
        PlannedTimer("idle", 2, 0, idle_key, T0 + timedelta(days=1)),
        PlannedTimer("due", 2, 0, due_key, T0 + timedelta(hours=29)),
        PlannedTimer("due", 2, 1, due_key, T0 + timedelta(hours=30)),
        PlannedTimer("idle", 2, 1, idle_key, T0 + timedelta(days=2)),
    ]


def test_steps_already_past_due_are_still_planned() -> None:
    # Given an anchor three days ago and steps at one and two days
    rule = trule("idle", "last_update", timedelta(days=1), timedelta(days=2))
    plan = plan_timers([rule], 7, {"last_update": T0 - timedelta(days=3)})
    # Then both are planned (the worker fires them at once)
    assert [t.due_at for t in plan] == [T0 - timedelta(days=2), T0 - timedelta(days=1)]


def test_plan_is_the_same_on_every_call_and_changes_with_the_anchor() -> None:
    rule = trule("idle", "last_update", timedelta(days=1))
    first = plan_timers([rule], 7, {"last_update": T0})
    assert plan_timers([rule], 7, {"last_update": T0}) == first
    moved = plan_timers([rule], 7, {"last_update": T0 + timedelta(minutes=5)})
    assert moved[0].anchor_key != first[0].anchor_key
    assert moved[0].due_at == T0 + timedelta(days=1, minutes=5)


def test_business_rules_use_the_calendar_hook_and_calendar_rules_do_not() -> None:
    def add_business(start: datetime, d: timedelta) -> datetime:
        return start + 2 * d

    biz = trule("biz", "created", timedelta(hours=8), business=True)
    cal = trule("cal", "created", timedelta(hours=8))
    plan = plan_timers([biz, cal], 1, {"created": T0}, add_business=add_business)
    assert {t.rule_key: t.due_at for t in plan} == {
        "biz": T0 + timedelta(hours=16),
        "cal": T0 + timedelta(hours=8),
    }
