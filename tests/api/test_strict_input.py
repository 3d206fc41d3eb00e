"""Strict input: a body is a JSON object with known keys, a task edit names the version it
read, and an instant is an ISO 8601 string — never a number read as seconds since 1970."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sportello.core.actors import Via
from sportello.ticket_tasks.models import Task
from sportello.ticket_tasks.services import task_create
from sportello.tickets import services
from sportello.tickets.models import TicketEvent
from testing import NOW


@pytest.fixture
def task(desk: Any) -> Task:
    outcome = services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Torn",
            "description": "d",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=NOW,
    )
    return task_create(actor=desk.agent, ticket_id=outcome.ticket.pk, title="Check the print run",
                       assignee_id=desk.agent.pk, now=NOW)  # fmt: skip


@pytest.mark.parametrize("body", ['"reprint"', "[]", "3", "null", "true"])
def test_a_task_patch_that_is_not_an_object_is_422_and_changes_nothing(
    api: Any, desk: Any, task: Task, body: str
) -> None:
    r = api(desk.agent).patch(f"/tasks/{task.pk}", body)
    assert r.status_code == 422, r.content
    assert r.json()["error"] == {
        "code": "validation_failed",
        "message": "the body must be a JSON object",
        "field": None,
    }
    task.refresh_from_db()
    assert (task.title, task.version) == ("Check the print run", 1)
    assert not TicketEvent.objects.filter(kind="task", field="updated").exists()


def test_a_bare_json_string_is_refused_by_every_json_endpoint(api: Any, desk: Any) -> None:
    r = api(desk.admin).post("/departments", '"Logistics"')
    assert (r.status_code, r.json()["error"]["message"]) == (422, "the body must be a JSON object")


def test_a_task_patch_without_version_is_422_naming_it(api: Any, desk: Any, task: Task) -> None:
    r = api(desk.agent).patch(f"/tasks/{task.pk}", {"title": "Reprint"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "version")
    task.refresh_from_db()
    assert task.title == "Check the print run"


def test_a_task_patch_with_a_stale_version_is_409_and_changes_nothing(
    api: Any, desk: Any, task: Task
) -> None:
    client = api(desk.agent)
    assert client.patch(f"/tasks/{task.pk}", {"title": "Reprint", "version": 1}).json()["version"] == 2
    r = client.patch(f"/tasks/{task.pk}", {"title": "Pulp", "version": 1})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "stale_version")
    task.refresh_from_db()
    assert (task.title, task.version) == ("Reprint", 2)


def test_a_task_patch_with_an_unknown_key_is_422_naming_it(api: Any, desk: Any, task: Task) -> None:
    r = api(desk.agent).patch(f"/tasks/{task.pk}", {"titel": "Reprint", "version": 1})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "titel")


@pytest.mark.parametrize("due", [0.5, 1_800_000_000, "0.5", "tomorrow"])
def test_a_due_instant_that_is_not_iso_8601_is_422(api: Any, desk: Any, task: Task, due: Any) -> None:
    r = api(desk.agent).patch(f"/tasks/{task.pk}", json.dumps({"due_at": due, "version": 1}))
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == "due_at"
    assert "ISO 8601" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/metrics/blueprints", {"to": "0.5"}, "to"),
        ("/metrics/blueprints", {"from": "1700000000"}, "from"),
        ("/metrics/blueprints", {"from": "2026-11-01T00:00:00Z", "to": "yesterday"}, "to"),
        ("/metrics/sla", {"from": "0", "to": "2026-12-01T00:00:00Z"}, "from"),
        ("/metrics/sla", {"from": "2026-11-01T00:00:00Z", "to": "0.5"}, "to"),
        ("/tickets", {"updated_since": "0.5"}, "updated_since"),
    ],
)
def test_a_query_instant_that_is_not_iso_8601_is_422_naming_it(
    api: Any, desk: Any, path: str, params: dict[str, str], field: str
) -> None:
    r = api(desk.admin).get(path, params)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field
    assert "ISO 8601" in r.json()["error"]["message"]


def test_a_query_instant_in_iso_8601_is_read(api: Any, desk: Any) -> None:
    r = api(desk.admin).get(
        "/metrics/blueprints", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00+01:00"}
    )
    assert r.status_code == 200, r.content
    assert (r.json()["start"], r.json()["end"]) == ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00+01:00")
