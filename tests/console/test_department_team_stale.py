"""A department or a team saved from a form drawn before someone else's save is refused (a
Conflict "stale", checked under the row's lock), what was typed is kept and what changed is
listed; saving again replaces the other save on purpose. The API may pass the fingerprint too."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sportello.accounts import services
from sportello.accounts.models import Department, Team
from sportello.core.errors import Conflict


def _seen(html: str) -> str:
    match = re.search(r'name="seen" value="([0-9a-f]+)"', html)
    assert match is not None
    return match.group(1)


# -- services ------------------------------------------------------------------------------------


def test_a_department_saved_with_the_fingerprint_it_was_read_with_is_saved(desk: Any) -> None:
    seen = services.department_fingerprint(desk.books)
    services.department_update(department=desk.books, actor=desk.admin, name="Books and maps", expected=seen)
    assert Department.objects.get(pk=desk.books.pk).name == "Books and maps"


def test_a_department_changed_since_it_was_read_is_not_saved(desk: Any) -> None:
    seen = services.department_fingerprint(desk.books)
    other = Department.objects.get(pk=desk.books.pk)
    services.department_update(department=other, actor=desk.admin, description="Paper only")
    with pytest.raises(Conflict) as caught:
        services.department_update(department=desk.books, actor=desk.admin, name="Mine", expected=seen)
    assert (caught.value.code, caught.value.field) == ("stale", "expected")
    stored = Department.objects.get(pk=desk.books.pk)
    assert (stored.name, stored.description) == ("Books", "Paper only")


def test_a_department_saved_without_a_fingerprint_is_saved_as_before(desk: Any) -> None:
    services.department_update(department=desk.books, actor=desk.admin, description="Anything")
    services.department_update(department=desk.books, actor=desk.admin, description="Again")
    assert Department.objects.get(pk=desk.books.pk).description == "Again"


def test_a_team_changed_since_it_was_read_is_not_saved(desk: Any) -> None:
    seen = services.team_fingerprint(desk.team)
    services.team_update(team=Team.objects.get(pk=desk.team.pk), actor=desk.admin, members=[])
    with pytest.raises(Conflict) as caught:
        services.team_update(team=desk.team, actor=desk.admin, name="Poems", expected=seen)
    assert caught.value.code == "stale"
    stored = Team.objects.get(pk=desk.team.pk)
    assert (stored.name, list(stored.members.all())) == ("Novels", [])


def test_a_team_saved_with_the_fingerprint_it_was_read_with_is_saved(desk: Any) -> None:
    seen = services.team_fingerprint(desk.team)
    services.team_update(team=desk.team, actor=desk.admin, name="Poems", members=[], expected=seen)
    stored = Team.objects.get(pk=desk.team.pk)
    assert (stored.name, list(stored.members.all())) == ("Poems", [])


# -- API -----------------------------------------------------------------------------------------


def test_the_api_patch_may_pass_the_fingerprint(desk: Any, api: Any) -> None:
    seen = services.department_fingerprint(desk.books)
    services.department_update(department=desk.books, actor=desk.admin, description="Meanwhile")
    r = api(desk.admin).patch(f"/departments/{desk.books.pk}", {"name": "Mine", "expected": seen})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "stale"
    fresh = api(desk.admin).get(f"/departments/{desk.books.pk}").json()["fingerprint"]
    assert fresh == services.department_fingerprint(Department.objects.get(pk=desk.books.pk))
    r = api(desk.admin).patch(f"/departments/{desk.books.pk}", {"name": "Mine", "expected": fresh})
    assert r.status_code == 200
    seen = services.team_fingerprint(desk.team)
    services.team_update(team=desk.team, actor=desk.admin, name="Meanwhile")
    r = api(desk.admin).patch(f"/teams/{desk.team.pk}", {"name": "Mine", "expected": seen})
    assert r.status_code == 409
    assert Team.objects.get(pk=desk.team.pk).name == "Meanwhile"
    fresh = api(desk.admin).get(f"/teams/{desk.team.pk}").json()["fingerprint"]
    r = api(desk.admin).patch(f"/teams/{desk.team.pk}", {"name": "Mine", "expected": fresh})
    assert r.status_code == 200
    assert r.json()["fingerprint"] == services.team_fingerprint(Team.objects.get(pk=desk.team.pk))


# -- Console -------------------------------------------------------------------------------------


def test_the_department_form_refuses_a_stale_save_keeps_what_was_typed_and_lists_what_changed(
    desk: Any, browser: Any
) -> None:
    client = browser(desk.admin)
    path = f"/console/departments/{desk.books.pk}/"
    seen = _seen(client.get(path).content.decode())
    services.department_update(department=desk.books, actor=desk.admin, description="Paper and ink")
    typed = {"name": "Books and maps", "email": "", "description": "Mine", "is_active": "on", "seen": seen}
    r = client.post(path, typed)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone saved this department since you opened it" in html
    assert 'value="Books and maps"' in html
    assert re.search(r">\s*Mine</textarea>", html)
    assert "Saved meanwhile" in html
    assert "Paper and ink" in html
    assert Department.objects.get(pk=desk.books.pk).name == "Books"
    # Saving again, from the page that said so, replaces what was saved meanwhile.
    again = client.post(path, {**typed, "seen": _seen(html)})
    assert again.status_code == 302
    stored = Department.objects.get(pk=desk.books.pk)
    assert (stored.name, stored.description) == ("Books and maps", "Mine")


def test_the_team_form_refuses_a_stale_save_keeps_what_was_typed_and_lists_what_changed(
    desk: Any, browser: Any
) -> None:
    client = browser(desk.admin)
    path = f"/console/people/teams/{desk.team.pk}/"
    seen = _seen(client.get(path).content.decode())
    services.team_update(team=desk.team, actor=desk.admin, name="Novellas")
    typed = {"name": "Poems", "members": [desk.agent.pk], "seen": seen}
    r = client.post(path, typed)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone saved this team since you opened it" in html
    assert 'value="Poems"' in html
    assert "Novellas" in html
    assert Team.objects.get(pk=desk.team.pk).name == "Novellas"
    again = client.post(path, {**typed, "seen": _seen(html)})
    assert again.status_code == 302
    assert Team.objects.get(pk=desk.team.pk).name == "Poems"


def test_a_form_posted_without_a_fingerprint_saves_as_before(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/", {"name": "Books", "email": "", "description": "Plain"}
    )
    assert r.status_code == 302
    assert Department.objects.get(pk=desk.books.pk).description == "Plain"
