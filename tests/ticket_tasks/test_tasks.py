"""Tasks on tickets through the API and the pipeline: who may do what, the ticket's events, the
overdue list, and reminders sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sportello.core import clock
from sportello.core.actors import Actor, ActorKind, Via
from sportello.outbox.models import OutboxMessage
from sportello.ticket_tasks import reminders
from sportello.ticket_tasks.models import Task, TaskReminder
from sportello.tickets import pipeline
from sportello.tickets.models import TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import recorded

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def ticket(desk: Any) -> Any:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject="Wrong invoice",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="The VAT is wrong"),
        now=NOW - timedelta(hours=1),
    ).ticket


def iso(at: datetime) -> str:
    return at.isoformat()


def test_an_agent_adds_a_task_for_a_colleague_of_another_department_who_completes_it(
    desk: Any, api: Any, ticket: Any
) -> None:
    # given a Books agent asking Electronics (the outsider) to check something, due tomorrow
    due = NOW + timedelta(days=1)
    r = api(desk.agent).post(f"/tickets/{ticket.pk}/tasks", {
        "title": "Check the serial number", "assignee_id": desk.outsider.pk,
        "due_at": iso(due), "reminders": ["1h", "1d", "0m"]})  # fmt: skip
    assert r.status_code == 201, r.content
    task = r.json()
    assert (task["status"], task["reminders"], task["overdue"], task["ticket_number"]) == (
        "open", ["1d", "1h", "0m"], False, ticket.number)  # fmt: skip
    # then the ticket's trail shows it, under the agent
    [created] = TicketEvent.objects.filter(ticket=ticket, kind="task")
    assert (created.field, created.actor_id, recorded(created)["title"]) == (
        "created", desk.agent.pk, "Check the serial number")  # fmt: skip
    # and the colleague, who cannot read the ticket, sees the task in their list and completes it
    outsider = api(desk.outsider)
    assert outsider.get(f"/tickets/{ticket.pk}").status_code == 404
    mine = outsider.get("/tasks", {"mine": "true"}).json()["items"]
    assert [t["id"] for t in mine] == [task["id"]]
    done = outsider.post(f"/tasks/{task['id']}/complete", {})
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["completed_by_id"]) == ("done", desk.outsider.pk)
    completed = TicketEvent.objects.get(ticket=ticket, kind="task", field="completed")
    assert (completed.actor_kind, completed.actor_id, completed.cause) == ("agent", desk.outsider.pk,
                                                                          f"task:{task['id']}")  # fmt: skip
    # and its pending reminders are gone
    assert not TaskReminder.objects.filter(task_id=task["id"], sent_at__isnull=True).exists()
    # but the colleague may not rewrite it, nor add tasks to a ticket they cannot read
    assert (
        outsider.patch(f"/tasks/{task['id']}", {"title": "x", "version": task["version"]}).status_code == 403
    )
    assert outsider.post(f"/tickets/{ticket.pk}/tasks",
                         {"title": "t", "assignee_id": desk.outsider.pk}).status_code == 404  # fmt: skip
    # and reopening it is an event too
    assert api(desk.agent).post(f"/tasks/{task['id']}/reopen", {}).json()["status"] == "open"
    assert TicketEvent.objects.filter(ticket=ticket, kind="task", field="reopened").count() == 1


def test_light_agents_add_tasks_customers_and_strangers_see_none(desk: Any, api: Any, ticket: Any) -> None:
    r = api(desk.light).post(f"/tickets/{ticket.pk}/tasks", {"title": "Ask the warehouse",
                                                             "assignee_id": desk.agent.pk})  # fmt: skip
    assert r.status_code == 201, r.content
    assert api(desk.outsider).get(f"/tasks/{r.json()['id']}").status_code == 404
    assert api(None).get("/tasks").status_code == 401


def test_the_overdue_list_of_an_agent_holds_their_open_tasks_past_due_oldest_first(
    desk: Any, api: Any, ticket: Any
) -> None:
    client = api(desk.agent)
    made = {}
    for title, due in (("late", NOW - timedelta(hours=2)), ("later", NOW - timedelta(days=1)),
                       ("soon", NOW + timedelta(hours=2)), ("none", None)):  # fmt: skip
        body = {"title": title, "assignee_id": desk.agent.pk, "due_at": iso(due) if due else None}
        made[title] = client.post(f"/tickets/{ticket.pk}/tasks", body).json()["id"]
    client.post(f"/tasks/{made['late']}/complete", {})
    client.post(f"/tickets/{ticket.pk}/tasks", {"title": "theirs", "assignee_id": desk.admin.pk,
                                                "due_at": iso(NOW - timedelta(days=3))})  # fmt: skip
    page = client.get("/tasks", {"assignee_id": desk.agent.pk, "overdue": "true"}).json()
    assert [(t["title"], t["overdue"]) for t in page["items"]] == [("later", True)]
    everyone = client.get("/tasks", {"overdue": "true"}).json()["items"]
    assert [t["title"] for t in everyone] == ["theirs", "later"]


def test_bad_input_is_refused_with_the_field_and_nothing_is_written(desk: Any, api: Any, ticket: Any) -> None:
    client = api(desk.agent)
    cases = [
        ({"title": "t", "assignee_id": desk.agent.pk, "reminders": ["1h"]}, "reminders"),
        ({"title": "t", "assignee_id": desk.agent.pk, "due_at": iso(NOW), "reminders": ["1h", "soon"]},
         "reminders[1]"),
        ({"title": "t", "assignee_id": 999_999}, "assignee_id"),
        ({"title": "   ", "assignee_id": desk.agent.pk}, "title"),
        ({"title": "t", "assignee_id": desk.agent.pk, "due_at": iso(NOW), "reminders": ["-1h"]},
         "reminders[0]"),
    ]  # fmt: skip
    for body, field in cases:
        r = client.post(f"/tickets/{ticket.pk}/tasks", body)
        assert (r.status_code, r.json()["error"]["field"]) == (422, field), (body, r.content)
    assert not Task.objects.exists()
    assert not TicketEvent.objects.filter(kind="task").exists()


def test_a_stale_version_is_a_conflict(desk: Any, api: Any, ticket: Any) -> None:
    client = api(desk.agent)
    task = client.post(f"/tickets/{ticket.pk}/tasks", {"title": "t", "assignee_id": desk.agent.pk}).json()
    assert client.patch(f"/tasks/{task['id']}", {"title": "u", "version": 1}).json()["version"] == 2
    r = client.patch(f"/tasks/{task['id']}", {"title": "v", "version": 1})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "stale_version")
    updated = TicketEvent.objects.get(kind="task", field="updated")
    assert (updated.old_value, updated.new_value) == ({"title": "t"}, {"task": task["id"], "title": "u"})


def test_reminders_follow_the_due_date_and_are_sent_once(desk: Any, api: Any, ticket: Any) -> None:
    client = api(desk.agent)
    due = NOW + timedelta(days=2)
    body = {
        "title": "Call back",
        "assignee_id": desk.outsider.pk,
        "due_at": iso(due),
        "reminders": ["1d", "0m"],
    }
    task = client.post(f"/tickets/{ticket.pk}/tasks", body).json()
    # when the due date moves a day later, the reminders move with it
    later = due + timedelta(days=1)
    assert client.patch(f"/tasks/{task['id']}", {"due_at": iso(later), "version": 1}).status_code == 200
    pending = sorted(TaskReminder.objects.filter(sent_at__isnull=True).values_list("remind_at", flat=True))
    assert pending == [later - timedelta(days=1), later]
    # nothing is due yet
    assert reminders.reminders_send_due(now=later - timedelta(days=1, seconds=1)) == []
    # a day before: one reminder, to the assignee; sending again sends nothing more
    assert reminders.reminders_send_due(now=later - timedelta(days=1)) == ["sent"]
    assert reminders.reminders_send_due(now=later - timedelta(hours=1)) == []
    [mail] = OutboxMessage.objects.filter(payload__task=task["id"])
    assert mail.payload["to"] == [desk.outsider.email]
    assert mail.payload["subject"].startswith(f"[#{ticket.number}] Task is due ")
    # once completed, the last reminder is not sent
    client.post(f"/tasks/{task['id']}/complete", {})
    assert reminders.reminders_send_due(now=later + timedelta(hours=1)) == []
    assert OutboxMessage.objects.filter(payload__task=task["id"]).count() == 1


def test_a_reminder_already_past_when_armed_is_not_sent(desk: Any, api: Any, ticket: Any) -> None:
    client = api(desk.agent)
    client.post(f"/tickets/{ticket.pk}/tasks", {"title": "Soon", "assignee_id": desk.agent.pk,
                                                "due_at": iso(NOW + timedelta(minutes=30)),
                                                "reminders": ["1h", "0m"]})  # fmt: skip
    assert list(TaskReminder.objects.values_list("offset", flat=True)) == [0]


def test_a_task_of_a_closed_ticket_can_still_be_completed(desk: Any, api: Any, ticket: Any) -> None:
    client = api(desk.agent)
    task = client.post(
        f"/tickets/{ticket.pk}/tasks", {"title": "File it", "assignee_id": desk.agent.pk}
    ).json()
    close = Mutation(actor=Actor.system(), via=Via.SYSTEM, fields={"status": "closed"})
    pipeline.ticket_apply(ticket_id=ticket.pk, mutation=close, now=NOW)
    assert client.post(f"/tasks/{task['id']}/complete", {}).status_code == 200
