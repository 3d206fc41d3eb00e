"""`/api/v1/tickets/{id}/tasks` and `/api/v1/tasks`: tasks on tickets, and an agent's list
(open, overdue) across tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.models import User
from sportello.core import clock
from sportello.core.errors import PermissionDenied
from sportello.core.instants import Instant
from sportello.core.paging import SortKey, page_limit, paginate
from sportello.tickets.selectors import ticket_get_for

from . import selectors, services
from .models import Task, TaskStatus

router = Router(tags=["tasks"])


class TaskIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=10_000)
    assignee_id: int
    description: str = Field(default="", max_length=20_000)
    due_at: Instant | None = None
    reminders: list[str] = Field(default_factory=list, description='before the due instant: "1d", "2h", "0m"')


class TaskPatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=10_000)
    assignee_id: int | None = None
    description: str | None = Field(default=None, max_length=20_000)
    due_at: Instant | None = None
    reminders: list[str] | None = None
    version: int = Field(description="the version you loaded: 409 `stale_version` if it changed since")


class TaskOut(Schema):
    id: int
    ticket_id: int
    ticket_number: int
    ticket_subject: str
    title: str
    description: str
    assignee_id: int
    due_at: datetime | None
    reminders: list[str]
    status: str
    overdue: bool
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    completed_by_id: int | None
    version: int


class TaskPage(Schema):
    items: list[TaskOut]
    next_cursor: str | None


class TaskFilters(Schema):
    assignee_id: int | None = Field(default=None, description="whose tasks")
    mine: bool = Field(default=False, description="the caller's own tasks")
    status: TaskStatus | None = None
    overdue: bool = Field(default=False, description="open tasks past their due instant, oldest due first")
    cursor: str | None = None
    limit: int | None = None


def task_out(t: Task, *, now: datetime) -> dict[str, Any]:
    return {
        "id": t.pk,
        "ticket_id": t.ticket_id,
        "ticket_number": t.ticket.number,
        "ticket_subject": t.ticket.subject,
        "title": t.title,
        "description": t.description,
        "assignee_id": t.assignee_id,
        "due_at": t.due_at,
        "reminders": services.reminders_out(t.reminders),
        "status": t.status,
        "overdue": t.status == TaskStatus.OPEN and t.due_at is not None and t.due_at < now,
        "created_by_id": t.created_by_id,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "completed_at": t.completed_at,
        "completed_by_id": t.completed_by_id,
        "version": t.version,
    }


def _agent(request: ApiRequest) -> User:
    user = request.auth
    if not isinstance(user, User):
        raise PermissionDenied("only agents have tasks")
    return user


@router.get("/tickets/{ticket_id}/tasks", response=TaskPage, summary="A ticket's tasks")
def ticket_tasks(
    request: ApiRequest, ticket_id: int, cursor: str | None = None, limit: int | None = None
) -> Any:
    user = _agent(request)
    ticket_get_for(principal=user, ticket_id=ticket_id)
    qs = selectors.task_list(principal=user, ticket_id=ticket_id)
    rows, nxt = paginate(qs, keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit))
    now = clock.now()
    return {"items": [task_out(t, now=now) for t in rows], "next_cursor": nxt}


@router.post("/tickets/{ticket_id}/tasks", response={201: TaskOut}, summary="Add a task to a ticket")
def create_task(request: ApiRequest, ticket_id: int, payload: TaskIn) -> Status:
    now = clock.now()
    task = services.task_create(
        actor=_agent(request),
        ticket_id=ticket_id,
        title=payload.title,
        assignee_id=payload.assignee_id,
        description=payload.description,
        due_at=payload.due_at,
        reminders=payload.reminders,
        now=now,
    )
    task = selectors.task_get(principal=request.auth, task_id=task.pk)
    return Status(201, task_out(task, now=now))


@router.get("/tasks", response=TaskPage, summary="Tasks across tickets: an agent's list, the overdue ones")
def list_tasks(request: ApiRequest, filters: Query[TaskFilters]) -> Any:
    user = _agent(request)
    now = clock.now()
    assignee = user.pk if filters.mine else filters.assignee_id
    qs = selectors.task_list(
        principal=user,
        assignee_id=assignee,
        status=filters.status,
        overdue_at=now if filters.overdue else None,
    )
    # Overdue tasks have a due instant: the most overdue first. Otherwise the newest first.
    keys = (
        [SortKey("due_at", kind="datetime"), SortKey("id")]
        if filters.overdue
        else [SortKey("id", descending=True)]
    )
    rows, nxt = paginate(qs, keys=keys, cursor=filters.cursor, limit=page_limit(filters.limit))
    return {"items": [task_out(t, now=now) for t in rows], "next_cursor": nxt}


@router.get("/tasks/{task_id}", response=TaskOut, summary="One task")
def get_task(request: ApiRequest, task_id: int) -> Any:
    return task_out(selectors.task_get(principal=_agent(request), task_id=task_id), now=clock.now())


@router.patch("/tasks/{task_id}", response=TaskOut, summary="Change a task")
def patch_task(request: ApiRequest, task_id: int, payload: TaskPatchIn) -> Any:
    given = payload.model_dump(exclude_unset=True)
    now = clock.now()
    services.task_update(
        actor=_agent(request),
        task_id=task_id,
        expected_version=given.pop("version"),
        now=now,
        **{k: given[k] for k in ("title", "description", "assignee_id", "due_at", "reminders") if k in given},
    )
    return task_out(selectors.task_get(principal=request.auth, task_id=task_id), now=now)


@router.post("/tasks/{task_id}/complete", response=TaskOut, summary="Complete a task")
def complete_task(request: ApiRequest, task_id: int) -> Any:
    now = clock.now()
    services.task_complete(actor=_agent(request), task_id=task_id, now=now)
    return task_out(selectors.task_get(principal=request.auth, task_id=task_id), now=now)


@router.post("/tasks/{task_id}/reopen", response=TaskOut, summary="Reopen a completed task")
def reopen_task(request: ApiRequest, task_id: int) -> Any:
    now = clock.now()
    services.task_reopen(actor=_agent(request), task_id=task_id, now=now)
    return task_out(selectors.task_get(principal=request.auth, task_id=task_id), now=now)
