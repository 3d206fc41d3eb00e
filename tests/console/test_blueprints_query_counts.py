"""Pinned statement counts of the Console's blueprints list: they do not grow with the number of
blueprints, of their versions or of the tickets in their processes."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.blueprints.services import blueprint_save
from workflow_setup import warranty_definition

# session, user, the blueprints with their departments, their current versions, tickets in each
BLUEPRINTS = 5


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_the_blueprints_list_costs_a_fixed_number_of_statements(desk: Any, browser: Any, now: Any) -> None:
    from sportello.core.actors import Via
    from sportello.tickets import services

    client = browser(desk.admin)
    blueprint_save(definition=warranty_definition(desk), actor=desk.admin, now=now)
    few = count(lambda: client.get("/console/blueprints/"))
    for i in range(4):
        department = desk.books if i % 2 else desk.electronics
        blueprint_save(
            definition=warranty_definition(desk, key=f"w{i}", name=f"W{i}", department=department.pk),
            actor=desk.admin,
            now=now,
        )
        blueprint_save(
            definition=warranty_definition(desk, key=f"w{i}", name=f"W{i} again", department=department.pk),
            actor=desk.admin,
            now=now,
        )
        body = {"subject": f"T{i}", "description": "x", "department_id": department.pk,
                "requester_id": desk.alice.pk}  # fmt: skip
        services.ticket_open(principal=desk.admin, via=Via.API, data=body, now=now)
    many = count(lambda: client.get("/console/blueprints/"))
    assert few == many == BLUEPRINTS
