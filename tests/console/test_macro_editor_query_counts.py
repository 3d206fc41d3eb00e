"""Pinned statement counts of the macro and canned response editors and of the macros list
with deactivated macros: they do not grow with the number of macros, departments, teams or
agents. A change here is a deliberate, reviewed change."""

from __future__ import annotations

from typing import Any

from console.test_console_query_counts import count
from sportello.accounts.models import Role
from sportello.accounts.services import agent_create, department_create, team_create
from sportello.automation.macros import macro_create, macro_deactivate
from sportello.notifications.canned import canned_create

# session, user, the macros with their owners, their current versions
MACROS = 4
# session, user, the macro with its owners, departments, teams, agents, the current version,
# the directory of agents (actions name them by e-mail)
MACRO_EDIT = 8
# session, user, departments, teams, agents
MACRO_NEW = 5
# session, user, the canned response with its department, departments
CANNED_EDIT = 4


def grow(desk: Any, now: Any, n: int, offset: int) -> None:
    for i in range(offset, offset + n):
        department = department_create(name=f"Dept {i}")
        agent = agent_create(
            email=f"a{i}@desk.test", name=f"Agent {i}", role=Role.AGENT, departments=[department]
        )
        team_create(name=f"Team {i}", department=department, members=[agent])
        macro_create(
            definition={
                "key": f"m-{i}",
                "name": f"Macro {i}",
                "visibility": {"scope": "personal", "ids": [agent.pk]},
                "actions": [{"assign": {"agent": agent.pk}}, {"add_tags": [f"t{i}"]}],
            },
            actor=desk.admin,
            now=now,
        )
        if i % 2:
            macro_deactivate(key=f"m-{i}", actor=desk.admin, now=now)
        canned_create(actor=desk.admin, title=f"C{i}", body="Hello", department_id=department.pk, now=now)


def test_the_editors_and_the_list_cost_a_fixed_number_of_statements(
    desk: Any, browser: Any, now: Any
) -> None:
    client = browser(desk.admin)
    grow(desk, now, 2, 0)
    canned = canned_create(actor=desk.admin, title="Mine", body="Hi", now=now)
    pages = {
        "/console/macros/": MACROS,
        "/console/macros/new/": MACRO_NEW,
        "/console/macros/m-0/edit/": MACRO_EDIT,
        f"/console/canned-responses/{canned.pk}/edit/": CANNED_EDIT,
    }
    few = {path: count(lambda path=path: client.get(path)) for path in pages}
    grow(desk, now, 6, 2)
    many = {path: count(lambda path=path: client.get(path)) for path in pages}
    assert few == many == pages
