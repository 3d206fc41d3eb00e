"""Pinned statement counts of the Console's pages: they do not grow with the number of tokens or
of their owners. A change here is a deliberate, reviewed change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.accounts.services import token_create, token_revoke_any

# session, user, the page's tokens with their owners, the owners of the filter
TOKENS = 4
# session, user (the overview reads nothing else)
OVERVIEW = 2


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_the_tokens_page_costs_a_fixed_number_of_statements(desk: Any, browser: Any, now: Any) -> None:
    client = browser(desk.admin)
    token_create(user=desk.agent, name="One", now=now)
    few = count(lambda: client.get("/console/tokens/?status=all"))
    for i, user in enumerate([desk.admin, desk.agent, desk.light, desk.outsider] * 3):
        token, _ = token_create(user=user, name=f"T{i}", now=now + timedelta(minutes=i))
        if i % 3 == 0:
            token_revoke_any(token_id=token.pk, actor=desk.admin, now=now)
    many = count(lambda: client.get("/console/tokens/?status=all"))
    assert few == many == TOKENS
    assert count(lambda: client.get(f"/console/tokens/?owner={desk.light.pk}")) == TOKENS


def test_a_later_page_costs_what_the_first_does(desk: Any, browser: Any, now: Any, monkeypatch: Any) -> None:
    from sportello.console import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        token_create(user=desk.agent if i % 2 else desk.light, name=f"T{i}", now=now + timedelta(minutes=i))
    client = browser(desk.admin)
    next_url = client.get("/console/tokens/").context["next_url"]
    assert count(lambda: client.get(next_url)) == TOKENS


def test_the_overview_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert count(lambda: client.get("/console/")) == OVERVIEW


# session, user, the policies with their waiting tickets, the departments, teams and agents named
ROUND_ROBIN = 6
# session, user, the policy, the pickers' departments, teams and agents, the members with their load
POLICY_EDITOR = 7


def test_the_round_robin_list_costs_a_fixed_number_of_statements(desk: Any, browser: Any, now: Any) -> None:
    from sportello.automation.assignment import policy_save

    def save(i: int, pool: dict[str, Any]) -> None:
        definition = {"key": f"p{i}", "name": f"P{i}", "pool": pool, "max_open_per_agent": 2}
        policy_save(definition=definition, created_by=desk.admin, now=now)

    client = browser(desk.admin)
    save(0, {"department": desk.books.pk})
    few = count(lambda: client.get("/console/round-robin/"))
    for i in range(1, 7):
        pool = [
            {"team": desk.team.pk},
            {"agents": [desk.agent.pk, desk.admin.pk]},
            {"department": desk.books.pk},
        ]
        save(i, pool[i % 3])
    many = count(lambda: client.get("/console/round-robin/"))
    assert few == many == ROUND_ROBIN


def test_the_policy_editor_costs_a_fixed_number_of_statements(
    desk: Any, browser: Any, now: Any, open_ticket: Any
) -> None:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create
    from sportello.automation.assignment import policy_save

    definition = {"key": "books", "name": "Books", "pool": {"department": desk.books.pk}}
    policy_save(definition=definition, created_by=desk.admin, now=now)
    client = browser(desk.admin)
    few = count(lambda: client.get("/console/round-robin/books/"))
    for i in range(6):
        user = agent_create(email=f"a{i}@desk.test", name=f"A{i}", role=Role.AGENT, departments=[desk.books])
        open_ticket(f"T{i}", assignee_id=user.pk)
    many = count(lambda: client.get("/console/round-robin/books/"))
    assert few == many == POLICY_EDITOR


# session, user, the rules, their current versions, the departments, teams and agents named, the
# custom fields a condition can test
DIRECT_ASSIGNMENT = 8


def test_the_direct_assignment_page_costs_a_fixed_number_of_statements(
    desk: Any, browser: Any, now: Any
) -> None:
    from sportello.automation.services import direct_rule_create

    def make(i: int) -> None:
        when = {"all": [{"field": "ticket.channel", "op": "is", "value": "chat"}]}
        assign = {"agent": desk.agent.pk} if i % 2 else {"team": desk.team.pk}
        direct_rule_create(name=f"R{i}", when=when, assign=assign, created_by=desk.admin, now=now)

    client = browser(desk.admin)
    make(0)
    few = count(lambda: client.get("/console/direct-assignment/"))
    for i in range(1, 7):
        make(i)
    many = count(lambda: client.get("/console/direct-assignment/"))
    assert few == many == DIRECT_ASSIGNMENT


# session, user, the macros with their owners, their current versions
MACROS = 4


def test_the_macros_list_costs_a_fixed_number_of_statements(desk: Any, browser: Any, now: Any) -> None:
    from sportello.automation.macros import macro_create

    def make(i: int) -> None:
        scopes = [
            {"scope": "everyone", "ids": []},
            {"scope": "team", "ids": [desk.team.pk]},
            {"scope": "department", "ids": [desk.books.pk]},
            {"scope": "personal", "ids": [desk.agent.pk]},
        ]
        definition = {
            "key": f"m{i}",
            "name": f"M{i}",
            "visibility": scopes[i % 4],
            "actions": [{"note": {"body": "x"}}],
        }
        macro_create(definition=definition, actor=desk.admin, now=now)

    client = browser(desk.admin)
    make(0)
    few = count(lambda: client.get("/console/macros/"))
    for i in range(1, 8):
        make(i)
    many = count(lambda: client.get("/console/macros/"))
    assert few == many == MACROS


# session, user, the canned responses with their departments
CANNED = 3


def test_the_canned_responses_list_costs_a_fixed_number_of_statements(
    desk: Any, browser: Any, now: Any
) -> None:
    from sportello.notifications.canned import canned_create

    def make(i: int) -> None:
        department = [desk.books.pk, desk.electronics.pk, None][i % 3]
        canned_create(actor=desk.admin, title=f"C{i}", body="Hello", department_id=department, now=now)

    client = browser(desk.admin)
    make(0)
    few = count(lambda: client.get("/console/canned-responses/"))
    for i in range(1, 7):
        make(i)
    many = count(lambda: client.get("/console/canned-responses/"))
    assert few == many == CANNED
