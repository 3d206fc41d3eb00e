"""The tasks panel: the ticket's tasks (overdue ones highlighted), a new task with an assignee
among the people who may see the ticket, a due time in the agent's time zone and a reminder;
complete and reopen, with a second completion told who got there first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workflow_setup import customer_ticket

HX = {"HX-Request": "true"}


@pytest.fixture
def ticket(desk: Any, now: datetime) -> Any:
    return customer_ticket(desk, now)


def text(response: Any) -> str:
    return response.content.decode().replace("\xa0", " ")


def make_task(desk: Any, ticket: Any, now: datetime, title: str = "Call the warehouse", **kw: Any) -> Any:
    from sportello.ticket_tasks.services import task_create

    return task_create(
        actor=desk.agent, ticket_id=ticket.pk, title=title, assignee_id=kw.pop("assignee", desk.agent).pk,
        now=now, **kw,
    )  # fmt: skip


def test_an_agent_creates_a_task_with_assignee_due_time_and_reminder(
    desk: Any, browser: Any, ticket: Any
) -> None:
    from sportello.ticket_tasks.models import Task
    from sportello.tickets.models import TicketEvent

    # given Bruno works in Rome's time zone
    desk.agent.time_zone = "Europe/Rome"
    desk.agent.save(update_fields=["time_zone"])
    client = browser(desk.agent)
    # the assignees offered: who may see the ticket (admins and Books), not Electronics
    page = text(client.get(f"/tickets/{ticket.pk}/"))
    assert f'<option value="{desk.light.pk}">Lia Light</option>' in page
    assert f'<option value="{desk.admin.pk}">Ada Admin</option>' in page
    assert "Eva Electronics" not in page
    # when he adds a task for Lia due at 15:00 his time, reminded an hour before
    r = client.post(
        f"/tickets/{ticket.pk}/tasks/",
        {
            "title": "Check the stock",
            "assignee": desk.light.pk,
            "due_at": "2026-11-03T15:00",
            "reminder": "1h",
        },
        headers=HX,
    )
    # then it is stored as he meant it, recorded on the ticket from the web, and listed
    assert r.status_code == 200
    task = Task.objects.get(ticket=ticket)
    assert (task.title, task.assignee_id, task.due_at, task.reminders) == (
        "Check the stock", desk.light.pk, datetime(2026, 11, 3, 14, 0, tzinfo=UTC), [3600]
    )  # fmt: skip
    event = TicketEvent.objects.get(ticket=ticket, kind="task", field="created")
    assert (event.via, event.actor_id) == ("web", desk.agent.pk)
    html = text(r)
    assert "<bdi>Check the stock</bdi>" in html
    assert "reminder 1 hour before" in html
    assert "Tue 3 Nov 15:00" in html


def test_a_task_without_a_title_is_refused_inline(desk: Any, browser: Any, ticket: Any) -> None:
    from sportello.ticket_tasks.models import Task

    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/tasks/", {"title": "", "assignee": desk.agent.pk, "reminder": "1h"}, headers=HX
    )
    assert r.status_code == 422
    assert r.headers["HX-Retarget"] == "#tasks-panel"
    assert "This field is required." in text(r)
    assert "A reminder needs a due date." in text(r)
    assert '<details class="task-new" open>' in text(r)
    assert not Task.objects.exists()


def test_overdue_tasks_are_highlighted_and_done_ones_struck(
    desk: Any, browser: Any, ticket: Any, now: datetime
) -> None:
    make_task(desk, ticket, now, "Late one", due_at=now)
    make_task(desk, ticket, now, "Later one", due_at=now + timedelta(days=2))
    html = text(browser(desk.agent).get(f"/tickets/{ticket.pk}/"))
    assert html.count("task task-overdue") == 1
    assert '<span class="badge task-badge-overdue">Overdue</span>' in html
    assert 'Tasks <span class="count">2</span>' in html


def test_complete_and_reopen(desk: Any, browser: Any, ticket: Any, now: datetime) -> None:
    from sportello.tickets.models import TicketEvent

    task = make_task(desk, ticket, now)
    client = browser(desk.agent)
    r = client.post(f"/tickets/{ticket.pk}/tasks/{task.pk}/complete/", headers=HX)
    assert r.status_code == 200
    task.refresh_from_db()
    assert (task.status, task.completed_by_id) == ("done", desk.agent.pk)
    assert "task task-done" in text(r)
    assert "Reopen" in text(r)
    r = client.post(f"/tickets/{ticket.pk}/tasks/{task.pk}/reopen/", headers=HX)
    assert r.status_code == 200
    task.refresh_from_db()
    assert task.status == "open"
    fields = list(
        TicketEvent.objects.filter(ticket=ticket, kind="task").order_by("id").values_list("field", "via")
    )
    assert fields == [("created", "api"), ("completed", "web"), ("reopened", "web")]


def test_completing_a_task_already_done_says_who_did_and_records_nothing(
    desk: Any, browser: Any, ticket: Any, now: datetime
) -> None:
    from sportello.ticket_tasks.services import task_complete
    from sportello.tickets.models import TicketEvent

    task = make_task(desk, ticket, now)
    task_complete(actor=desk.admin, task_id=task.pk, now=now)
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/tasks/{task.pk}/complete/", headers=HX)
    assert r.status_code == 409
    assert "Ada Admin had already completed “Call the warehouse”." in text(r)
    assert TicketEvent.objects.filter(ticket=ticket, kind="task", field="completed").count() == 1


def test_light_agents_add_and_complete_tasks(desk: Any, browser: Any, ticket: Any) -> None:
    from sportello.ticket_tasks.models import Task

    client = browser(desk.light)
    r = client.post(
        f"/tickets/{ticket.pk}/tasks/", {"title": "Ask Bruno", "assignee": desk.light.pk}, headers=HX
    )
    assert r.status_code == 200
    task = Task.objects.get(ticket=ticket)
    assert client.post(f"/tickets/{ticket.pk}/tasks/{task.pk}/complete/", headers=HX).status_code == 200


def test_outsiders_and_anonymous_visitors_cannot_touch_tasks(
    desk: Any, browser: Any, ticket: Any, now: datetime, client: Any
) -> None:
    from sportello.ticket_tasks.models import Task

    task = make_task(desk, ticket, now)
    outsider = browser(desk.outsider)
    assert (
        outsider.post(
            f"/tickets/{ticket.pk}/tasks/", {"title": "x", "assignee": desk.outsider.pk}
        ).status_code
        == 404
    )
    assert outsider.post(f"/tickets/{ticket.pk}/tasks/{task.pk}/complete/").status_code == 404
    r = client.post(f"/tickets/{ticket.pk}/tasks/{task.pk}/complete/")
    assert r.status_code == 302
    assert "/login/" in r.headers["Location"]
    task.refresh_from_db()
    assert task.status == "open"
    assert Task.objects.count() == 1


def test_a_task_of_another_ticket_is_a_404(desk: Any, browser: Any, ticket: Any, now: datetime) -> None:
    other = customer_ticket(desk, now, subject="Other")
    task = make_task(desk, other, now)
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/tasks/{task.pk}/complete/", headers=HX)
    assert r.status_code == 404
