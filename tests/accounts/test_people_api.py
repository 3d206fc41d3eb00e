"""`/api/v1/departments`, `/agents`, `/teams`, `/tokens`: who may do what, and what it does."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.accounts.models import AgentStatus, ApiToken, Department, Role, Team, User
from testing import expect

READ_ALL = expect(admin=200, agent=200, light=200, outsider=200, anonymous=401, revoked=401)


# --------------------------------------------------------------------------------------------
# Authorisation matrix: every endpoint, every role


@pytest.mark.parametrize(("role", "status"), READ_ALL)
@pytest.mark.parametrize(
    "path",
    [
        "/departments",
        "/departments/{books}",
        "/agents",
        "/agents/me",
        "/agents/{agent}",
        "/teams",
        "/teams/{team}",
        "/tokens",
    ],
)
def test_reads_are_open_to_every_agent_and_closed_without_a_valid_token(
    desk: Any, as_role: Any, path: str, role: str, status: int
) -> None:
    # given a client for the role
    client = as_role(role)
    # when it reads
    r = client.get(path.format(books=desk.books.pk, agent=desk.agent.pk, team=desk.team.pk))
    # then the status is the expected one
    assert r.status_code == status, r.content
    if status == 401:
        assert r.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=201, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_create_departments(desk: Any, as_role: Any, role: str, status: int) -> None:
    # given a client for the role
    client = as_role(role)
    # when it creates a department
    r = client.post("/departments", {"name": "Music"})
    # then only the admin succeeds, and nothing is written otherwise
    assert r.status_code == status, r.content
    assert Department.objects.filter(name="Music").exists() is (status == 201)


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_change_departments(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    r = client.patch(f"/departments/{desk.books.pk}", {"description": "Paper and ink"})
    assert r.status_code == status, r.content
    desk.books.refresh_from_db()
    assert desk.books.description == ("Paper and ink" if status == 200 else "")


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=201, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_create_agents(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    r = client.post("/agents", {"email": "new@desk.test", "name": "New"})
    assert r.status_code == status, r.content
    assert User.objects.filter(email="new@desk.test").exists() is (status == 201)


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_change_agents(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    r = client.patch(f"/agents/{desk.light.pk}", {"name": "Lia Renamed"})
    assert r.status_code == status, r.content
    desk.light.refresh_from_db()
    assert desk.light.name == ("Lia Renamed" if status == 200 else "Lia Light")


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=200, light=200, outsider=200, anonymous=401, revoked=401)
)
def test_every_agent_sets_their_own_status(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    r = client.put("/agents/me/status", {"status": "online"})
    assert r.status_code == status, r.content
    if status == 200:
        assert r.json()["status"] == "online"


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=200, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_an_agents_status_is_set_by_that_agent_or_an_admin(
    desk: Any, as_role: Any, role: str, status: int
) -> None:
    # given the Books agent, offline
    client = as_role(role)
    # when the role sets the Books agent online
    r = client.put(f"/agents/{desk.agent.pk}/status", {"status": "online"})
    # then only the agent themself or an admin may
    assert r.status_code == status, r.content
    desk.agent.refresh_from_db()
    assert desk.agent.status == (AgentStatus.ONLINE if status == 200 else AgentStatus.OFFLINE)


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=201, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_create_teams(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    r = client.post("/teams", {"name": "Textbooks", "department_id": desk.books.pk})
    assert r.status_code == status, r.content
    assert Team.objects.filter(name="Textbooks").exists() is (status == 201)


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_change_teams(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    r = client.patch(f"/teams/{desk.team.pk}", {"member_ids": [desk.agent.pk, desk.light.pk]})
    assert r.status_code == status, r.content
    expected = sorted([desk.agent.pk, desk.light.pk]) if status == 200 else [desk.agent.pk]
    assert sorted(desk.team.members.values_list("pk", flat=True)) == expected


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=201, agent=201, light=201, outsider=201, anonymous=401, revoked=401)
)
def test_every_agent_creates_their_own_tokens(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    r = client.post("/tokens", {"name": "laptop"})
    assert r.status_code == status, r.content


# --------------------------------------------------------------------------------------------
# Departments


def test_admin_creates_a_department_with_a_slug_and_reads_it_back(desk: Any, api: Any) -> None:
    # when the admin creates "Garden Tools"
    r = api(desk.admin).post("/departments", {"name": "  Garden   Tools ", "email": "Garden@Desk.test"})
    # then it is stored tidy, with a slug
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["name"], body["slug"], body["email"], body["is_active"]) == (
        "Garden Tools",
        "garden-tools",
        "garden@desk.test",
        True,
    )
    assert api(desk.agent).get(f"/departments/{body['id']}").json() == body


def test_a_department_name_is_unique_whatever_its_case(desk: Any, api: Any) -> None:
    r = api(desk.admin).post("/departments", {"name": "BOOKS"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "name"
    assert Department.objects.count() == 2


def test_renaming_a_department_to_anothers_name_is_a_conflict(desk: Any, api: Any) -> None:
    r = api(desk.admin).patch(f"/departments/{desk.books.pk}", {"name": "electronics"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "name"
    desk.books.refresh_from_db()
    assert desk.books.name == "Books"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Bad\x00name"}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 12}, "name"),
        ({"name": "Ok", "email": "not an address"}, "email"),
        ({"name": "Ok", "colour": "red"}, "colour"),
        ({"name": "x" * 200_000}, "name"),
        ({"name": "\ud800"}, "name"),
    ],
)
def test_bad_department_input_is_a_422_naming_the_field(
    desk: Any, api: Any, payload: dict[str, Any], field: str
) -> None:
    r = api(desk.admin).post("/departments", payload)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field
    assert Department.objects.count() == 2


@pytest.mark.parametrize("path", ["/departments/999999", "/departments/99999999999999999999999"])
def test_unknown_department_is_a_404(desk: Any, api: Any, path: str) -> None:
    r = api(desk.admin).get(path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_departments_are_listed_page_by_page_with_a_cursor(desk: Any, api: Any) -> None:
    # given four departments
    client = api(desk.admin)
    for name in ("Garden", "Toys"):
        assert client.post("/departments", {"name": name}).status_code == 201
    # when listing two at a time
    first = client.get("/departments", {"limit": 2}).json()
    second = client.get("/departments", {"limit": 2, "cursor": first["next_cursor"]}).json()
    # then the pages hold every department once, in id order, and the last has no cursor
    names = [d["name"] for d in first["items"] + second["items"]]
    assert names == ["Books", "Electronics", "Garden", "Toys"]
    assert second["next_cursor"] is None


def test_a_forged_cursor_is_a_422(desk: Any, api: Any) -> None:
    r = api(desk.admin).get("/departments", {"cursor": "not-a-cursor\x00"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "cursor"


# --------------------------------------------------------------------------------------------
# Agents


def test_admin_creates_an_agent_with_departments_and_a_password(desk: Any, api: Any) -> None:
    r = api(desk.admin).post(
        "/agents",
        {
            "email": "Nina@Desk.test",
            "name": "Nina",
            "role": "light_agent",
            "department_ids": [desk.electronics.pk, desk.books.pk],
            "password": "correct horse battery",
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["email"], body["role"], body["status"], body["department_ids"]) == (
        "nina@desk.test",
        "light_agent",
        "offline",
        sorted([desk.books.pk, desk.electronics.pk]),
    )
    nina = User.objects.get(pk=body["id"])
    assert nina.check_password("correct horse battery") is True


def test_an_agent_created_without_a_password_cannot_log_in_with_one(desk: Any, api: Any) -> None:
    r = api(desk.admin).post("/agents", {"email": "nopw@desk.test"})
    assert r.status_code == 201
    user = User.objects.get(email="nopw@desk.test")
    assert (user.name, user.role, user.has_usable_password()) == ("nopw@desk.test", Role.AGENT, False)


def test_an_agent_email_is_unique_whatever_its_case(desk: Any, api: Any) -> None:
    r = api(desk.admin).post("/agents", {"email": "BRUNO@desk.test"})
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "conflict",
        "message": "an agent with e-mail bruno@desk.test exists",
        "field": "email",
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "no-at-sign"}, "email"),
        ({"email": "x\x00@desk.test"}, "email"),
        ({"email": "ok@desk.test", "role": "owner"}, "role"),
        ({"email": "ok@desk.test", "department_ids": [999999]}, "department_ids"),
        ({"email": "ok@desk.test", "department_ids": ["books"]}, "department_ids.0"),
        ({"email": "ok@desk.test", "password": "short"}, "password"),
        ({"email": "ok@desk.test", "name": "a\x00b"}, "name"),
        ({"email": "ok@desk.test", "language": "x" * 11}, "language"),
    ],
)
def test_bad_agent_input_is_a_422_naming_the_field(
    desk: Any, api: Any, payload: dict[str, Any], field: str
) -> None:
    r = api(desk.admin).post("/agents", payload)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field
    assert User.objects.count() == 4


def test_agents_are_filtered_by_department_role_and_status(desk: Any, api: Any, now: Any) -> None:
    # given the Books agent online
    client = api(desk.admin)
    assert api(desk.agent).put("/agents/me/status", {"status": "online"}).status_code == 200

    def ids(**params: Any) -> list[int]:
        r = client.get("/agents", params)
        assert r.status_code == 200, r.content
        return [a["id"] for a in r.json()["items"]]

    # then each filter narrows the list
    assert ids() == [desk.admin.pk, desk.agent.pk, desk.light.pk, desk.outsider.pk]
    assert ids(department_id=desk.books.pk) == [desk.agent.pk, desk.light.pk]
    assert ids(role="light_agent") == [desk.light.pk]
    assert ids(status="online") == [desk.agent.pk]
    assert ids(department_id=desk.books.pk, role="agent", status="offline") == []


@pytest.mark.parametrize(("param", "value"), [("role", "boss"), ("status", "busy"), ("department_id", "x")])
def test_an_unknown_agent_filter_value_is_a_422(desk: Any, api: Any, param: str, value: str) -> None:
    r = api(desk.admin).get("/agents", {param: value})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == param


def test_agents_me_is_the_token_owner(desk: Any, api: Any) -> None:
    r = api(desk.light).get("/agents/me")
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["role"], r.json()["department_ids"]) == (
        desk.light.pk,
        "light_agent",
        [desk.books.pk],
    )


def test_listing_agents_takes_a_fixed_number_of_queries(
    desk: Any, api: Any, django_assert_num_queries: Any
) -> None:
    # given more agents, each in a department
    for i in range(5):
        assert (
            api(desk.admin)
            .post("/agents", {"email": f"a{i}@desk.test", "department_ids": [desk.books.pk]})
            .status_code
            == 201
        )
    client = api(desk.agent)
    client.get("/agents/me")  # the token's first use records last_used_at
    # when listing them: token lookup, agents, their departments
    with django_assert_num_queries(3):
        r = client.get("/agents")
    assert len(r.json()["items"]) == 9


def test_moving_an_agent_out_of_a_department_removes_them_from_its_teams(desk: Any, api: Any) -> None:
    # given the Books agent in the Novels team
    assert list(desk.team.members.all()) == [desk.agent]
    # when the admin moves them to Electronics only
    r = api(desk.admin).patch(f"/agents/{desk.agent.pk}", {"department_ids": [desk.electronics.pk]})
    # then they work in Electronics and left the Books team
    assert r.status_code == 200, r.content
    assert r.json()["department_ids"] == [desk.electronics.pk]
    assert list(desk.team.members.all()) == []


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    r = client.patch(f"/agents/{desk.admin.pk}", {"role": "agent"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "role"
    r = client.patch(f"/agents/{desk.admin.pk}", {"is_active": False})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "is_active"
    desk.admin.refresh_from_db()
    assert (desk.admin.role, desk.admin.is_active) == (Role.ADMIN, True)


def test_a_deactivated_agents_tokens_stop_working(desk: Any, api: Any) -> None:
    # given the Books agent with a working token
    agent_client = api(desk.agent)
    assert agent_client.get("/agents/me").status_code == 200
    # when the admin deactivates them
    r = api(desk.admin).patch(f"/agents/{desk.agent.pk}", {"is_active": False})
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    # then their token answers 401
    assert agent_client.get("/agents/me").status_code == 401


def test_deactivating_through_the_api_hands_the_agents_open_tickets_back(
    desk: Any, api: Any, open_ticket: Any
) -> None:
    # given the Books agent holding two open tickets
    from sportello.tickets.models import Ticket

    held = [open_ticket(f"Held {i}", assignee_id=desk.agent.pk) for i in range(2)]
    assert [t.assignee_id for t in held] == [desk.agent.pk] * 2
    # when an admin deactivates them and renames them in the same change
    r = api(desk.admin).patch(f"/agents/{desk.agent.pk}", {"is_active": False, "name": "Gone Agent"})
    # then they are inactive and renamed, and neither ticket is theirs any more
    assert r.status_code == 200, r.content
    assert (r.json()["is_active"], r.json()["name"]) == (False, "Gone Agent")
    assert list(Ticket.objects.filter(pk__in=[t.pk for t in held]).values_list("assignee_id", flat=True)) == [
        None,
        None,
    ]


def test_an_admin_cannot_deactivate_themself_through_the_api(desk: Any, api: Any) -> None:
    # given a second admin, so the desk would keep one
    desk.agent.role = Role.ADMIN
    desk.agent.save(update_fields=["role"])
    # when an admin deactivates themself and renames themself in the same change
    r = api(desk.admin).patch(f"/agents/{desk.admin.pk}", {"is_active": False, "name": "Renamed"})
    # then it is refused and nothing changed
    assert r.status_code == 409, r.content
    assert r.json()["error"]["field"] == "is_active"
    desk.admin.refresh_from_db()
    assert desk.admin.is_active is True
    assert desk.admin.name != "Renamed"


def test_admin_promotes_an_agent_and_renames_them(desk: Any, api: Any) -> None:
    r = api(desk.admin).patch(f"/agents/{desk.outsider.pk}", {"role": "admin", "name": "Eva Boss"})
    assert r.status_code == 200
    assert (r.json()["role"], r.json()["name"]) == ("admin", "Eva Boss")


def test_going_online_records_when(desk: Any, api: Any) -> None:
    r = api(desk.agent).put("/agents/me/status", {"status": "online"})
    assert r.status_code == 200
    desk.agent.refresh_from_db()
    assert desk.agent.status == AgentStatus.ONLINE
    assert desk.agent.status_changed_at is not None


def test_an_unknown_status_is_a_422(desk: Any, api: Any) -> None:
    r = api(desk.agent).put("/agents/me/status", {"status": "busy"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "status"


# --------------------------------------------------------------------------------------------
# Teams


def test_admin_creates_a_team_of_department_members(desk: Any, api: Any) -> None:
    r = api(desk.admin).post(
        "/teams", {"name": "Textbooks", "department_id": desk.books.pk, "member_ids": [desk.light.pk]}
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["name"], body["department_id"], body["member_ids"]) == (
        "Textbooks",
        desk.books.pk,
        [desk.light.pk],
    )


def test_a_team_member_must_belong_to_the_teams_department(desk: Any, api: Any) -> None:
    # when the admin puts the Electronics agent in a Books team
    r = api(desk.admin).post(
        "/teams", {"name": "Textbooks", "department_id": desk.books.pk, "member_ids": [desk.outsider.pk]}
    )
    # then it is refused, naming the member list, and no team exists
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "member_ids"
    assert not Team.objects.filter(name="Textbooks").exists()
    r = api(desk.admin).patch(f"/teams/{desk.team.pk}", {"member_ids": [desk.outsider.pk]})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "member_ids"
    assert list(desk.team.members.all()) == [desk.agent]


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"name": "novels", "department_id": 0}, 409, "name"),
        ({"name": "X", "department_id": 999999}, 422, "department_id"),
        ({"name": "X", "department_id": 0, "member_ids": [999999]}, 422, "member_ids"),
        ({"name": "", "department_id": 0}, 422, "name"),
    ],
)
def test_bad_team_input_is_refused_naming_the_field(
    desk: Any, api: Any, payload: dict[str, Any], status: int, field: str
) -> None:
    if payload["department_id"] == 0:
        payload = {**payload, "department_id": desk.books.pk}
    r = api(desk.admin).post("/teams", payload)
    assert r.status_code == status, r.content
    assert r.json()["error"]["field"] == field
    assert Team.objects.count() == 1


def test_teams_are_filtered_by_department(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    assert client.post("/teams", {"name": "Phones", "department_id": desk.electronics.pk}).status_code == 201
    items = client.get("/teams", {"department_id": desk.electronics.pk}).json()["items"]
    assert [t["name"] for t in items] == ["Phones"]


# --------------------------------------------------------------------------------------------
# Tokens


def test_a_new_token_shows_its_secret_once_and_it_authenticates(desk: Any, api: Any) -> None:
    # when the agent creates a token
    client = api(desk.agent)
    r = client.post("/tokens", {"name": "laptop"})
    # then the secret is in that answer only
    assert r.status_code == 201
    created = r.json()
    assert created["secret"].startswith("spt_")
    assert created["prefix"] == created["secret"][:12]
    listed = client.get("/tokens").json()["items"]
    assert [t["name"] for t in listed] == ["test", "laptop"]
    assert all("secret" not in t for t in listed)
    # and the secret works as a bearer token
    fresh = api(None)
    fresh.headers = {"Authorization": f"Bearer {created['secret']}"}
    assert fresh.get("/agents/me").json()["id"] == desk.agent.pk


def test_tokens_are_private_to_their_owner(desk: Any, api: Any) -> None:
    # given a token of the Books agent
    agent_client = api(desk.agent)
    token_id = agent_client.get("/tokens").json()["items"][0]["id"]
    # when another agent lists tokens or tries to revoke it
    other = api(desk.outsider)
    assert [t["id"] for t in other.get("/tokens").json()["items"]] != [token_id]
    r = other.delete(f"/tokens/{token_id}")
    # then it is not found and still works
    assert r.status_code == 404
    assert agent_client.get("/agents/me").status_code == 200
    assert ApiToken.objects.get(pk=token_id).revoked_at is None


def test_a_revoked_token_answers_401(desk: Any, api: Any) -> None:
    # given two tokens of the Books agent
    client = api(desk.agent)
    spare = client.post("/tokens", {"name": "spare"}).json()
    # when the spare is revoked
    r = client.delete(f"/tokens/{spare['id']}")
    # then it is marked revoked and refused
    assert r.status_code == 204
    revoked = api(None)
    revoked.headers = {"Authorization": f"Bearer {spare['secret']}"}
    r = revoked.get("/agents/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"
    assert client.get("/tokens").json()["items"][1]["revoked_at"] is not None
    # and the other token still works
    assert client.get("/agents/me").status_code == 200


@pytest.mark.parametrize("token_id", ["999999", "99999999999999999999999"])
def test_revoking_an_unknown_token_is_a_404(desk: Any, api: Any, token_id: str) -> None:
    assert api(desk.agent).delete(f"/tokens/{token_id}").status_code == 404


def test_a_token_name_with_a_nul_byte_is_a_422(desk: Any, api: Any) -> None:
    r = api(desk.agent).post("/tokens", {"name": "a\x00"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "name"


# --------------------------------------------------------------------------------------------
# Hostile input never causes a server error

HOSTILE: list[Any] = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 100_001,
    "",
    "   ",
    "\u202e" * 300,
    "😀" * 200,
    2**70,
    -1,
    0,
    1.5,
    True,
    None,
    [],
    {},
    ["\x00"],
    [2**70],
]


def hostile_failures(client: Any, method: str, path: str, body: dict[str, Any]) -> list[str]:
    """Send `body` with each key replaced by each hostile value; list the answers that are a
    server error or lack the error shape."""
    failures = []
    for key in body:
        for value in HOSTILE:
            r = client._call(method, path, {**body, key: value})
            if r.status_code >= 500:
                failures.append(f"{method} {path} {key}={value!r:.40}: {r.status_code}")
            elif r.status_code >= 400 and set(r.json().get("error", {})) < {"code", "message", "field"}:
                failures.append(f"{method} {path} {key}={value!r:.40}: no error shape")
    return failures


def test_hostile_values_in_people_writes_never_cause_a_server_error(desk: Any, api: Any) -> None:
    # given an admin, who may reach every write
    client = api(desk.admin)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("post", "/departments", {"name": "Music", "email": "m@desk.test", "description": "d"}),
        ("patch", f"/departments/{desk.electronics.pk}", {"name": "Gadgets", "is_active": True}),
        (
            "post",
            "/agents",
            {
                "email": "n@desk.test",
                "name": "N",
                "role": "agent",
                "department_ids": [desk.books.pk],
                "password": "long enough pw",
                "language": "en",
            },
        ),
        ("patch", f"/agents/{desk.outsider.pk}", {"name": "E", "role": "agent", "department_ids": []}),
        ("put", f"/agents/{desk.outsider.pk}/status", {"status": "online"}),
        ("post", "/teams", {"name": "T", "department_id": desk.books.pk, "member_ids": [], "email": ""}),
        ("patch", f"/teams/{desk.team.pk}", {"name": "Novels", "member_ids": [desk.agent.pk]}),
        ("post", "/tokens", {"name": "t"}),
    ]
    # when each field of each write gets each hostile value
    failures = [f for method, path, body in writes for f in hostile_failures(client, method, path, body)]
    # then every answer is a clean 2xx or 4xx
    assert failures == []


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/agents", "department_id"),
        ("/agents", "role"),
        ("/agents", "status"),
        ("/agents", "is_active"),
        ("/agents", "cursor"),
        ("/agents", "limit"),
        ("/departments", "cursor"),
        ("/teams", "department_id"),
        ("/tokens", "limit"),
    ],
)
def test_hostile_query_parameters_are_a_4xx(desk: Any, api: Any, path: str, param: str) -> None:
    client = api(desk.admin)
    for value in ("\x00", "9" * 40, "-1", "x" * 5000, "%", "1e3", "eyJ4IjoxfQ"):
        r = client.get(path, {param: value})
        assert r.status_code in (200, 422), (value, r.content)


def test_an_admin_is_demoted_while_another_active_admin_remains(desk: Any, api: Any) -> None:
    # given a second admin
    client = api(desk.admin)
    assert client.patch(f"/agents/{desk.outsider.pk}", {"role": "admin"}).status_code == 200
    # when the first admin demotes themself
    r = client.patch(f"/agents/{desk.admin.pk}", {"role": "agent"})
    # then it is allowed, and their token now answers as an agent's
    assert r.status_code == 200
    assert r.json()["role"] == "agent"
    assert client.post("/departments", {"name": "Music"}).status_code == 403
