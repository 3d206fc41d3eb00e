"""Two admins' pages open on the same department's editor (then the same team's): the first save
wins, the second is refused with what it typed kept and what was saved meanwhile listed; saving
again from it replaces the first. Free of axe-core violations; fits a 390 px phone."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def _desk() -> Any:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create, department_create, team_create

    admin = agent_create(email="ada@desk.test", name="Ada Admin", role=Role.ADMIN, password="pw-admin-123")
    books = department_create(name="Books", description="Paper books")
    team = team_create(name="Novels", department=books, members=[])
    return admin, books, team


def test_a_stale_department_or_team_save_is_refused_and_can_be_saved_again(
    page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.accounts.models import Department, Team

    admin, books, team = _desk()
    sign_in(page, admin)
    other = page.context.new_page()
    for p in (page, other):
        p.goto(url(f"/console/departments/{books.pk}/"))
    # the other page saves first
    other.get_by_label("Description").fill("Paper and audio books")
    other.get_by_role("button", name="Save").click()
    other.get_by_text("Department “Books” saved.").wait_for()
    # this page, drawn before that save, is refused with its text kept
    page.get_by_label("Name").fill("Books and maps")
    page.get_by_label("Description").fill("Maps too")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Someone saved this department since you opened it.").wait_for()
    page.get_by_text("Paper and audio books").wait_for()
    assert page.get_by_label("Name").input_value() == "Books and maps"
    assert page.get_by_label("Description").input_value() == "Maps too"
    assert_accessible(page, context="a stale department save")
    shot(page, "console-department-stale")
    page.set_viewport_size({"width": 390, "height": 844})
    no_sideways_overflow(page)
    shot(page, "console-department-stale-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    # saving again replaces what was saved meanwhile
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Department “Books and maps” saved.").wait_for()
    stored = Department.objects.get(pk=books.pk)
    assert (stored.name, stored.description) == ("Books and maps", "Maps too")

    # the same for a team
    for p in (page, other):
        p.goto(url(f"/console/people/teams/{team.pk}/"))
    other.get_by_label("Name").fill("Novellas")
    other.get_by_role("button", name="Save").click()
    other.get_by_text("Team “Novellas” saved.").wait_for()
    page.get_by_label("Name").fill("Poems")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Someone saved this team since you opened it.").wait_for()
    assert page.get_by_label("Name").input_value() == "Poems"
    assert_accessible(page, context="a stale team save")
    shot(page, "console-team-stale")
    page.set_viewport_size({"width": 390, "height": 844})
    no_sideways_overflow(page)
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Team “Poems” saved.").wait_for()
    assert Team.objects.get(pk=team.pk).name == "Poems"
