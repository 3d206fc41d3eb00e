"""A view's pages: the same tickets in the same order whichever way the page's ids are read (the
sort column's index walked, or the view's tickets read whole and sorted), for every sort in both
directions, page after page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.core.paging import parse_sort
from sportello.queues import selectors
from sportello.queues.columns import SORTS
from sportello.queues.models import SavedView
from sportello.queues.services import RECENTLY_SOLVED
from sportello.tickets.models import Ticket

ALL_SORTS = [s for key in SORTS for s in (key, f"-{key}")] + ["-priority,created", "status,-updated"]


def _expected(ids: list[int], sort: str) -> list[int]:
    """The tickets in the order `sort` asks, computed in Python (ties by id, in the direction of
    the last key)."""
    keys = parse_sort(sort, allowed=SORTS, default=[])
    rows = list(Ticket.objects.filter(pk__in=ids))
    for key in reversed(keys):
        name = key.field if key.field != "id" else "pk"
        rows.sort(key=lambda t, name=name: getattr(t, name), reverse=key.descending)  # type: ignore[misc]
    return [t.pk for t in rows]


def _pages(view: SavedView, ctx: Any, sort: str, total: int) -> list[int]:
    keys = parse_sort(sort, allowed=SORTS, default=[])
    out: list[int] = []
    cursor = None
    for _ in range(10):
        page = selectors.view_page(view=view, ctx=ctx, keys=keys, cursor=cursor, limit=2, total=total)
        out += [t.pk for t in page.tickets]
        cursor = page.next_cursor
        if cursor is None:
            return out
    raise AssertionError("more pages than tickets")


@pytest.mark.parametrize("sort", ALL_SORTS)
def test_recently_solved_pages_alike_read_whole_or_along_the_index(
    desk: Any, open_ticket: Any, frozen_clock: datetime, sort: str, solve: Callable[[Any, datetime], None]
) -> None:
    # given five tickets solved this week (subjects, priorities and instants out of step with
    # their numbers), one solved long ago, one open
    specs = [("Beta", "high", 3), ("Alpha", "low", 1), ("Gamma", "urgent", 5), ("Delta", "normal", 2)]
    specs.append(("Epsilon", "high", 4))
    solved = []
    for i, (subject, priority, days) in enumerate(specs):
        t = open_ticket(subject, priority=priority, minutes_ago=(10 - i) * 24 * 60)
        solve(t, frozen_clock - timedelta(days=days, minutes=i))
        solved.append(t.pk)
    old = open_ticket("Old", minutes_ago=30 * 24 * 60)
    solve(old, frozen_clock - timedelta(days=20))
    open_ticket("Open")
    view = SavedView(condition=RECENTLY_SOLVED, extra="")
    ctx = selectors.view_context(user=desk.agent, now=frozen_clock)
    assert selectors.view_count(view=view, ctx=ctx) == 5
    expected = _expected(solved, sort)
    # when paged two by two, read whole (its real total) or along the sort's index (a total
    # too large to read whole)
    read_whole = _pages(view, ctx, sort, total=5)
    walked = _pages(view, ctx, sort, total=selectors.SORTED_IN_FULL_MAX + 1)
    # then both give every ticket once, in the order asked
    assert read_whole == walked == expected


@pytest.mark.parametrize(
    ("condition", "sliced"),
    [
        (RECENTLY_SOLVED, True),
        ({"field": "ticket.created_at", "op": "lt", "value": "2026-01-01T00:00:00Z"}, True),
        ({"all": [{"all": [{"field": "ticket.updated_at", "op": "gte", "value": "$days_ago:3"}]}]}, True),
        ({"field": "ticket.status_category", "op": "is", "value": "open"}, False),
        # either way: not every ticket of it is in the span
        (
            {
                "any": [
                    {"field": "ticket.solved_at", "op": "gte", "value": "$days_ago:7"},
                    {"field": "ticket.priority", "op": "is", "value": "urgent"},
                ]
            },
            False,
        ),
        ({"field": "ticket.solved_at", "op": "present"}, False),
    ],
)
def test_a_view_is_read_whole_when_its_condition_bounds_an_instant_of_the_ticket(
    desk: Any, frozen_clock: datetime, condition: Any, sliced: bool
) -> None:
    ctx = selectors.view_context(user=desk.agent, now=frozen_clock)
    parsed = selectors._condition(SavedView(condition=condition), ctx)
    assert selectors._time_sliced(parsed) is sliced


def test_a_view_without_tickets_reads_no_page(
    desk: Any, frozen_clock: datetime, django_assert_num_queries: Any
) -> None:
    ctx = selectors.view_context(user=desk.agent, now=frozen_clock)
    keys = parse_sort("-updated", allowed=SORTS, default=[])
    view = SavedView(condition=RECENTLY_SOLVED, extra="")
    with django_assert_num_queries(0):
        page = selectors.view_page(view=view, ctx=ctx, keys=keys, cursor=None, limit=50, total=0)
    assert (page.tickets, page.next_cursor, page.tags) == ([], None, {})
