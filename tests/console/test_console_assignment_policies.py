"""The Console's round-robin policies: admins only; the list (who takes tickets, the limit,
offline agents, what waits); creating and editing through the policy service with inline errors
that keep what was typed; a stale edit refused with what changed; each member's load, status
and who gets the next ticket."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.automation import assignment
from sportello.automation.models import AssignmentPolicy, AssignmentPolicyVersion
from sportello.core.errors import Conflict, NotFound

PATHS = ["/console/round-robin/", "/console/round-robin/new/", "/console/round-robin/books-rr/"]


def definition(desk: Any, **over: Any) -> dict[str, Any]:
    return {
        "key": "books-rr",
        "name": "Books round robin",
        "pool": {"department": desk.books.pk},
        "max_open_per_agent": 3,
        "count_categories": ["new", "open"],
        "offline": "skip",
        "backlog": True,
        **over,
    }


def form(desk: Any, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Books round robin",
        "key": "",
        "pool": "department",
        "department": str(desk.books.pk),
        "team": "",
        "max_open_per_agent": "3",
        "count_categories": ["new", "open"],
        "offline": "skip",
        "backlog": "on",
        "active": "on",
        "version": "0",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def policy(desk: Any, now: Any) -> AssignmentPolicy:
    saved, _ = assignment.policy_save(definition=definition(desk), created_by=desk.admin, now=now)
    return saved


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_agents_get_the_403_page(
    desk: Any, browser: Any, settings: Any, policy: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    client = browser(getattr(desk, role))
    assert client.get(path).status_code == 403
    assert client.post(path, form(desk)).status_code == 403
    assert AssignmentPolicy.objects.get().version == 1


@pytest.mark.parametrize("path", PATHS)
def test_the_signed_out_go_to_the_login_page(db: Any, path: str) -> None:
    r = Client().get(path)
    assert r.status_code == 302
    assert r["Location"] == f"/login/?next={path}"


def test_an_empty_list_says_what_to_do(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/round-robin/").content.decode()
    assert "No round-robin policy yet. Create one, then add an event rule that assigns through it." in html
    assert 'href="/console/round-robin/new/"' in html


def test_the_list_shows_each_policy(desk: Any, browser: Any, now: Any, policy: Any) -> None:
    assignment.policy_save(
        definition=definition(
            desk,
            key="chosen",
            name="Chosen few",
            pool={"agents": [desk.agent.pk, desk.admin.pk]},
            max_open_per_agent=None,
            offline="assign",
        ),
        created_by=desk.admin,
        now=now,
        active=False,
    )
    html = browser(desk.admin).get("/console/round-robin/").content.decode()
    books = html[html.index('id="policy-books-rr"') :].split("</tr>")[0]
    assert '<a href="/console/round-robin/books-rr/">Books round robin</a>' in books
    assert "Department Books" in books
    assert "<td>3</td>" in books
    assert "Skipped" in books
    assert "0 tickets" in books
    assert "Active" in books
    assert ">1\xa0hour ago</time>" in books
    chosen = html[html.index('id="policy-chosen"') :].split("</tr>")[0]
    assert "Bruno Books, Ada Admin" in chosen
    assert "No limit" in chosen
    assert "Get tickets" in chosen
    assert "Inactive" in chosen


def test_an_admin_creates_a_policy(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post("/console/round-robin/new/", form(desk, offline="assign", backlog=None))
    assert r.status_code == 302
    assert r["Location"] == "/console/round-robin/books-round-robin/"
    saved = AssignmentPolicy.objects.get()
    assert saved.key == "books-round-robin"
    assert saved.active
    assert saved.version == 1
    assert saved.definition == {
        "key": "books-round-robin",
        "name": "Books round robin",
        "pool": {"department": desk.books.pk},
        "max_open_per_agent": 3,
        "count_categories": ["new", "open"],
        "offline": "assign",
        "backlog": False,
    }
    assert AssignmentPolicyVersion.objects.get().created_by == desk.admin
    page = client.get(r["Location"]).content.decode()
    assert "Policy “Books round robin” saved (version 1)." in page


def test_a_pool_of_chosen_agents_or_a_team(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post(
        "/console/round-robin/new/",
        form(
            desk, key="few", pool="agents", department="", agents=[str(desk.agent.pk), str(desk.outsider.pk)]
        ),
    )
    assert r.status_code == 302
    assert AssignmentPolicy.objects.get(key="few").definition["pool"] == {
        "agents": [desk.agent.pk, desk.outsider.pk]
    }
    r = client.post(
        "/console/round-robin/new/", form(desk, key="novels", pool="team", team=str(desk.team.pk))
    )
    assert r.status_code == 302
    assert AssignmentPolicy.objects.get(key="novels").definition["pool"] == {"team": desk.team.pk}


def test_light_agents_are_not_offered(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/round-robin/new/").content.decode()
    assert "Bruno Books" in html
    assert "Lia Light" not in html
    r = browser(desk.admin).post(
        "/console/round-robin/new/", form(desk, pool="agents", agents=[str(desk.light.pk)])
    )
    assert r.status_code == 422
    assert not AssignmentPolicy.objects.exists()


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"department": ""}, "department", "Choose the department whose agents take tickets."),
        ({"pool": "team", "team": ""}, "team", "Choose the team whose members take tickets."),
        ({"pool": "agents"}, "agents", "Choose at least one agent."),
        (
            {"max_open_per_agent": "0"},
            "max_open_per_agent",
            "Ensure this value is greater than or equal to 1.",
        ),
        ({"max_open_per_agent": "many"}, "max_open_per_agent", "Enter a whole number."),
        ({"count_categories": None}, "count_categories", "Choose at least one kind of ticket."),
        ({"key": "Not a key!"}, "key", "letters, numbers, underscores or hyphens"),
        ({"key": "new"}, "key", "This key is reserved; choose another."),
        ({"department": "999999"}, "department", "Select a valid choice."),
    ],
)
def test_bad_input_is_shown_by_its_field_and_nothing_is_lost(
    desk: Any, browser: Any, over: dict[str, Any], field: str, message: str
) -> None:
    r = browser(desk.admin).post("/console/round-robin/new/", form(desk, **{"name": "Typed name", **over}))
    assert r.status_code == 422
    html = r.content.decode()
    error = html[html.index(f'id="id_{field}-error"') :].split("</p>")[0]
    assert message in error
    if over.get("name") != "":
        assert 'value="Typed name"' in html
    assert not AssignmentPolicy.objects.exists()


def test_a_taken_key_is_refused_on_its_field(desk: Any, browser: Any, policy: Any) -> None:
    r = browser(desk.admin).post("/console/round-robin/new/", form(desk, key="books-rr", name="Other"))
    assert r.status_code == 409
    assert "A policy with this key exists already; choose another key." in r.content.decode()
    assert AssignmentPolicy.objects.get().name == "Books round robin"


def test_the_editor_shows_the_saved_policy(desk: Any, browser: Any, policy: Any) -> None:
    html = browser(desk.admin).get("/console/round-robin/books-rr/").content.decode()
    assert 'value="Books round robin"' in html
    assert f'<option value="{desk.books.pk}" selected>Books</option>' in html
    assert 'name="max_open_per_agent" value="3"' in html
    assert 'name="version" value="1"' in html
    assert 'name="key"' not in html  # a key never changes
    assert "Version 1." in html


def test_an_admin_saves_a_new_version(desk: Any, browser: Any, policy: Any) -> None:
    client = browser(desk.admin)
    r = client.post("/console/round-robin/books-rr/", form(desk, version="1", max_open_per_agent="5"))
    assert r.status_code == 302
    policy.refresh_from_db()
    assert policy.version == 2
    assert policy.definition["max_open_per_agent"] == 5
    assert "Policy “Books round robin” saved (version 2)." in client.get(r["Location"]).content.decode()
    # the same again writes nothing
    r = client.post("/console/round-robin/books-rr/", form(desk, version="2", max_open_per_agent="5"))
    assert r.status_code == 302
    assert "Nothing changed: the policy is as it was." in client.get(r["Location"]).content.decode()
    assert AssignmentPolicy.objects.get().version == 2
    # deactivating keeps the definition and writes no version
    r = client.post(
        "/console/round-robin/books-rr/", form(desk, version="2", max_open_per_agent="5", active=None)
    )
    policy.refresh_from_db()
    assert (policy.active, policy.version) == (False, 2)


def test_a_stale_edit_keeps_what_was_typed_and_says_what_changed(
    desk: Any, browser: Any, now: Any, policy: Any
) -> None:
    # someone else raises the limit while Ada edits version 1
    assignment.policy_save(
        definition=definition(desk, max_open_per_agent=10, offline="assign"), created_by=desk.agent, now=now
    )
    r = browser(desk.admin).post(
        "/console/round-robin/books-rr/", form(desk, version="1", name="Typed name", max_open_per_agent="4")
    )
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone saved this policy while you were editing it (it is now at version 2)." in html
    assert "Changed meanwhile: Most open tickets per agent, Away and offline agents" in html
    assert 'value="Typed name"' in html
    assert 'name="max_open_per_agent" value="4"' in html
    assert 'name="version" value="2"' in html  # saving again replaces theirs, knowingly
    policy.refresh_from_db()
    assert (policy.version, policy.name, policy.definition["max_open_per_agent"]) == (
        2,
        "Books round robin",
        10,
    )


def test_an_unknown_policy_is_404(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert client.get("/console/round-robin/nope/").status_code == 404
    assert client.post("/console/round-robin/nope/", form(desk, version="1")).status_code == 404


def test_the_members_load_status_and_next_in_line(
    desk: Any, browser: Any, now: Any, open_ticket: Any
) -> None:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create

    cara = agent_create(email="cara@desk.test", name="Cara Books", role=Role.AGENT, departments=[desk.books])
    dino = agent_create(email="dino@desk.test", name="Dino Books", role=Role.AGENT, departments=[desk.books])
    for user, status in ((desk.agent, "online"), (cara, "online"), (dino, "away")):
        user.status = status
        user.save(update_fields=["status"])
    _saved, _ = assignment.policy_save(
        definition=definition(desk, max_open_per_agent=2), created_by=desk.admin, now=now
    )
    for _i in range(2):
        open_ticket("Bruno's", assignee_id=desk.agent.pk)
    open_ticket("Cara's", assignee_id=cara.pk)
    html = browser(desk.admin).get("/console/round-robin/books-rr/").content.decode()

    def row(user: Any) -> str:
        return html[html.index(f'id="member-{user.pk}"') :].split("</tr>")[0]

    assert "Online" in row(desk.agent)
    assert "2 of 2" in row(desk.agent)
    assert "Skipped: at the limit" in row(desk.agent)
    assert "1 of 2" in row(cara)
    assert "Next in line" in row(cara)
    assert "Away" in row(dino)
    assert "Skipped: not online" in row(dino)
    assert f'id="member-{desk.light.pk}"' not in html  # light agents never take tickets
    assert f'id="member-{desk.outsider.pk}"' not in html


def test_the_policy_service_checks_the_edited_version(desk: Any, now: Any, policy: Any) -> None:
    with pytest.raises(Conflict) as stale:
        assignment.policy_save(
            definition=definition(desk, name="X"), created_by=desk.admin, now=now, expected_version=2
        )
    assert stale.value.code == "stale_version"
    with pytest.raises(Conflict) as taken:
        assignment.policy_save(
            definition=definition(desk), created_by=desk.admin, now=now, expected_version=0
        )
    assert taken.value.code == "policy_exists"
    with pytest.raises(NotFound):
        assignment.policy_save(
            definition=definition(desk, key="other"), created_by=desk.admin, now=now, expected_version=1
        )
    saved, written = assignment.policy_save(
        definition=definition(desk, name="Y"), created_by=desk.admin, now=now, expected_version=1
    )
    assert (saved.version, written) == (2, True)
    assert AssignmentPolicy.objects.get().name == "Y"
