"""The sidebar's counts: the views within the unresolved tickets are counted in one pass over
them, the others each on their own; either way a view counts exactly the tickets its own count
(`view_count`, the statement of the view's page total) finds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.db import connection

from sportello.engine.conditions import FIELDS, parse_condition
from sportello.queues import selectors, services
from sportello.tickets.models import Ticket, TicketTag

UNRESOLVED = ["new", "open", "pending", "on_hold"]


def _parsed(data: Any) -> Any:
    return parse_condition(data, specs=FIELDS, path="condition")


@pytest.mark.parametrize(
    ("condition", "within"),
    [
        ({"field": "ticket.status_category", "op": "in", "value": UNRESOLVED}, True),
        ({"field": "ticket.status_category", "op": "is", "value": "pending"}, True),
        ({"field": "ticket.status_category", "op": "not_in", "value": ["solved", "closed"]}, True),
        (
            {
                "all": [
                    {"field": "ticket.priority", "op": "is", "value": "urgent"},
                    {"field": "ticket.status_category", "op": "in", "value": ["open", "new"]},
                ]
            },
            True,
        ),
        (
            {
                "any": [
                    {"field": "ticket.status_category", "op": "is", "value": "pending"},
                    {
                        "all": [
                            {"field": "ticket.status_category", "op": "is", "value": "open"},
                            {"field": "ticket.priority", "op": "is", "value": "high"},
                        ]
                    },
                ]
            },
            True,
        ),
        # solved and closed tickets, or some of them, may be among its tickets
        ({"field": "ticket.status_category", "op": "in", "value": ["open", "solved"]}, False),
        ({"field": "ticket.status_category", "op": "not_in", "value": ["closed"]}, False),
        ({"field": "ticket.status_category", "op": "is_not", "value": "solved"}, False),
        ({"not": {"field": "ticket.status_category", "op": "in", "value": ["solved", "closed"]}}, False),
        (
            {
                "any": [
                    {"field": "ticket.status_category", "op": "is", "value": "pending"},
                    {"field": "ticket.priority", "op": "is", "value": "high"},
                ]
            },
            False,
        ),
        ({"any": []}, False),
        ({"all": []}, False),
        ({"field": "ticket.priority", "op": "is", "value": "urgent"}, False),
    ],
)
def test_which_views_stay_within_the_unresolved_tickets(condition: Any, within: bool) -> None:
    assert selectors.within_unresolved(_parsed(condition)) is within


# Views of every shape: within the unresolved tickets or not, by the ticket's own columns, by a
# subquery (tags, the requester's fields), with the agent's departments, and of no ticket.
CUSTOM_VIEWS: list[tuple[str, Any]] = [
    (
        "Urgent open",
        {
            "all": [
                {"field": "ticket.priority", "op": "is", "value": "urgent"},
                {"field": "ticket.status_category", "op": "not_in", "value": ["solved", "closed"]},
            ]
        },
    ),
    (
        "Tagged refund, unresolved",
        {
            "all": [
                {"field": "ticket.tags", "op": "contains", "value": "refund"},
                {"field": "ticket.status_category", "op": "in", "value": UNRESOLVED},
            ]
        },
    ),
    (
        "Pending or on hold",
        {
            "any": [
                {"field": "ticket.status_category", "op": "is", "value": "pending"},
                {"field": "ticket.status_category", "op": "is", "value": "on_hold"},
            ]
        },
    ),
    (
        "Acme's, unresolved",
        {
            "all": [
                {"field": "requester.domain", "op": "is", "value": "acme.test"},
                {"field": "ticket.status_category", "op": "in", "value": UNRESOLVED},
            ]
        },
    ),
    (
        "Mine in my departments",
        {
            "all": [
                {"field": "ticket.department", "op": "in", "value": "$my_departments"},
                {"field": "ticket.assignee", "op": "is", "value": "$me"},
                {"field": "ticket.status_category", "op": "in", "value": ["new", "open"]},
            ]
        },
    ),
    ("Everything", {"all": []}),
    (
        "Solved, tagged refund",
        {
            "all": [
                {"field": "ticket.status_category", "op": "is", "value": "solved"},
                {"field": "ticket.tags", "op": "contains", "value": "refund"},
            ]
        },
    ),
    ("Nothing", {"all": [{"any": []}, {"field": "ticket.status_category", "op": "is", "value": "open"}]}),
]


@pytest.fixture
def tickets(desk: Any, open_ticket: Any) -> list[Ticket]:
    made = []
    states = [
        ("open", "urgent", desk.agent, desk.books, ["refund"]),
        ("new", "normal", None, desk.books, []),
        ("pending", "high", desk.agent, desk.books, ["refund", "vip"]),
        ("on_hold", "urgent", None, desk.books, []),
        ("solved", "urgent", desk.agent, desk.books, ["refund"]),
        ("closed", "low", None, desk.books, []),
        ("open", "urgent", desk.outsider, desk.electronics, ["refund"]),
        ("pending", "normal", None, desk.electronics, []),
        ("solved", "normal", desk.outsider, desk.electronics, ["refund"]),
    ]
    for i, (category, priority, assignee, department, tags) in enumerate(states):
        ticket = open_ticket(
            f"Ticket {i}",
            department=department,
            priority=priority,
            requester=desk.alice if i % 2 else desk.bob,
        )
        # The counts read the rows as they are: set directly, whatever path led there.
        Ticket.objects.filter(pk=ticket.pk).update(
            status_category=category, assignee=assignee, solved_at=ticket.created_at
        )
        for tag in tags:
            TicketTag.objects.create(ticket=ticket, name=tag)
        made.append(ticket)
    return made


@pytest.mark.parametrize("aggregate_filter", [True, False], ids=["filter", "case"])
def test_the_sidebar_counts_what_each_views_own_count_finds(
    desk: Any,
    tickets: list[Ticket],
    frozen_clock: datetime,
    aggregate_filter: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `COUNT(*) FILTER (WHERE …)`, or where a database has no such clause, a count of a CASE
    if not aggregate_filter:
        monkeypatch.setattr(connection.features, "supports_aggregate_filter_clause", False)
    services.saved_view_defaults_ensure(now=frozen_clock)
    specs = selectors.view_context(user=desk.admin, now=frozen_clock).specs
    for name, condition in CUSTOM_VIEWS:
        services.saved_view_create(
            actor=desk.admin,
            data=services.ViewInput(name=name, condition=condition, shared=True),
            specs=specs,
            now=frozen_clock,
        )
    selectors.COMPILED.clear()
    seen: dict[str, dict[str, int]] = {}
    for user in (desk.admin, desk.agent, desk.light, desk.outsider):
        views = selectors.view_list_for(user=user)
        ctx = selectors.view_context(user=user, now=frozen_clock)
        counts = selectors.view_counts(views=views, ctx=ctx)
        alone = {v.pk: selectors.view_count(view=v, ctx=ctx) for v in views}
        assert counts == alone, user.email
        seen[user.email] = {v.key or v.name: counts[v.pk] for v in views}
    # and what they find is what the tickets hold
    assert seen["admin@desk.test"]["Urgent open"] == 3
    assert seen["bruno@desk.test"]["Urgent open"] == 2  # Books only
    assert seen["bruno@desk.test"]["Tagged refund, unresolved"] == 2
    assert seen["eva@desk.test"]["Tagged refund, unresolved"] == 1
    assert seen["admin@desk.test"]["Pending or on hold"] == 3
    assert seen["bruno@desk.test"]["Acme's, unresolved"] == 2  # Alice's tickets 1 and 3
    assert seen["bruno@desk.test"]["Mine in my departments"] == 1
    assert seen["bruno@desk.test"]["my-open"] == 2
    assert seen["eva@desk.test"]["my-open"] == 1
    assert seen["admin@desk.test"]["Everything"] == 9
    assert seen["bruno@desk.test"]["Everything"] == 6
    assert seen["admin@desk.test"]["Solved, tagged refund"] == 2
    assert seen["admin@desk.test"]["Nothing"] == 0
    assert seen["bruno@desk.test"]["unassigned"] == 2
    assert seen["bruno@desk.test"]["pending"] == 1


def test_the_views_of_unresolved_tickets_share_one_pass(desk: Any, frozen_clock: datetime) -> None:
    # the default views: all but "Recently solved" are within the unresolved tickets
    services.saved_view_defaults_ensure(now=frozen_clock)
    views = selectors.view_list_for(user=desk.agent)
    ctx = selectors.view_context(user=desk.agent, now=frozen_clock)
    sql, _params = selectors.view_counts_statement(views, ctx)
    shared = [v.key for v in views if selectors.within_unresolved(selectors._condition(v, ctx))]
    assert shared == [v.key for v in views if v.key != "recently-solved"]
    # one read of the tickets for them, one for "Recently solved"
    assert sql.count('FROM "tickets_ticket"') == 2
    assert sql.count("COUNT(") == len(views)
    # the pass reads unresolved tickets only: the views' own test of that is left out (only
    # the pass's, "Pending"'s and "Recently solved"'s tests of the status category remain)
    assert sql.count('"status_category"') == 3
