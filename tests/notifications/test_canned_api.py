"""`/api/v1/canned-responses`: personal and shared replies, who sees and changes which, and
rendering one for a ticket."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.accounts.models import Role
from sportello.accounts.services import agent_create
from sportello.notifications.models import CannedResponse

BODY = (
    "Hola {{ requester.name }}, su ticket #{{ ticket.number }} está en {{ ticket.department }}. "
    "{{ agent.name }}"
)


@pytest.fixture
def colleague(desk: Any) -> Any:
    """Another agent of Books."""
    return agent_create(
        email="carla@desk.test", name="Carla Books", role=Role.AGENT, departments=[desk.books]
    )


def titles(client: Any, **params: Any) -> list[str]:
    r = client.get("/canned-responses", params)
    assert r.status_code == 200, r.content
    return [c["title"] for c in r.json()["items"]]


def test_personal_responses_are_their_owners_and_shared_ones_their_departments(
    desk: Any, api: Any, colleague: Any
) -> None:
    bruno, carla, eva = api(desk.agent), api(colleague), api(desk.outsider)
    r = bruno.post("/canned-responses", {"title": "Mine", "body": "Hi"})
    assert r.status_code == 201, r.content
    assert (r.json()["shared"], r.json()["owner_user_id"], r.json()["department_id"]) == (
        False,
        desk.agent.pk,
        None,
    )
    r = bruno.post(
        "/canned-responses", {"title": "Books shared", "body": "Hi", "department_id": desk.books.pk}
    )
    assert (r.status_code, r.json()["shared"], r.json()["owner_user_id"]) == (201, True, None)
    api(desk.admin).post(
        "/canned-responses", {"title": "Electronics", "body": "x", "department_id": desk.electronics.pk}
    )
    api(desk.admin).post("/canned-responses", {"title": "Admin's own", "body": "x"})
    # the owner sees theirs and Books'; a Books colleague only Books'; Electronics only its own
    assert titles(bruno) == ["Books shared", "Mine"]
    assert titles(carla) == ["Books shared"]
    assert titles(eva) == ["Electronics"]
    # an admin sees their own and every shared one
    assert titles(api(desk.admin)) == ["Admin's own", "Books shared", "Electronics"]
    # another agent's personal response does not exist for others
    mine = CannedResponse.objects.get(title="Mine")
    assert carla.get(f"/canned-responses/{mine.pk}").status_code == 404
    assert carla.patch(f"/canned-responses/{mine.pk}", {"title": "Hacked"}).status_code == 404
    assert carla.delete(f"/canned-responses/{mine.pk}").status_code == 404
    assert CannedResponse.objects.get(pk=mine.pk).title == "Mine"


def test_agents_share_only_with_their_own_departments(desk: Any, api: Any) -> None:
    r = api(desk.agent).post(
        "/canned-responses", {"title": "T", "body": "B", "department_id": desk.electronics.pk}
    )
    assert (r.status_code, r.json()["error"]["field"]) == (403, "department_id")
    r = api(desk.agent).post("/canned-responses", {"title": "T", "body": "B", "department_id": 999_999})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "department_id")
    assert not CannedResponse.objects.exists()


def test_light_agents_neither_read_nor_write_canned_responses(desk: Any, api: Any) -> None:
    light = api(desk.light)
    assert light.get("/canned-responses").status_code == 403
    assert light.post("/canned-responses", {"title": "T", "body": "B"}).status_code == 403
    assert api(None).get("/canned-responses").status_code == 401
    assert not CannedResponse.objects.exists()


def test_a_department_edits_its_shared_responses_and_owners_their_own(
    desk: Any, api: Any, colleague: Any
) -> None:
    shared = (
        api(desk.agent)
        .post("/canned-responses", {"title": "Refund", "body": "x", "department_id": desk.books.pk})
        .json()
    )
    r = api(colleague).patch(f"/canned-responses/{shared['id']}", {"body": "Refunded, {{ requester.name }}"})
    assert (r.status_code, r.json()["body"], r.json()["title"]) == (
        200,
        "Refunded, {{ requester.name }}",
        "Refund",
    )
    assert api(desk.outsider).patch(f"/canned-responses/{shared['id']}", {"body": "y"}).status_code == 404
    mine = api(desk.agent).post("/canned-responses", {"title": "Mine", "body": "x"}).json()
    # admins change and delete anyone's
    assert (
        api(desk.admin).patch(f"/canned-responses/{mine['id']}", {"language": "es"}).json()["language"]
        == "es"
    )
    assert api(desk.admin).delete(f"/canned-responses/{mine['id']}").status_code == 204
    assert api(colleague).delete(f"/canned-responses/{shared['id']}").status_code == 204
    assert not CannedResponse.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "T", "body": "{% load x %}"}, "body"),
        ({"title": "T", "body": "{{ ticket.subject|safe }}"}, "body"),
        ({"title": "", "body": "B"}, "title"),
        ({"title": "T", "body": ""}, "body"),
        ({"title": "T", "body": "x" * 20_001}, "body"),
        ({"title": "T", "body": "B", "language": "de"}, "language"),
        ({"title": "T", "body": "B", "owner_user_id": 1}, "owner_user_id"),
    ],
)
def test_invalid_canned_responses_are_refused(desk: Any, api: Any, payload: Any, field: str) -> None:
    r = api(desk.agent).post("/canned-responses", payload)
    assert (r.status_code, r.json()["error"]["field"]) == (422, field)
    assert not CannedResponse.objects.exists()


def test_language_filter_keeps_responses_in_that_language_or_in_none(desk: Any, api: Any) -> None:
    bruno = api(desk.agent)
    for title, language in (("Any", ""), ("English", "en"), ("Spanish", "es")):
        bruno.post("/canned-responses", {"title": title, "body": "x", "language": language})
    assert titles(bruno, language="es") == ["Any", "Spanish"]


def test_render_fills_the_placeholders_for_a_ticket_the_agent_may_read(
    desk: Any, api: Any, carmen: Any, open_ticket: Any
) -> None:
    ticket = open_ticket(carmen).ticket
    other = open_ticket(carmen, department=desk.electronics).ticket
    canned = api(desk.agent).post("/canned-responses", {"title": "Status", "body": BODY}).json()
    r = api(desk.agent).post(f"/canned-responses/{canned['id']}/render", {"ticket_id": ticket.pk})
    assert r.status_code == 200, r.content
    expected = f"Hola Carmen Ruiz, su ticket #{ticket.number} está en Books. Bruno Books"
    assert r.json() == {"text": expected, "html": f"<p>{expected}</p>\n", "language": "es"}
    # a ticket of another department: not found, as a missing one
    r = api(desk.agent).post(f"/canned-responses/{canned['id']}/render", {"ticket_id": other.pk})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    # someone else's personal response: not found either
    r = api(desk.admin).post("/canned-responses", {"title": "Admin", "body": "x"}).json()
    assert (
        api(desk.agent).post(f"/canned-responses/{r['id']}/render", {"ticket_id": ticket.pk}).status_code
        == 404
    )


def test_the_lists_run_a_fixed_number_of_queries(desk: Any, api: Any, django_assert_num_queries: Any) -> None:
    bruno = api(desk.agent)
    for i in range(4):
        bruno.post("/canned-responses", {"title": f"T{i}", "body": "x", "department_id": desk.books.pk})
        api(desk.admin).put(f"/notification-templates/key_{i}/es", {"subject": "s", "body_text": "b"})
    # authentication, then one query for the page: none per item
    with django_assert_num_queries(2):
        assert len(bruno.get("/canned-responses").json()["items"]) == 4
    with django_assert_num_queries(2):
        assert len(bruno.get("/notification-templates").json()["items"]) == 27 + 4
