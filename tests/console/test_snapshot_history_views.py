"""The Console's history pages over the kinds recorded as snapshots (departments, statuses,
fields, layouts, shared canned responses, agents, teams): a department renamed twice, its
versions listed with their authors, two compared, an old name restored through the confirmation
(a save made meanwhile asks again; a version that can no longer be saved says why); the audit
log lists them and filters by them, at the statement counts of the other kinds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from console.test_console_query_counts import count
from console.test_history_query_counts import AUDIT
from sportello.accounts.services import department_update
from sportello.core.models import ConfigSnapshot
from testing import NOW, hand_clock

pytestmark = pytest.mark.django_db

# session, user, the versions with their authors
HISTORY = 3
# session, user, the two versions with their authors, the latest version
DIFF = 4


@pytest.fixture
def renamed(desk: Any, monkeypatch: Any) -> Any:
    clock = hand_clock(monkeypatch, NOW)
    for n, name in enumerate(("Bookshop", "Library"), start=1):
        clock.at = NOW + timedelta(minutes=n)
        department_update(department=desk.books, actor=desk.admin, name=name)
    return clock


def test_a_departments_history_diff_and_restore(desk: Any, renamed: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get("/console/history/departments/books/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "History of “Library”" in html
    assert [v.version for v in page.context["history"].versions] == [3, 2, 1]
    assert "Ada Admin" in html
    diff = client.get("/console/history/departments/books/diff/?a=1&b=3")
    assert [(c["path"], c["old"], c["new"]) for c in diff.context["changes"]] == [
        ("name", "Books", "Library")
    ]
    confirm = client.get("/console/history/departments/books/restore/1/")
    assert 'name="current" value="3"' in confirm.content.decode()
    # a save made meanwhile: asked again, nothing written
    department_update(department=desk.books, actor=desk.admin, name="Reading room")
    stale = client.post("/console/history/departments/books/restore/1/", {"current": "3"})
    assert stale.status_code == 409
    assert ConfigSnapshot.objects.filter(kind="departments", key="books").count() == 4
    done = client.post("/console/history/departments/books/restore/1/", {"current": "4"})
    assert done.status_code == 302
    desk.books.refresh_from_db()
    assert desk.books.name == "Books"
    listed = client.get(done["Location"]).content.decode()
    assert "Version 1 restored: it is now version 5." in listed


def test_a_version_that_can_no_longer_be_saved_says_why(desk: Any, renamed: Any, browser: Any) -> None:
    department_update(department=desk.electronics, actor=desk.admin, name="Books")  # the old name taken
    r = browser(desk.admin).post("/console/history/departments/books/restore/1/", {"current": "3"})
    assert r.status_code == 409
    assert "It could not be restored" in r.content.decode()
    desk.books.refresh_from_db()
    assert desk.books.name == "Library"


def test_the_audit_log_lists_and_filters_the_snapshot_kinds(desk: Any, renamed: Any, browser: Any) -> None:
    client = browser(desk.admin)
    changes = client.get("/console/audit/?kind=departments").context["changes"]
    assert [(c.kind_name, c.key, c.version) for c in changes] == [
        ("departments", "books", 3),
        ("departments", "books", 2),
        ("departments", "books", 1),
    ]
    html = client.get("/console/audit/").content.decode()
    assert 'href="/console/history/departments/books/diff/?a=2&amp;b=3"' in html
    assert ("departments", "Departments") in client.get("/console/audit/").context["kinds"]


def test_the_pages_cost_a_fixed_number_of_statements(desk: Any, renamed: Any, browser: Any, now: Any) -> None:
    from sportello.accounts.services import team_update
    from sportello.tickets.models import Status
    from sportello.tickets.statuses import status_update

    client = browser(desk.admin)
    here = "/console/history/departments/books/"
    few = count(lambda: client.get(here)), count(lambda: client.get(f"{here}diff/?a=1&b=2"))
    audit = count(lambda: client.get("/console/audit/"))
    for n in range(4):
        renamed.at = NOW + timedelta(minutes=10 + n)
        department_update(department=desk.books, actor=desk.admin, name=f"Books {n}")
        team_update(team=desk.team, actor=desk.admin, name=f"Novels {n}")
        status_update(
            actor=desk.admin, status_id=Status.objects.get(key="open").pk, name=f"Open {n}", now=now
        )
    many = count(lambda: client.get(here)), count(lambda: client.get(f"{here}diff/?a=1&b=6"))
    assert few == many == (HISTORY, DIFF)
    assert audit == count(lambda: client.get("/console/audit/")) == AUDIT
    assert count(lambda: client.get(f"/console/audit/?kind=teams&agent={desk.admin.pk}")) == AUDIT
