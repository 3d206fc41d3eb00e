"""Pinned statement count of the Console's rules list: it does not grow with the number of rules,
of their firings, or of the records (teams, agents, departments) they name."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.automation import services
from sportello.automation.models import RuleKind

# session, user, the rules, their current versions, the traces of firings, and the five tables
# of records a rule may name (departments, teams, agents, macros, assignment policies)
RULES = 10
# session, user, the rule, its current version, the three tables of records it names, the custom
# fields (their specs, then their labels and options), and the builder's pickers: departments,
# teams, agents, statuses, macros, assignment policies, webhook secrets
EDITOR = 16


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def rule(key: str, now: Any, *, team: Any = None, kind: RuleKind = RuleKind.EVENT) -> None:
    when = {"all": [{"field": "ticket.subject", "op": "contains", "value": key}]}
    actions: list[Any] = [{"add_tags": [key]}]
    if team is not None:
        actions.append({"assign": {"team": team.pk}})
    if kind == RuleKind.EVENT:
        definition: dict[str, Any] = {"key": key, "name": key, "when": when, "actions": actions}
    else:
        definition = {
            "key": key,
            "name": key,
            "anchor": "created",
            "when": when,
            "steps": [{"after": "1h", "actions": actions}],
        }
    services.rule_save(kind=kind, definition=definition, created_by=None, now=now)


def test_the_rules_list_costs_a_fixed_number_of_statements(
    desk: Any, browser: Any, now: Any, open_ticket: Any
) -> None:
    client = browser(desk.admin)
    assert count(lambda: client.get("/console/rules/")) == RULES - 1  # no rule: no versions to read
    rule("one", now)
    open_ticket("one")
    few = count(lambda: client.get("/console/rules/"))
    for i in range(8):
        rule(f"r{i}", now, team=desk.team if i % 2 else None)
        rule(f"t{i}", now, kind=RuleKind.TIME)
        open_ticket(f"r{i} and one")
    many = count(lambda: client.get("/console/rules/"))
    assert few == many == RULES


def test_the_editor_with_its_builder_costs_a_fixed_number_of_statements(
    desk: Any, browser: Any, now: Any
) -> None:
    """The builder's pickers (departments, teams, agents, statuses, macros, policies, secrets,
    custom fields) are read once, whatever the number of conditions and actions (both rules
    name a team, a department and an agent: each table of records is read once for the YAML)."""
    small = {
        "all": [
            {"field": "ticket.team", "op": "is", "value": desk.team.pk},
            {"field": "ticket.department", "op": "is", "value": desk.books.pk},
            {"field": "ticket.assignee", "op": "is", "value": desk.agent.pk},
        ]
    }
    big = {
        "all": [
            {"field": "ticket.team", "op": "in", "value": [desk.team.pk]},
            {"any": [{"field": "ticket.department", "op": "is", "value": desk.books.pk}] * 5},
            {"field": "ticket.assignee", "op": "is", "value": desk.agent.pk},
            {"field": "ticket.status", "op": "is", "value": "open"},
        ]
    }
    for key, when, n in (("small", small, 1), ("big", big, 6)):
        services.rule_save(
            kind=RuleKind.EVENT,
            definition={
                "key": key,
                "name": key,
                "when": when,
                "actions": [{"assign": {"team": desk.team.pk}}] * n,
            },
            created_by=None,
            now=now,
        )
    client = browser(desk.admin)
    few = count(lambda: client.get("/console/rules/small/edit/"))
    many = count(lambda: client.get("/console/rules/big/edit/"))
    assert few == many == EDITOR
