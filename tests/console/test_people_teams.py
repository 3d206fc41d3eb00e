"""The Console's teams: listed with department and members, created, renamed, their members
changed; only agents of the team's department can be members; admins only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.accounts.models import Team


@pytest.mark.parametrize(
    "path", ["/console/people/teams/", "/console/people/teams/new/", "/console/people/teams/{team}/"]
)
def test_only_admins_see_the_teams(desk: Any, browser: Any, settings: Any, path: str) -> None:
    settings.DEBUG = False
    path = path.format(team=desk.team.pk)
    assert browser(desk.agent).get(path).status_code == 403
    assert browser(desk.light).get(path).status_code == 403
    assert Client().get(path).status_code == 302
    assert browser(desk.admin).get(path).status_code == 200


def test_an_agent_cannot_change_a_team(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).post(f"/console/people/teams/{desk.team.pk}/", {"name": "Mine", "members": []})
    assert r.status_code == 403
    assert Team.objects.get(pk=desk.team.pk).name == "Novels"


def test_the_list_shows_each_team_with_its_department_and_members(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/people/teams/").content.decode()
    assert f'<tr id="team-{desk.team.pk}">' in html
    assert "Novels" in html
    assert "Books" in html
    assert "Bruno Books" in html


def test_the_empty_list_says_what_to_do(desk: Any, browser: Any) -> None:
    Team.objects.all().delete()
    html = browser(desk.admin).get("/console/people/teams/").content.decode()
    assert "No teams yet. Create one to group agents of a department." in html


def test_an_admin_creates_a_team(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post(
        "/console/people/teams/new/",
        {"name": "Returns", "department": desk.books.pk, "members": [desk.agent.pk, desk.light.pk]},
    )
    assert r.status_code == 302
    assert r["Location"] == "/console/people/teams/"
    team = Team.objects.get(name="Returns")
    assert team.department == desk.books
    assert sorted(m.name for m in team.members.all()) == ["Bruno Books", "Lia Light"]
    assert "Team “Returns” created." in client.get("/console/people/teams/").content.decode()


def test_a_member_from_another_department_is_refused_and_nothing_typed_is_lost(
    desk: Any, browser: Any
) -> None:
    r = browser(desk.admin).post(
        "/console/people/teams/new/",
        {"name": "Mixed", "department": desk.books.pk, "members": [desk.agent.pk, desk.outsider.pk]},
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "is not a member of the department Books" in html
    assert 'value="Mixed"' in html
    assert not Team.objects.filter(name="Mixed").exists()


def test_a_name_taken_in_the_department_is_said_next_to_it(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        "/console/people/teams/new/", {"name": "novels", "department": desk.books.pk}
    )
    assert r.status_code == 422
    assert "Books has a team named" in r.content.decode()
    assert Team.objects.count() == 1


def test_an_admin_renames_a_team_and_changes_its_members(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get(f"/console/people/teams/{desk.team.pk}/").content.decode()
    # only Books' agents are offered; the department cannot change
    assert "Lia Light" in page
    assert "Eva Electronics" not in page
    assert "disabled" in page
    r = client.post(
        f"/console/people/teams/{desk.team.pk}/",
        {"name": "Novels and poems", "department": desk.electronics.pk, "members": [desk.light.pk]},
    )
    assert r.status_code == 302
    team = Team.objects.get(pk=desk.team.pk)
    assert team.name == "Novels and poems"
    assert team.department == desk.books  # a disabled field ignores what was posted
    assert [m.name for m in team.members.all()] == ["Lia Light"]


def test_an_unknown_team_is_a_404(desk: Any, browser: Any) -> None:
    assert browser(desk.admin).get("/console/people/teams/999999/").status_code == 404
