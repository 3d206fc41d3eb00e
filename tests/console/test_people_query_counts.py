"""Pinned statement counts of the People pages: they do not grow with the number of agents,
teams, departments or memberships. A change here is a deliberate, reviewed change."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.accounts.services import agent_create, department_create, team_create

# session, user, the page's agents, their departments, their teams, the departments of the filter
AGENTS = 6
# session, user, the teams with their departments, their members
TEAMS = 4


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def grow(desk: Any, n: int) -> None:
    for i in range(n):
        dept = department_create(name=f"Dept {i}")
        agents = [
            agent_create(email=f"a{i}-{j}@desk.test", name=f"Agent {i}-{j}", departments=[dept, desk.books])
            for j in range(3)
        ]
        team_create(name=f"Team {i}", department=dept, members=agents)


def test_the_agents_page_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    few = count(lambda: client.get("/console/people/agents/"))
    grow(desk, 4)
    many = count(lambda: client.get("/console/people/agents/"))
    assert few == many == AGENTS
    assert (
        count(lambda: client.get(f"/console/people/agents/?department={desk.books.pk}&role=agent")) == AGENTS
    )


def test_the_teams_page_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    few = count(lambda: client.get("/console/people/teams/"))
    grow(desk, 4)
    many = count(lambda: client.get("/console/people/teams/"))
    assert few == many == TEAMS


# session, user, the page's contacts with their organizations
CONTACTS = 3
# session, user, the page's organizations
ORGANIZATIONS = 3


def test_the_customer_lists_cost_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    from sportello.contacts.services import contact_create, organization_create

    client = browser(desk.admin)
    few = (
        count(lambda: client.get("/console/people/contacts/")),
        count(lambda: client.get("/console/people/organizations/")),
    )
    for i in range(6):
        org = organization_create(name=f"Org {i}", domains=[f"org{i}.test"])
        contact_create(email=f"c{i}@org{i}.test", name=f"C {i}", organization=org)
    many = (
        count(lambda: client.get("/console/people/contacts/")),
        count(lambda: client.get("/console/people/organizations/")),
    )
    assert few == many == (CONTACTS, ORGANIZATIONS)
    assert count(lambda: client.get("/console/people/contacts/?q=org")) == CONTACTS
