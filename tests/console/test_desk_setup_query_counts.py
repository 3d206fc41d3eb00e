"""Pinned statement counts of the desk set-up's list pages and layout editor: they do not grow
with the number of departments, fields, statuses or layout rows. A change here is a deliberate,
reviewed change."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.accounts.services import department_create
from sportello.tickets.fields_services import FieldOption, LayoutRowSpec, custom_field_create, layout_replace

# session, user, the departments with their layouts' sizes
DEPARTMENTS = 3
# session, user, the fields with their layouts' counts
FIELDS = 3
# session, user, the statuses
STATUSES = 3
# session, user, the department, its layout with its fields, the active fields
LAYOUT = 5


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def _more(desk: Any, n: int) -> None:
    for i in range(n):
        department = department_create(name=f"Extra {i}")
        custom_field_create(
            actor=None,
            key=f"extra_{i}",
            label=f"Extra {i}",
            type="picklist",
            options=[FieldOption("a"), FieldOption("b")],
        )
        layout_replace(
            actor=None,
            department=department,
            rows=[LayoutRowSpec("order_number"), LayoutRowSpec(f"extra_{i}", allowed_values=["a"])],
        )
        layout_replace(
            actor=None,
            department=desk.books,
            rows=[LayoutRowSpec(f"extra_{j}", required="to_solve") for j in range(i + 1)],
        )


def test_the_list_pages_cost_a_fixed_number_of_statements(desk: Any, layouts: Any, browser: Any) -> None:
    client = browser(desk.admin)
    pages = {
        "/console/departments/": DEPARTMENTS,
        "/console/fields/": FIELDS,
        "/console/statuses/": STATUSES,
        f"/console/departments/{desk.books.pk}/layout/": LAYOUT,
    }
    few = {path: count(lambda p=path: client.get(p)) for path in pages}
    _more(desk, 6)
    many = {path: count(lambda p=path: client.get(p)) for path in pages}
    assert few == many == pages
