"""The views' count statements are compiled once per process and reused: the reused statement
counts what a freshly compiled one counts, whatever the clock says and after anything its SQL
depends on changes (a view's condition, the agent's departments, the custom fields)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from sportello.queues import selectors, services, statements
from sportello.queues.models import SavedView
from sportello.tickets.models import Ticket


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """An empty cache, and how many times the counts' SQL was built."""
    selectors.COMPILED.clear()
    built = {"counts": 0}
    original = selectors.view_counts_statement

    def counting(views: Any, ctx: Any) -> Any:
        built["counts"] += 1
        return original(views, ctx)

    monkeypatch.setattr(selectors, "view_counts_statement", counting)
    return built


def _counts(user: Any, now: datetime) -> dict[str, int]:
    views = selectors.view_list_for(user=user)
    ctx = selectors.view_context(user=user, now=now)
    numbers = selectors.view_counts(views=views, ctx=ctx)
    return {v.key or v.name: numbers[v.pk] for v in views}


def _fresh(user: Any, now: datetime) -> dict[str, int]:
    """The counts from a statement compiled for this request alone."""
    views = selectors.view_list_for(user=user)
    ctx = selectors.view_context(user=user, now=now)
    sql, params = selectors.view_counts_statement(views, ctx)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return {v.key or v.name: int(n) for v, n in zip(views, row, strict=True)}


def test_a_reused_statement_counts_back_a_week_from_each_request(
    desk: Any,
    open_ticket: Any,
    browser: Any,
    frozen_clock: datetime,
    compiled: dict[str, int],
    solve: Callable[[Any, datetime], None],
) -> None:
    # given tickets solved 6.9 and 7.1 days before the clock
    browser(desk.agent).get("/")  # the shipped views
    inside = open_ticket("Solved 6.9 days ago", minutes_ago=8 * 24 * 60)
    solve(inside, frozen_clock - timedelta(days=6.9))
    outside = open_ticket("Solved 7.1 days ago", minutes_ago=8 * 24 * 60)
    solve(outside, frozen_clock - timedelta(days=7.1))
    # when the counts are asked now, 0.15 days later and 0.15 days earlier
    now = _counts(desk.agent, frozen_clock)
    later = _counts(desk.agent, frozen_clock + timedelta(days=0.15))
    earlier = _counts(desk.agent, frozen_clock - timedelta(days=0.15))
    # then the week moves with the request: one, none, both
    assert (now["recently-solved"], later["recently-solved"], earlier["recently-solved"]) == (1, 0, 2)
    # from one statement built once (at the request's instant and at the probe's), as fresh
    # statements count
    assert compiled["counts"] == 2
    for at, counted in (
        (frozen_clock, now),
        (frozen_clock + timedelta(days=0.15), later),
        (frozen_clock - timedelta(days=0.15), earlier),
    ):
        assert counted == _fresh(desk.agent, at)


def test_a_reused_statement_moves_the_at_risk_window_with_the_request(
    desk: Any, open_ticket: Any, browser: Any, frozen_clock: datetime, compiled: dict[str, int]
) -> None:
    from sportello.sla.models import TicketSla

    browser(desk.agent).get("/")
    ticket = open_ticket("Due in 59 minutes")
    # a clock that breaches 59 minutes after the clock (at risk: within the hour)
    TicketSla.objects.create(
        ticket=ticket, state={}, next_breach_at=frozen_clock + timedelta(minutes=59), updated_at=frozen_clock
    )
    assert _counts(desk.agent, frozen_clock)["sla-at-risk"] == 1
    # two minutes earlier it is 61 minutes away: not yet at risk
    assert _counts(desk.agent, frozen_clock - timedelta(minutes=2))["sla-at-risk"] == 0
    assert _counts(desk.agent, frozen_clock + timedelta(minutes=2))["sla-at-risk"] == 1
    assert compiled["counts"] == 2


def test_a_changed_condition_is_compiled_again(
    desk: Any, open_ticket: Any, frozen_clock: datetime, compiled: dict[str, int]
) -> None:
    open_ticket("Urgent", priority="urgent")
    open_ticket("Normal")
    specs = selectors.view_context(user=desk.agent, now=frozen_clock).specs
    view = services.saved_view_create(
        actor=desk.agent,
        data=services.ViewInput(
            name="Urgent", condition={"field": "ticket.priority", "op": "is", "value": "urgent"}
        ),
        specs=specs,
        now=frozen_clock,
    )
    assert _counts(desk.agent, frozen_clock)["Urgent"] == 1
    # the condition changes (at the same instant: the view's update time is the same)
    services.saved_view_update(
        actor=desk.agent,
        view_id=view.pk,
        data=services.ViewInput(
            condition={"field": "ticket.priority", "op": "in", "value": ["urgent", "normal"]}
        ),
        specs=specs,
        now=frozen_clock,
    )
    assert _counts(desk.agent, frozen_clock)["Urgent"] == 2
    # and even changed behind the services' back
    SavedView.objects.filter(pk=view.pk).update(
        condition={"field": "ticket.priority", "op": "is", "value": "low"}
    )
    assert _counts(desk.agent, frozen_clock) == _fresh(desk.agent, frozen_clock)
    assert _counts(desk.agent, frozen_clock)["Urgent"] == 0


def test_the_agents_departments_are_part_of_the_statement(
    desk: Any, open_ticket: Any, browser: Any, frozen_clock: datetime, compiled: dict[str, int]
) -> None:
    from sportello.accounts.services import agent_update

    browser(desk.agent).get("/")
    open_ticket("Book")
    open_ticket("TV", department=desk.electronics)
    before = _counts(desk.agent, frozen_clock)
    assert (before["unassigned"], before["all-unresolved"]) == (1, 1)
    # when the agent also works in Electronics
    agent_update(agent=desk.agent, actor=desk.admin, departments=[desk.books, desk.electronics])
    desk.agent.refresh_from_db()
    after = _counts(desk.agent, frozen_clock)
    assert (after["unassigned"], after["all-unresolved"]) == (2, 2)
    # and when they leave Books
    agent_update(agent=desk.agent, actor=desk.admin, departments=[desk.electronics])
    assert _counts(desk.agent, frozen_clock)["unassigned"] == 1
    assert compiled["counts"] == 6  # one statement per set of departments


def test_a_custom_field_added_is_part_of_the_statement(
    desk: Any, open_ticket: Any, browser: Any, frozen_clock: datetime, compiled: dict[str, int]
) -> None:
    from sportello.tickets.fields_services import (
        FieldOption,
        LayoutRowSpec,
        custom_field_create,
        layout_replace,
    )

    browser(desk.agent).get("/")
    first = _counts(desk.agent, frozen_clock)
    kept = len(selectors.COMPILED)
    # when a picklist is added and a view asks for one of its values
    custom_field_create(
        actor=desk.admin,
        key="region",
        label="Region",
        type="picklist",
        options=[FieldOption("north"), FieldOption("south")],
    )
    layout_replace(actor=desk.admin, department=desk.books, rows=[LayoutRowSpec(field="region")])
    open_ticket("Northern", custom_fields={"region": "north"})
    open_ticket("Southern", custom_fields={"region": "south"})
    services.saved_view_create(
        actor=desk.agent,
        data=services.ViewInput(
            name="North", condition={"field": "ticket.custom.region", "op": "is", "value": "north"}
        ),
        specs=selectors.view_context(user=desk.agent, now=frozen_clock).specs,
        now=frozen_clock,
    )
    counted = _counts(desk.agent, frozen_clock)
    # then its statement is another one, counting right
    assert counted["North"] == 1
    assert counted == _fresh(desk.agent, frozen_clock)
    assert first["all-unresolved"] == 0
    assert counted["all-unresolved"] == 2
    assert len(selectors.COMPILED) == kept + 1


def test_unchanged_views_and_agent_reuse_the_statement(
    desk: Any, open_ticket: Any, browser: Any, compiled: dict[str, int]
) -> None:
    client = browser(desk.agent)
    client.get("/")
    open_ticket("One")
    for _ in range(3):
        client.get("/queues/counts/")
    assert compiled["counts"] == 2


# --------------------------------------------------------------------------------------------
# The mechanism


def _instant(value: datetime) -> Any:
    """`value` as the backend is given it (SQLite: text)."""
    return connection.ops.adapt_datetimefield_value(value)


def test_parameters_moving_with_now_are_bound_to_each_request(frozen_clock: datetime) -> None:
    probe = frozen_clock + statements.PROBE
    week = timedelta(days=7)
    first = ("SELECT %s, %s, %s", [_instant(frozen_clock - week), "open", 3])
    second = ("SELECT %s, %s, %s", [_instant(probe - week), "open", 3])
    compiled = statements.derive(first, second, now=frozen_clock, probe=probe, using="default")
    assert compiled is not None
    later = frozen_clock + timedelta(hours=5)
    assert compiled.bind(later, using="default") == [_instant(later - week), "open", 3]


@pytest.mark.parametrize(
    "second",
    [
        # the SQL changes with the instant
        lambda now, probe: ("SELECT %s, %s, 1", [_instant(probe), "open"]),
        # a parameter moves, but not by the distance between the two instants
        lambda now, probe: ("SELECT %s, %s", [_instant(probe + timedelta(days=1)), "open"]),
        # a value that is not an instant changes
        lambda now, probe: ("SELECT %s, %s", [_instant(probe), "closed"]),
    ],
)
def test_statements_that_change_otherwise_are_not_kept(
    frozen_clock: datetime, second: Callable[[datetime, datetime], Any]
) -> None:
    probe = frozen_clock + statements.PROBE
    first = ("SELECT %s, %s", [_instant(frozen_clock), "open"])
    assert (
        statements.derive(first, second(frozen_clock, probe), now=frozen_clock, probe=probe, using="default")
        is None
    )


def test_a_statement_not_kept_is_built_once_per_request_from_then_on(db: Any, frozen_clock: datetime) -> None:
    cache = statements.StatementCache(size=4)
    builds: list[datetime] = []

    def build(now: datetime) -> tuple[str, list[Any]]:
        builds.append(now)
        return f"SELECT {len(builds)}", []  # different SQL at every build: never reusable

    assert cache.statement("k", build, now=frozen_clock, using="default") == ("SELECT 1", [])
    assert len(builds) == 2
    assert cache.statement("k", build, now=frozen_clock, using="default") == ("SELECT 3", [])
    assert len(builds) == 3


def test_the_cache_keeps_the_most_recently_used_statements(db: Any, frozen_clock: datetime) -> None:
    cache = statements.StatementCache(size=2)
    builds: list[str] = []

    def build_for(key: str) -> Callable[[datetime], tuple[str, list[Any]]]:
        def build(now: datetime) -> tuple[str, list[Any]]:
            builds.append(key)
            return f"SELECT '{key}'", []

        return build

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.statement(key, build_for(key), now=frozen_clock, using="default")
    # "b" left when "c" came (a was used more recently); it is built again at its return
    assert builds == ["a", "a", "b", "b", "c", "c", "b", "b"]
    assert len(cache) == 2


def test_one_views_count_is_compiled_once_too(
    desk: Any, open_ticket: Any, frozen_clock: datetime, compiled: dict[str, int]
) -> None:
    open_ticket("One")
    open_ticket("TV", department=desk.electronics)
    view = SavedView(condition={"field": "ticket.priority", "op": "is", "value": "normal"}, extra="")
    contexts = [selectors.view_context(user=user, now=frozen_clock) for user in (desk.admin, desk.agent)]
    kept = len(selectors.COMPILED)
    for ctx, expected in ((contexts[0], 2), (contexts[1], 1), (contexts[0], 2)):
        assert selectors.view_count(view=view, ctx=ctx) == expected
    assert len(selectors.COMPILED) == kept + 2  # one per agent
    assert Ticket.objects.count() == 2
